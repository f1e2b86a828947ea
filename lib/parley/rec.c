/*
 * rec — the record codec between the store's msgpack and the JSON Lines that
 * msg(1) reads and writes (DESIGN §5, parley-records(7)).
 *
 * Maps keep their key order so "seq" stays first and a record reads the same
 * way every time.  Inside, times are milliseconds since the epoch; on pipes
 * "ts" and every "*_ts" key become RFC 3339 UTC with milliseconds.  Text is
 * kept as UTF-8 (no \u escapes beyond what JSON requires); bytes that are
 * not UTF-8 become U+FFFD rather than failing the whole record, and binary
 * values become base64 text.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "rec.h"
#include "utf8.h"

#define REC_DEPTH	64	/* deeper than any frame or record we make */
#define DUMP_FLAGS	(JSON_COMPACT | JSON_PRESERVE_ORDER | \
			 JSON_REAL_PRECISION(15))	/* 37.483307, not ...003 */
#define REC_REAL_MAX	1.79769313486231e308	/* DBL_MAX to 15 digits, down */

static json_t	*to_json(const msgpack_object *, int tsconv, int depth);

static int
utf8_valid(const char *p, size_t n)
{
	size_t i, l;

	for (i = 0; i < n; i += l)
		if ((l = utf8_decode((const unsigned char *)p + i, n - i,
		    NULL)) == 0)
			return 0;
	return 1;
}

/* A JSON string from n bytes, invalid UTF-8 replaced by U+FFFD. */
static json_t *
str_json(const char *p, size_t n)
{
	json_t *j;
	char *fix, *o;
	size_t i, l;

	if ((j = json_stringn(p, n)) != NULL)
		return j;
	/* each bad byte becomes 3 bytes */
	if (n > (SIZE_MAX - 1) / 3 || (fix = malloc(n * 3 + 1)) == NULL)
		return NULL;
	o = fix;
	for (i = 0; i < n; i += l) {
		l = utf8_decode((const unsigned char *)p + i, n - i, NULL);
		if (l == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			l = 1;
		} else {
			memcpy(o, p + i, l);
			o += l;
		}
	}
	j = json_stringn(fix, (size_t)(o - fix));
	free(fix);
	return j;
}

static json_t *
b64_json(const char *p, size_t n)
{
	size_t sz = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *b;
	json_t *j;

	if ((b = malloc(sz)) == NULL)
		return NULL;
	sodium_bin2base64(b, sz, (const unsigned char *)p, n,
	    sodium_base64_VARIANT_ORIGINAL);
	j = json_string(b);
	free(b);
	return j;
}

/* 1 if k names a time field: "ts" or "..._ts". */
static int
is_ts_key(const char *k, size_t n)
{
	return (n == 2 && memcmp(k, "ts", 2) == 0) ||
	    (n > 3 && memcmp(k + n - 3, "_ts", 3) == 0);
}

static json_t *
ts_json(int64_t ms)
{
	char buf[32];

	rec_ts_format(ms, buf);
	return json_string(buf);
}

/* Add one msgpack key/value pair to obj; -1 on error. */
static int
add_pair(json_t *obj, const msgpack_object_kv *kv, int tsconv, int depth)
{
	const msgpack_object *k = &kv->key, *v = &kv->val;
	json_t *jk = NULL, *jv = NULL;
	char *ks = NULL;
	const char *key;
	size_t klen;
	int rc = -1;

	if (k->type == MSGPACK_OBJECT_STR) {
		/* msgpack-c leaves ptr NULL for an empty string */
		klen = k->via.str.size;
		key = klen ? k->via.str.ptr : "";
		if (!utf8_valid(key, klen)) {
			/* not UTF-8: use the repaired text */
			if ((jk = str_json(key, klen)) == NULL)
				goto fail;
			key = json_string_value(jk);
			klen = json_string_length(jk);
		}
	} else {
		/* a non-string key is written as its JSON text */
		if ((jk = to_json(k, 0, depth + 1)) == NULL)
			goto fail;
		if (json_is_string(jk)) {
			key = json_string_value(jk);
			klen = json_string_length(jk);
		} else {
			if ((ks = json_dumps(jk, DUMP_FLAGS | JSON_ENCODE_ANY))
			    == NULL)
				goto fail;
			key = ks;
			klen = strlen(ks);
		}
	}
	if (tsconv && is_ts_key(key, klen) &&
	    (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) &&
	    (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
	    v->via.u64 <= INT64_MAX))
		jv = ts_json(v->via.i64);
	else
		jv = to_json(v, tsconv, depth + 1);
	if (jv == NULL)
		goto fail;
	if (json_object_setn_new(obj, key, klen, jv) == -1) {
		jv = NULL;	/* stolen even on failure */
		goto fail;
	}
	rc = 0;
fail:
	json_decref(jk);
	free(ks);
	return rc;
}

