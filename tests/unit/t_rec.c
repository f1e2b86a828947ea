/*
 * t_rec — the record codec behind every msg pipe: a record read as JSON and
 * packed again is the same record; times read as RFC 3339 UTC with
 * milliseconds and parse back (offsets too), nonsense dates are refused; an
 * event line starts with "seq" and keeps the record's order; customer text
 * keeps its UTF-8 as it is.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rec.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

static void
is_str(const char *got, const char *want, const char *desc)
{
	int c = got != NULL && strcmp(got, want) == 0;

	ok(c, desc);
	if (!c)
		printf("#   got:  %s\n#   want: %s\n", got ? got : "(null)",
		    want);
}

static void
pk_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* Unpack sb into up (whole buffer, one object); 0 on success. */
static int
unpack(const msgpack_sbuffer *sb, msgpack_unpacked *up)
{
	size_t off = 0;

	return msgpack_unpack_next(up, sb->data, sb->size, &off) ==
	    MSGPACK_UNPACK_SUCCESS && off == sb->size ? 0 : -1;
}

/* JSON text -> json_t -> msgpack -> json_t -> compact text. */
static char *
json_round(const char *text)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	json_t *j, *back = NULL;
	char *out = NULL;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_unpacked_init(&up);
	if ((j = json_loads(text, JSON_DECODE_ANY, NULL)) != NULL &&
	    rec_pack_json(&pk, j) == 0 && unpack(&sb, &up) == 0 &&
	    (back = rec_to_json(&up.data)) != NULL)
		out = json_dumps(back, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	json_decref(back);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	return out;
}

static void
t_roundtrip(void)
{
	const char *rec = "{\"type\":\"message\",\"dir\":\"in\","
	    "\"conv\":\"c_01J0000000000000000000000A\",\"n\":-42,"
	    "\"big\":9007199254740993,\"min\":-9223372036854775808,"
	    "\"f\":0.5,\"yes\":true,\"no\":false,\"none\":null,"
	    "\"media\":[{\"url\":\"https://x/y\",\"type\":\"image/png\"}],"
	    "\"nested\":{\"z\":1,\"a\":[1,[2,[3]]]},"
	    "\"text\":\"O\xc3\xb9 est ma commande \xf0\x9f\x93\xa6\","
	    "\"esc\":\"tab\\tquote\\\"nl\\n\"}";
	msgpack_sbuffer sb, sb2;
	msgpack_packer pk, pk2;
	msgpack_unpacked up;
	json_t *j;
	char *s;

	s = json_round(rec);
	is_str(s, rec, "JSON -> msgpack -> JSON keeps every value, type "
	    "and key order");
	free(s);
	s = json_round("[]");
	is_str(s, "[]", "an empty array survives");
	free(s);
	s = json_round("{\"\":\"\",\"a\":{\"\":[\"\"]}}");
	is_str(s, "{\"\":\"\",\"a\":{\"\":[\"\"]}}",
	    "empty keys and strings survive (msgpack-c unpacks them with "
	    "no pointer)");
	free(s);

	/* msgpack -> JSON -> msgpack gives the same bytes */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 6);
	pk_str(&pk, "ts"); msgpack_pack_int64(&pk, 1795255200123LL);
	pk_str(&pk, "text"); pk_str(&pk, "\xe2\x82\xac 5");
	pk_str(&pk, "neg"); msgpack_pack_int64(&pk, -300);
	pk_str(&pk, "pi"); msgpack_pack_double(&pk, 3.25);
	pk_str(&pk, "a"); msgpack_pack_array(&pk, 2);
	msgpack_pack_nil(&pk); msgpack_pack_true(&pk);
	pk_str(&pk, "m"); msgpack_pack_map(&pk, 0);
	msgpack_unpacked_init(&up);
	unpack(&sb, &up);
	j = rec_to_json(&up.data);
	msgpack_sbuffer_init(&sb2);
	msgpack_packer_init(&pk2, &sb2, msgpack_sbuffer_write);
	ok(j != NULL && rec_pack_json(&pk2, j) == 0 && sb2.size == sb.size &&
	    memcmp(sb.data, sb2.data, sb.size) == 0,
	    "msgpack -> JSON -> msgpack is byte for byte the same");
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	is_str(s, "{\"ts\":1795255200123,\"text\":\"\xe2\x82\xac 5\","
	    "\"neg\":-300,\"pi\":3.25,\"a\":[null,true],\"m\":{}}",
	    "rec_to_json leaves times as integers");
	free(s);
	json_decref(j);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&sb2);
}

