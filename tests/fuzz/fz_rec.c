/*
 * fz_rec — fuzz target for lib/rec, the codec between the msgpack records
 * peers send and stores keep and the JSON Lines msg(1) reads and writes.
 * The same input is read three ways:
 *
 *   - as a msgpack value inside a record {"r": VALUE}, pre-scanned as every
 *     frame is (frame_prescan) and then unpacked: rec_to_json must convert
 *     it; that JSON packed again (rec_pack_json) and converted again is the
 *     same JSON; its text read back and written again is the same text; and
 *     rec_event_line gives one line of JSON whose first key is "seq" and
 *     whose "ts" and "*_ts" times parse back (rec_ts_parse) to the record's
 *     milliseconds;
 *   - as JSON text, as `msg` reads a record from a pipe: packed, it is one
 *     the bus accepts (frame_prescan) when it is a map within the nesting
 *     limit, and it unpacks and converts back to the same JSON;
 *   - as a time, rec_ts_parse against timegm(3) over the same fields, and
 *     the first eight bytes as milliseconds, formatted and parsed back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <msgpack.h>

#include "frame.h"
#include "rec.h"
#include "valid.h"

#define DUMP	(JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY | \
		 JSON_REAL_PRECISION(15))
#define TS_MIN	(-62167219200000LL)	/* 0000-01-01T00:00:00.000Z */
#define TS_MAX	(253402300799999LL)	/* 9999-12-31T23:59:59.999Z */

/* Nesting of non-empty containers, as frame_prescan counts it. */
static int
depth(const json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;
	int d = 0, e;

	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, v)
			if ((e = depth(v)) > d)
				d = e;
		return json_object_size(j) ? d + 1 : 0;
	}
	if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			if ((e = depth(v)) > d)
				d = e;
		return json_array_size(j) ? d + 1 : 0;
	}
	return 0;
}

/*
 * a and b the same, key order included.  Compared as text, not with
 * json_equal, which looks keys up as C strings and so never finds one
 * holding a NUL (msgpack keys may).
 */
static int
same_json(const json_t *a, const json_t *b)
{
	char *x, *y;
	int r;

	if (a == NULL || b == NULL)
		return a == b;
	x = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_ENCODE_ANY);
	y = json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_ENCODE_ANY);
	if (x == NULL || y == NULL)
		abort();
	r = strcmp(x, y) == 0;
	free(x);
	free(y);
	return r;
}

/* Show two values that should be equal, and stop. */
static void
differ(const char *what, const json_t *a, const json_t *b)
{
	char *x = a ? json_dumps(a, DUMP) : NULL;
	char *y = b ? json_dumps(b, DUMP) : NULL;

	fprintf(stderr, "fz_rec: %s differ:\n%s\n%s\n", what,
	    x ? x : "(null)", y ? y : "(null)");
	abort();
}

/* j packed by rec_pack_json into sb (reset first); it never refuses. */
static void
pack(const json_t *j, msgpack_sbuffer *sb)
{
	msgpack_packer pk;

	sb->size = 0;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (rec_pack_json(&pk, j) == -1)
		abort();
}

/* sb (packed by us) unpacked and converted; NULL where msgpack-c cannot. */
static json_t *
unpack_json(const msgpack_sbuffer *sb, int must)
{
	msgpack_unpacked up;
	size_t off = 0;
	json_t *j = NULL;

	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, sb->data, sb->size, &off) ==
	    MSGPACK_UNPACK_SUCCESS) {
		if (off != sb->size)
			abort();
		j = rec_to_json(&up.data);
	}
	msgpack_unpacked_destroy(&up);
	if (must && j == NULL)
		abort();
	return j;
}

/*
 * j's text read back and written again gives the same text (reals are
 * written with 15 digits, which read back to a double written the same).
 * jansson reads no NUL in a key: such a text is left there.
 */