static json_t *
to_json(const msgpack_object *o, int tsconv, int depth)
{
	json_t *j = NULL, *e;
	uint32_t i;

	if (o == NULL || depth > REC_DEPTH)
		return NULL;
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > INT64_MAX)
			return json_real((double)o->via.u64);
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		/* JSON has no NaN or infinity */
		if (!isfinite(o->via.f64))
			return json_null();
		/* 15 digits round the largest doubles past DBL_MAX, a text
		 * no JSON reader takes back (found by fz_rec): they are
		 * written as the largest value 15 digits can hold */
		if (fabs(o->via.f64) > REC_REAL_MAX)
			return json_real(copysign(REC_REAL_MAX, o->via.f64));
		return json_real(o->via.f64);
	case MSGPACK_OBJECT_STR:
		return str_json(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		return b64_json(o->via.bin.ptr, o->via.bin.size);
	case MSGPACK_OBJECT_EXT:
		return b64_json(o->via.ext.ptr, o->via.ext.size);
	case MSGPACK_OBJECT_ARRAY:
		if ((j = json_array()) == NULL)
			return NULL;
		for (i = 0; i < o->via.array.size; i++) {
			e = to_json(&o->via.array.ptr[i], tsconv, depth + 1);
			if (e == NULL || json_array_append_new(j, e) == -1)
				goto fail;
		}
		return j;
	case MSGPACK_OBJECT_MAP:
		if ((j = json_object()) == NULL)
			return NULL;
		for (i = 0; i < o->via.map.size; i++)
			if (add_pair(j, &o->via.map.ptr[i], tsconv, depth) == -1)
				goto fail;
		return j;
	}
fail:
	json_decref(j);
	return NULL;
}

json_t *
rec_to_json(const msgpack_object *o)
{
	return to_json(o, 0, 0);
}

json_t *
rec_record_json(const msgpack_object *r)
{
	return to_json(r, 1, 0);
}

int
rec_pack_json(msgpack_packer *pk, const json_t *j)
{
	const char *k;
	json_t *v;
	void *it;
	size_t i, n;

	if (j == NULL)
		return -1;
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		if (msgpack_pack_map(pk, (uint32_t)json_object_size(j)) != 0)
			return -1;
		for (it = json_object_iter((json_t *)j); it != NULL;
		    it = json_object_iter_next((json_t *)j, it)) {
			k = json_object_iter_key(it);
			n = json_object_iter_key_len(it);
			v = json_object_iter_value(it);
			if (msgpack_pack_str(pk, n) != 0 ||
			    msgpack_pack_str_body(pk, k, n) != 0 ||
			    rec_pack_json(pk, v) == -1)
				return -1;
		}
		return 0;
	case JSON_ARRAY:
		n = json_array_size(j);
		if (msgpack_pack_array(pk, (uint32_t)n) != 0)
			return -1;
		for (i = 0; i < n; i++)
			if (rec_pack_json(pk, json_array_get(j, i)) == -1)
				return -1;
		return 0;
	case JSON_STRING:
		n = json_string_length(j);
		if (msgpack_pack_str(pk, n) != 0 ||
		    msgpack_pack_str_body(pk, json_string_value(j), n) != 0)
			return -1;
		return 0;
	case JSON_INTEGER:
		return msgpack_pack_int64(pk, json_integer_value(j)) ? -1 : 0;
	case JSON_REAL:
		return msgpack_pack_double(pk, json_real_value(j)) ? -1 : 0;
	case JSON_TRUE:
		return msgpack_pack_true(pk) ? -1 : 0;
	case JSON_FALSE:
		return msgpack_pack_false(pk) ? -1 : 0;
	case JSON_NULL:
		return msgpack_pack_nil(pk) ? -1 : 0;
	}
	return -1;
}