static void
t_odd_values(void)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	json_t *j;
	char *s;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 6);
	pk_str(&pk, "bin");
	msgpack_pack_bin(&pk, 5);
	msgpack_pack_bin_body(&pk, "hello", 5);
	msgpack_pack_int(&pk, 7);
	pk_str(&pk, "seven");
	msgpack_pack_true(&pk);
	pk_str(&pk, "yes");
	pk_str(&pk, "bad");
	msgpack_pack_str(&pk, 4);
	msgpack_pack_str_body(&pk, "a\xff\xc3z", 4);
	pk_str(&pk, "nan");
	msgpack_pack_double(&pk, NAN);
	pk_str(&pk, "u64");
	msgpack_pack_uint64(&pk, UINT64_MAX);
	msgpack_unpacked_init(&up);
	unpack(&sb, &up);
	j = rec_to_json(&up.data);
	ok(j != NULL, "a record with odd values still converts");
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	is_str(s, "{\"bin\":\"aGVsbG8=\",\"7\":\"seven\",\"true\":\"yes\","
	    "\"bad\":\"a\xef\xbf\xbd\xef\xbf\xbdz\",\"nan\":null,"
	    "\"u64\":1.8446744073709552e19}",
	    "bin is base64, other keys are stringified, bad UTF-8 becomes "
	    "U+FFFD, NaN null");
	free(s);
	json_decref(j);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	ok(rec_to_json(NULL) == NULL, "rec_to_json(NULL) is NULL");
	ok(rec_pack_json(&pk, NULL) == -1, "rec_pack_json(NULL) is -1");
}

static void
t_ts(void)
{
	static const struct {
		const char *s;
		int64_t ms;
		const char *desc;
	} good[] = {
		{ "2026-11-21T10:00:00.123Z", 1795255200123LL, "UTC with ms" },
		{ "2026-11-21T10:00:00Z", 1795255200000LL, "no fraction" },
		{ "2026-11-21T10:00:00.1Z", 1795255200100LL, "one digit" },
		{ "2026-11-21T10:00:00.123999Z", 1795255200123LL,
		    "microseconds truncate to ms" },
		{ "2026-11-21T12:00:00.123+02:00", 1795255200123LL,
		    "a +hh:mm offset" },
		{ "2026-11-21T04:30:00.123-05:30", 1795255200123LL,
		    "a -hh:mm offset" },
		{ "2026-11-21t10:00:00.123z", 1795255200123LL, "lower case t z" },
		{ "2026-11-21 10:00:00.123Z", 1795255200123LL,
		    "a space for T" },
		{ "2024-02-29T23:59:59Z", 1709251199000LL, "a leap day" },
		{ "1970-01-01T00:00:00Z", 0, "the epoch" },
		{ "1900-01-01T00:00:00Z", -2208988800000LL, "before 1970" },
	};
	static const char *bad[] = {
		"", "2026-11-21", "2026-11-21T10:00:00", "2026-13-01T00:00:00Z",
		"2026-00-10T00:00:00Z", "2025-02-29T00:00:00Z",
		"2026-04-31T00:00:00Z", "2026-11-21T24:00:00Z",
		"2026-11-21T10:60:00Z", "2026-11-21T10:00:00.Z",
		"2026-11-21T10:00:00+2:00", "2026-11-21T10:00:00+02:60",
		"2026-11-21T10:00:00Zjunk", "26-11-21T10:00:00Z",
		"2026-11-21T10:00:00 Z", "1795255200123",
	};
	char buf[32], desc[128];
	int64_t ms;
	size_t i;
	int all;

	rec_ts_format(1795255200123LL, buf);
	is_str(buf, "2026-11-21T10:00:00.123Z", "ms format as RFC 3339 UTC");
	rec_ts_format(0, buf);
	is_str(buf, "1970-01-01T00:00:00.000Z", "the epoch formats");
	rec_ts_format(-1, buf);
	is_str(buf, "1969-12-31T23:59:59.999Z", "1 ms before the epoch "
	    "formats (floor, not truncation)");
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = -42;
		snprintf(desc, sizeof(desc), "parse %s", good[i].desc);
		ok(rec_ts_parse(good[i].s, &ms) == 0 && ms == good[i].ms,
		    desc);
	}
	for (all = 1, i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (rec_ts_parse(bad[i], &ms) != -1) {
			printf("# accepted: \"%s\"\n", bad[i]);
			all = 0;
		}
	ok(all, "malformed times and impossible dates are refused");
	ok(rec_ts_parse(NULL, &ms) == -1, "NULL is refused");
	for (all = 1, ms = -86400000LL * 800; ms < 86400000LL * 40000;
	    ms += 86400000LL * 7 + 3600123) {
		int64_t back;

		rec_ts_format(ms, buf);
		if (rec_ts_parse(buf, &back) != 0 || back != ms) {
			printf("# %lld -> %s -> %lld\n", (long long)ms, buf,
			    (long long)back);
			all = 0;
			break;
		}
	}
	ok(all, "format then parse gives the same ms over 110 years");
}