static void
text_round(const json_t *j)
{
	json_error_t e;
	json_t *k;
	char *a, *b;

	if ((a = json_dumps(j, DUMP)) == NULL)
		abort();
	if ((k = json_loads(a, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e)) ==
	    NULL) {
		if (strstr(e.text, "NUL") == NULL)
			abort();
		free(a);
		return;
	}
	if ((b = json_dumps(k, DUMP)) == NULL || strcmp(a, b) != 0)
		abort();
	free(a);
	free(b);
	json_decref(k);
}

static int
is_ts_key(const char *k, size_t n)
{
	return (n == 2 && memcmp(k, "ts", 2) == 0) ||
	    (n > 3 && memcmp(k + n - 3, "_ts", 3) == 0);
}

/*
 * The event line for map m: one line, "seq" first, and where every key is
 * plain text (so no two JSON keys can meet), each integer time under "ts"
 * or "*_ts" written so that it parses back.
 */
static void
event_line(const msgpack_object *m, uint64_t seq)
{
	const msgpack_object_kv *kv;
	const msgpack_object *v;
	json_error_t e;
	json_t *ev, *jv;
	const char *s;
	char *line, key[64];
	uint32_t i, k;
	int64_t ms;
	int plain = m->via.map.size <= 64;

	if ((line = rec_event_line(seq, m)) == NULL)
		abort();
	if (strchr(line, '\n') != NULL)
		abort();
	if ((ev = json_loads(line, JSON_ALLOW_NUL, &e)) == NULL) {
		if (strstr(e.text, "NUL") == NULL)
			abort();
		free(line);
		return;
	}
	if (!json_is_object(ev) ||
	    strcmp(json_object_iter_key(json_object_iter(ev)), "seq") != 0 ||
	    json_integer_value(json_object_get(ev, "seq")) != (json_int_t)seq)
		abort();
	for (i = 0; i < m->via.map.size && plain; i++) {
		kv = &m->via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR ||
		    kv->key.via.str.size >= sizeof(key) ||
		    !valid_utf8(kv->key.via.str.ptr, kv->key.via.str.size))
			plain = 0;
	}
	for (i = 0; i < m->via.map.size && plain; i++) {
		kv = &m->via.map.ptr[i];
		memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size);
		key[kv->key.via.str.size] = '\0';
		if (!is_ts_key(key, strlen(key)))
			continue;
		/* the last of the same key is the one kept */
		for (k = i + 1; k < m->via.map.size; k++)
			if (m->via.map.ptr[k].key.via.str.size ==
			    kv->key.via.str.size && memcmp(key,
			    m->via.map.ptr[k].key.via.str.ptr,
			    kv->key.via.str.size) == 0)
				break;
		if (k < m->via.map.size)
			continue;
		v = &kv->val;
		if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
			ms = v->via.i64;
		else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
		    v->via.u64 <= INT64_MAX)
			ms = (int64_t)v->via.u64;
		else
			continue;
		jv = json_object_get(ev, key);
		if ((s = json_string_value(jv)) == NULL)
			abort();
		if (ms >= TS_MIN && ms <= TS_MAX) {
			int64_t back;

			if (rec_ts_parse(s, &back) == -1 || back != ms)
				abort();
		}
	}
	json_decref(ev);
	free(line);
}

static void
from_msgpack(const uint8_t *data, size_t size, msgpack_sbuffer *sb)
{
	msgpack_unpacked up;
	const msgpack_object *v;
	json_t *j1, *j2, *r;
	const char *why;
	uint8_t *buf;
	size_t off = 0;

	if ((buf = malloc(size + 3)) == NULL)
		abort();
	memcpy(buf, "\x81\xa1r", 3);
	if (size)
		memcpy(buf + 3, data, size);
	if (frame_prescan(buf, size + 3, &why) == -1) {
		free(buf);
		return;
	}
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, (const char *)buf, size + 3, &off) !=
	    MSGPACK_UNPACK_SUCCESS || off != size + 3 ||
	    up.data.type != MSGPACK_OBJECT_MAP || up.data.via.map.size != 1)
		abort();	/* what the pre-scan passes unpacks */
	v = &up.data.via.map.ptr[0].val;

	if ((j1 = rec_to_json(v)) == NULL)
		abort();
	pack(j1, sb);
	j2 = unpack_json(sb, 1);
	if (!same_json(j1, j2))
		differ("msgpack -> JSON -> msgpack -> JSON", j1, j2);
	text_round(j1);
	if ((r = rec_record_json(v)) == NULL)
		abort();
	event_line(v->type == MSGPACK_OBJECT_MAP ? v : &up.data,
	    (uint64_t)size * 2654435761u);

	json_decref(j1);
	json_decref(j2);
	json_decref(r);
	msgpack_unpacked_destroy(&up);
	free(buf);
}