char *
rec_event_line(uint64_t seq, const msgpack_object *r)
{
	json_t *j = NULL, *s;
	char *line = NULL;
	uint32_t i;

	if (r == NULL || r->type != MSGPACK_OBJECT_MAP || seq > INT64_MAX)
		return NULL;
	if ((j = json_object()) == NULL)
		return NULL;
	if ((s = json_integer((json_int_t)seq)) == NULL ||
	    json_object_set_new(j, "seq", s) == -1)
		goto done;
	for (i = 0; i < r->via.map.size; i++) {
		const msgpack_object_kv *kv = &r->via.map.ptr[i];

		/* the event's own seq wins over a stray one in the record */
		if (kv->key.type == MSGPACK_OBJECT_STR &&
		    kv->key.via.str.size == 3 &&
		    memcmp(kv->key.via.str.ptr, "seq", 3) == 0)
			continue;
		if (add_pair(j, kv, 1, 0) == -1)
			goto done;
	}
	line = json_dumps(j, DUMP_FLAGS);
done:
	json_decref(j);
	return line;
}

void
rec_ts_format(int64_t ms, char buf[32])
{
	int64_t sec = ms / 1000, frac = ms % 1000;
	time_t t;
	struct tm tm;

	if (frac < 0) {		/* floor, so times before 1970 read right */
		frac += 1000;
		sec -= 1;
	}
	t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, 32, "1970-01-01T00:00:00.000Z");
		return;
	}
	/* the remainders only tell the compiler each field's width */
	snprintf(buf, 32, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ",
	    tm.tm_year + 1900, (unsigned)(tm.tm_mon + 1) % 100u,
	    (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
	    (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u,
	    (unsigned)frac % 1000u);
}

/* Read exactly n digits at *p into *v, advancing *p; -1 if not digits. */
static int
digits(const char **p, int n, int *v)
{
	int x = 0;

	while (n-- > 0) {
		if (**p < '0' || **p > '9')
			return -1;
		x = x * 10 + (*(*p)++ - '0');
	}
	*v = x;
	return 0;
}

int64_t
rec_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
month_days(int y, int m)
{
	static const int md[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
	    31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return md[m - 1];
}

const char *
rec_str(const json_t *o, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : def;
}

const char *
rec_str_nonempty(const json_t *o, const char *key, const char *def)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return def;
	return json_string_value(v);
}

const char *
rec_str_typed(const json_t *o, const char *key, int *bad)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}

int
rec_ts_parse(const char *s, int64_t *ms)
{
	const char *p = s;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, frac = 0, scale = 100;
	int64_t v, off = 0;

	if (s == NULL)
		return -1;
	if (digits(&p, 4, &y) == -1 || *p++ != '-' ||
	    digits(&p, 2, &mo) == -1 || *p++ != '-' ||
	    digits(&p, 2, &d) == -1)
		return -1;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (digits(&p, 2, &h) == -1 || *p++ != ':' ||
	    digits(&p, 2, &mi) == -1 || *p++ != ':' ||
	    digits(&p, 2, &sec) == -1)
		return -1;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		/* milliseconds: further digits are truncated */
		for (; *p >= '0' && *p <= '9'; p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;

		if (digits(&p, 2, &oh) == -1 || *p++ != ':' ||
		    digits(&p, 2, &om) == -1 || oh > 23 || om > 59)
			return -1;
		off = sign * (int64_t)(oh * 60 + om) * 60000;
	} else
		return -1;
	if (*p != '\0')
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 ||
	    mi > 59 || sec > 60)	/* 60: a leap second */
		return -1;
	v = rec_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	*ms = v * 1000 + frac - off;
	return 0;
}
