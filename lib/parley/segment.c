/*
 * segment — a contact list defined by a filter (`msg list create NAME
 * --where 'tag=vip,city=Lyon'`), parsed once when the list is created and
 * evaluated on each contact when the list is walked.  Pure logic over
 * JSON: campaignd and its unit test agree on what matches.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "valid.h"
#include "segment.h"

#define WHERE_MAX	SEGMENT_WHERE_MAX
#define CONDS_MAX	SEGMENT_CONDS_MAX


static const char *const own_fields[] = { "first_name", "last_name", "name",
    "phone", "email", "timezone", NULL };

/*
 * Parse a --where: conditions separated by ',', each FIELD=VALUE,
 * FIELD!=VALUE or FIELD~TEXT (contains); a VALUE ending in '*' matches as
 * a prefix; an empty VALUE with '=' means the field is empty or absent,
 * with '!=' that it is set.  FIELD is tag (the contact's tags), one of the
 * contact's own fields, or a custom field.  Comparisons ignore ASCII case.
 * A new array of {field, op, value}, or NULL with a reason.
 */
json_t *
segment_parse(const char *where, char *err, size_t errsz)
{
	json_t *a = json_array();
	char buf[WHERE_MAX + 1], *tok, *save, *op, why[256];
	const char *o;
	size_t i;

	if (where == NULL || *where == '\0') {
		snprintf(err, errsz, "--where needs at least one condition, "
		    "e.g. tag=vip,city=Lyon");
		goto bad;
	}
	if (strlen(where) > WHERE_MAX) {
		snprintf(err, errsz, "--where is longer than %d bytes",
		    WHERE_MAX);
		goto bad;
	}
	for (i = 0; where[i]; i++)
		if ((unsigned char)where[i] < 0x20 || where[i] == 0x7f) {
			snprintf(err, errsz, "--where must not hold control "
			    "characters");
			goto bad;
		}
	snprintf(buf, sizeof(buf), "%s", where);
	for (tok = strtok_r(buf, ",", &save); tok;
	    tok = strtok_r(NULL, ",", &save)) {
		char *f = tok, *v, *e;

		while (*f == ' ')
			f++;
		if ((op = strpbrk(f, "!=~")) == NULL || op == f) {
			snprintf(err, errsz, "--where: \"%.60s\" is not "
			    "FIELD=VALUE, FIELD!=VALUE or FIELD~TEXT", tok);
			goto bad;
		}
		if (op[0] == '!' && op[1] == '=') {
			o = "!=";
			v = op + 2;
		} else if (op[0] == '=') {
			o = "=";
			v = op + 1;
		} else if (op[0] == '~') {
			o = "~";
			v = op + 1;
		} else {
			snprintf(err, errsz, "--where: \"%.60s\" is not "
			    "FIELD=VALUE, FIELD!=VALUE or FIELD~TEXT", tok);
			goto bad;
		}
		*op = '\0';
		for (e = op; e > f && e[-1] == ' '; e--)
			e[-1] = '\0';
		while (*v == ' ')
			v++;
		for (e = v + strlen(v); e > v && e[-1] == ' '; e--)
			e[-1] = '\0';
		for (e = f; *e; e++)
			*e = (char)tolower((unsigned char)*e);
		if (strcmp(f, "tag") != 0 && strcmp(f, "tags") != 0) {
			for (i = 0; own_fields[i]; i++)
				if (strcmp(f, own_fields[i]) == 0)
					break;
			if (own_fields[i] == NULL && !valid_name(f,
			    "--where field", why, sizeof(why))) {
				snprintf(err, errsz, "%s", why);
				goto bad;
			}
		} else
			f = "tag";
		if (strcmp(o, "~") == 0 && *v == '\0') {
			snprintf(err, errsz, "--where: %s~ needs a text to look "
			    "for", f);
			goto bad;
		}
		if (json_array_size(a) >= CONDS_MAX) {
			snprintf(err, errsz, "--where has more than %d "
			    "conditions", CONDS_MAX);
			goto bad;
		}
		json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "field",
		    f, "op", o, "value", v));
	}
	if (json_array_size(a) == 0) {
		snprintf(err, errsz, "--where needs at least one condition, "
		    "e.g. tag=vip,city=Lyon");
		goto bad;
	}
	return a;
bad:
	json_decref(a);
	return NULL;
}

/* Does s match value under op ("=" with a '*' suffix: prefix)? */
static int
str_match(const char *s, const char *op, const char *value)
{
	size_t vl = strlen(value);

	if (s == NULL)
		s = "";
	if (strcmp(op, "~") == 0)
		return strcasestr(s, value) != NULL;
	if (vl > 0 && value[vl - 1] == '*')
		return strncasecmp(s, value, vl - 1) == 0;
	return strcasecmp(s, value) == 0;
}

/*
 * 1 when contact (names split, see contact_names) passes every condition
 * of filter (an array from list_filter_parse), else 0.
 */
int
segment_match(const json_t *filter, const json_t *contact)
{
	json_t *c, *tags, *t;
	const char *f, *op, *v, *s;
	size_t i, j;
	int hit;

	json_array_foreach(filter, i, c) {
		f = json_string_value(json_object_get(c, "field"));
		op = json_string_value(json_object_get(c, "op"));
		v = json_string_value(json_object_get(c, "value"));
		if (f == NULL || op == NULL || v == NULL)
			return 0;
		if (strcmp(f, "tag") == 0) {
			tags = json_object_get(contact, "tags");
			hit = 0;
			json_array_foreach(tags, j, t)
				if (str_match(json_string_value(t),
				    strcmp(op, "!=") ? op : "=", v)) {
					hit = 1;
					break;
				}
			if (*v == '\0')
				hit = json_array_size(tags) == 0;
			if (strcmp(op, "!=") == 0 ? hit : !hit)
				return 0;
			continue;
		}
		if (json_is_string(json_object_get(contact, f)) && strcmp(f,
		    "fields") != 0 && strcmp(f, "tags") != 0)
			s = json_string_value(json_object_get(contact, f));
		else
			s = json_string_value(json_object_get(
			    json_object_get(contact, "fields"), f));
		if (*v == '\0' && strcmp(op, "~") != 0)
			hit = s == NULL || *s == '\0';
		else
			hit = s != NULL && str_match(s, strcmp(op, "!=") ? op :
			    "=", v);
		if (strcmp(op, "!=") == 0 ? hit : !hit)
			return 0;
	}
	return 1;
}