static void
t_event_line(void)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	json_t *j;
	char *line;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 9);
	pk_str(&pk, "type"); pk_str(&pk, "message");
	pk_str(&pk, "dir"); pk_str(&pk, "in");
	pk_str(&pk, "seq"); msgpack_pack_int64(&pk, 999);
	pk_str(&pk, "text");
	pk_str(&pk, "Where is my order? O\xc3\xb9 \xf0\x9f\x93\xa6 \"q\"");
	pk_str(&pk, "ts"); msgpack_pack_int64(&pk, 1795255200123LL);
	pk_str(&pk, "segments"); msgpack_pack_int64(&pk, 2);
	pk_str(&pk, "waiting_since_ts"); msgpack_pack_nil(&pk);
	pk_str(&pk, "opened_ts"); msgpack_pack_int64(&pk, 0);
	pk_str(&pk, "x"); msgpack_pack_map(&pk, 2);
	pk_str(&pk, "ts"); pk_str(&pk, "already text");
	pk_str(&pk, "read_ts"); msgpack_pack_int64(&pk, 1795255200123LL);
	msgpack_unpacked_init(&up);
	unpack(&sb, &up);
	line = rec_event_line(1042, &up.data);
	is_str(line, "{\"seq\":1042,\"type\":\"message\",\"dir\":\"in\","
	    "\"text\":\"Where is my order? O\xc3\xb9 \xf0\x9f\x93\xa6 "
	    "\\\"q\\\"\",\"ts\":\"2026-11-21T10:00:00.123Z\",\"segments\":2,"
	    "\"waiting_since_ts\":null,"
	    "\"opened_ts\":\"1970-01-01T00:00:00.000Z\","
	    "\"x\":{\"ts\":\"already text\","
	    "\"read_ts\":\"2026-11-21T10:00:00.123Z\"}}",
	    "event line: seq first, record order kept, ts and *_ts as "
	    "RFC 3339, other ints and nil untouched");
	ok(line != NULL && strchr(line, '\n') == NULL, "the line has no "
	    "newline in it");
	ok(line != NULL && strstr(line, "\\u") == NULL &&
	    strstr(line, "O\xc3\xb9 \xf0\x9f\x93\xa6") != NULL,
	    "UTF-8 text is kept as UTF-8, not \\u-escaped");
	j = line ? json_loads(line, 0, NULL) : NULL;
	ok(j != NULL && json_integer_value(json_object_get(j, "seq")) == 1042,
	    "the event's seq wins over a stray seq in the record");
	ok(j != NULL && strcmp(json_string_value(json_object_get(j, "text")),
	    "Where is my order? O\xc3\xb9 \xf0\x9f\x93\xa6 \"q\"") == 0,
	    "jq-style readers get the text back exactly");
	json_decref(j);
	free(line);
	j = rec_record_json(&up.data);
	ok(j != NULL && json_is_string(json_object_get(j, "ts")) &&
	    json_integer_value(json_object_get(j, "seq")) == 999,
	    "rec_record_json converts times without adding a seq");
	json_decref(j);
	msgpack_unpacked_destroy(&up);

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_int(&pk, 1);
	msgpack_unpacked_init(&up);
	unpack(&sb, &up);
	ok(rec_event_line(1, &up.data) == NULL, "a record that is not a map "
	    "gives no line");
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
}

int
main(void)
{
	t_roundtrip();
	t_odd_values();
	t_ts();
	t_event_line();
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
