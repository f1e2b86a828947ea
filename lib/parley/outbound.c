/*
 * outbound — placeholders, template parameters and sending hours for one
 * contact of an outbound campaign (see outbound.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placeholder.h"
#include "schedule.h"
#include "outbound.h"

static const char *const own[] = { "first_name", "last_name", "name",
    "phone", "email", "timezone", NULL };

const char *
outbound_value(const json_t *contact, const char *name)
{
	const char *v = NULL;
	json_t *f;
	size_t i;

	for (i = 0; own[i]; i++)
		if (strcmp(own[i], name) == 0) {
			v = json_string_value(json_object_get(contact, name));
			return v && *v ? v : NULL;
		}
	f = json_object_get(json_object_get(contact, "fields"), name);
	v = json_string_value(f);
	return v && *v ? v : NULL;
}

static const char *
lookup(const char *name, void *arg)
{
	return outbound_value(arg, name);
}

static int
listed(const json_t *a, const char *s)
{
	json_t *e;
	size_t i;

	json_array_foreach(a, i, e)
		if (strcmp(json_string_value(e), s) == 0)
			return 1;
	return 0;
}

size_t
outbound_missing(const char *text, const json_t *contact, json_t *missing)
{
	const char *p, *q;
	char name[128];
	size_t n, count = 0;

	for (p = text; p && *p; p++) {
		if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' &&
		    p[1] == '}')) {
			p++;
			continue;
		}
		if (*p != '{')
			continue;
		for (q = p + 1; *q && *q != '}' && *q != '{' && *q != '\n';
		    q++)
			;
		if (*q != '}')
			continue;
		n = (size_t)(q - p - 1);
		if (memchr(p + 1, '|', n) == NULL && n > 0 &&
		    n < sizeof(name)) {
			memcpy(name, p + 1, n);
			name[n] = '\0';
			if (outbound_value(contact, name) == NULL) {
				count++;
				if (missing && !listed(missing, name))
					json_array_append_new(missing,
					    json_string(name));
			}
		}
		p = q;
	}
	return count;
}

char *
outbound_render(const char *text, const json_t *contact, char *err,
    size_t errsz)
{
	json_t *miss = json_array(), *e;
	size_t i, o;
	char *out;

	if (outbound_missing(text, contact, miss) > 0) {
		o = (size_t)snprintf(err, errsz, "no value for");
		json_array_foreach(miss, i, e) {
			if (o >= errsz)
				break;
			o += (size_t)snprintf(err + o, errsz - o, "%s {%s}",
			    i ? "," : "", json_string_value(e));
		}
		json_decref(miss);
		return NULL;
	}
	json_decref(miss);
	out = placeholder_expand(text, lookup, (void *)contact, 0, err,
	    errsz);
	return out;
}

int
outbound_params(const json_t *params, const json_t *contact,
    json_t **values, json_t *missing)
{
	json_t *e;
	const char *s, *bar, *v;
	char name[128];
	size_t i, n;
	int rc = 0;

	*values = json_array();
	json_array_foreach(params, i, e) {
		s = json_string_value(e);
		if (s == NULL)
			s = "";
		bar = strchr(s, '|');
		n = bar ? (size_t)(bar - s) : strlen(s);
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, s, n);
		name[n] = '\0';
		v = outbound_value(contact, name);
		if (v == NULL && bar)
			v = bar + 1;
		if (v == NULL) {
			rc = -1;
			if (missing && !listed(missing, name))
				json_array_append_new(missing,
				    json_string(name));
			v = "";
		}
		json_array_append_new(*values, json_string(v));
	}
	return rc;
}

int
outbound_hhmm(const char *s, int *min)
{
	int h, m;
	char end;

	if (s == NULL || strlen(s) != 5 || sscanf(s, "%2d:%2d%c", &h, &m,
	    &end) != 2 || s[2] != ':' || h < 0 || m < 0 || m > 59 ||
	    h > 24 || (h == 24 && m != 0))
		return -1;
	*min = h * 60 + m;
	return 0;
}

int64_t
outbound_next_open(const char *tz, int from, int to, int64_t now_ms)
{
	struct sched s;
	int d;

	memset(&s, 0, sizeof(s));
	if (from == to)
		return now_ms;		/* every hour of the day */
	for (d = 0; d < 7; d++) {
		if (from < to) {
			s.iv[d][0].start = from;
			s.iv[d][0].end = to;
			s.n[d] = 1;
		} else {
			s.iv[d][0].start = 0;
			s.iv[d][0].end = to;
			s.iv[d][1].start = from;
			s.iv[d][1].end = 1440;
			s.n[d] = to > 0 ? 2 : 1;
			if (to == 0)
				s.iv[d][0] = s.iv[d][1];
		}
	}
	return sched_next_open(&s, tz, NULL, 0, now_ms);
}
