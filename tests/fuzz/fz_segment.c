/*
 * fz_segment — fuzz target for lib/segment, which parses the --where of
 * `msg list create` (an administrator's text, sent over the bus) and then
 * evaluates it on every contact of the book.  The input up to its first
 * NUL is the --where.  Checked against segment.h: a parse either fails
 * with a one-line reason or gives 1 to SEGMENT_CONDS_MAX conditions, each
 * {field, op, value} with op one of "=", "!=", "~", field non-empty and
 * without the separators; matching any contact (with and without tags
 * and fields) never crashes and gives 0 or 1; a condition and its "!="
 * negation never both hold for a contact (except the '~' kind, which has
 * no negation).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "segment.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, err[256];
	json_t *f, *c, *cs[3];
	size_t i;
	int k, m;

	if ((text = malloc(size + 1)) == NULL)
		abort();
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	memset(err, 'x', sizeof(err));
	f = segment_parse(text, err, sizeof(err));
	if (f == NULL) {
		if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0' ||
		    strchr(err, '\n') != NULL)
			abort();
		free(text);
		return 0;
	}
	if (json_array_size(f) < 1 || json_array_size(f) > SEGMENT_CONDS_MAX)
		abort();
	json_array_foreach(f, i, c) {
		const char *fl = json_string_value(json_object_get(c, "field"));
		const char *op = json_string_value(json_object_get(c, "op"));
		const char *v = json_string_value(json_object_get(c, "value"));

		if (fl == NULL || op == NULL || v == NULL || *fl == '\0' ||
		    strpbrk(fl, ",=!~") != NULL || (strcmp(op, "=") &&
		    strcmp(op, "!=") && strcmp(op, "~")) || strchr(v, ','))
			abort();
	}
	cs[0] = json_pack("{s:s}", "phone", "+15550000001");
	cs[1] = json_pack("{s:s,s:s,s:s,s:[s,s],s:{s:s,s:s}}", "first_name",
	    "Ada", "last_name", "King", "phone", "+15550000002", "tags", "vip",
	    "gold", "fields", "city", "Lyon", "x", "");
	cs[2] = json_pack("{s:s,s:[],s:{}}", "first_name", text, "tags",
	    "fields");
	for (k = 0; k < 3; k++) {
		m = segment_match(f, cs[k]);
		if (m != 0 && m != 1)
			abort();
		/* one condition against its negation */
		if (json_array_size(f) == 1 && strcmp(json_string_value(
		    json_object_get(json_array_get(f, 0), "op")), "=") == 0) {
			json_t *neg = json_deep_copy(f);

			json_object_set_new(json_array_get(neg, 0), "op",
			    json_string("!="));
			if (segment_match(neg, cs[k]) == m)
				abort();
			json_decref(neg);
		}
		json_decref(cs[k]);
	}
	json_decref(f);
	free(text);
	return 0;
}