static void
from_json(const uint8_t *data, size_t size, msgpack_sbuffer *sb)
{
	json_error_t e;
	json_t *j, *k;
	const char *why;
	int d;

	if ((j = json_loadb((const char *)data, size, JSON_DECODE_ANY |
	    JSON_ALLOW_NUL, &e)) == NULL)
		return;
	d = depth(j);
	pack(j, sb);
	if (json_is_object(j) && d <= FRAME_DEPTH && sb->size <= FRAME_MAX &&
	    frame_prescan(sb->data, sb->size, &why) == -1)
		abort();	/* a record we make that the bus refuses */
	k = unpack_json(sb, d <= FRAME_DEPTH);
	if (k != NULL && !same_json(j, k))
		differ("JSON -> msgpack -> JSON", j, k);
	json_decref(k);
	json_decref(j);
}

/* n digits at s. */
static int
num(const char *s, int n)
{
	int v = 0;

	while (n-- > 0)
		v = v * 10 + (*s++ - '0');
	return v;
}

static void
times(const uint8_t *data, size_t size)
{
	char s[64], buf[32];
	const char *p;
	struct tm tm;
	int64_t ms, back, want, v;
	int frac = 0, i, sign;
	time_t t;

	for (i = 0; (size_t)i < size && i < (int)sizeof(s) - 1 &&
	    data[i] != '\0'; i++)
		s[i] = (char)data[i];
	s[i] = '\0';
	if (rec_ts_parse(s, &ms) == 0) {
		/* what parsed has its fields at fixed places */
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = num(s, 4) - 1900;
		tm.tm_mon = num(s + 5, 2) - 1;
		tm.tm_mday = num(s + 8, 2);
		tm.tm_hour = num(s + 11, 2);
		tm.tm_min = num(s + 14, 2);
		tm.tm_sec = num(s + 17, 2);
		p = s + 19;
		if (*p == '.') {
			for (i = 0, p++; *p >= '0' && *p <= '9'; p++, i++)
				if (i < 3)
					frac = frac * 10 + (*p - '0');
			for (; i < 3; i++)
				frac *= 10;
		}
		if ((t = timegm(&tm)) == (time_t)-1 && num(s, 4) != 1969)
			abort();
		want = (int64_t)t * 1000 + frac;
		if (*p == '+' || *p == '-') {
			sign = *p == '-' ? -1 : 1;
			want -= sign * (int64_t)(num(p + 1, 2) * 60 +
			    num(p + 4, 2)) * 60000;
		}
		if (ms != want)
			abort();
		rec_ts_format(ms, buf);
		if (ms >= TS_MIN && ms <= TS_MAX &&
		    (rec_ts_parse(buf, &back) == -1 || back != ms))
			abort();
	}
	if (size >= 8) {
		memcpy(&v, data, 8);
		rec_ts_format(v, buf);
		if (memchr(buf, '\0', sizeof(buf)) == NULL)
			abort();
		if (v >= TS_MIN && v <= TS_MAX && (strlen(buf) != 24 ||
		    rec_ts_parse(buf, &back) == -1 || back != v))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	from_msgpack(data, size, &sb);
	from_json(data, size, &sb);
	times(data, size);
	msgpack_sbuffer_destroy(&sb);
	return 0;
}
