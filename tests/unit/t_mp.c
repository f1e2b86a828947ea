/*
 * t_mp — the helpers every frame handler reads its fields with: a field of
 * the wrong type or absent must read as absent (never as a wrong value), a
 * string that does not fit is refused rather than cut, and what the mp_kv_*
 * helpers pack reads back unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "mp.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

int
main(void)
{
	struct fbuf fb, inner;
	msgpack_unpacked up, iup;
	const msgpack_object *m, *o;
	const char *why, *s;
	char buf[16], *dup;
	size_t used, len;
	int64_t v;
	int b, d;

	/* a nested frame to splice in with mp_kv_obj and mp_pack_raw */
	fbuf_init(&inner);
	fbuf_begin(&inner, 2);
	mp_kv_str(&inner.pk, "code", "21211");
	mp_kv_str(&inner.pk, "msg", "invalid 'To' number");
	fbuf_finish(&inner);
	msgpack_unpacked_init(&iup);
	d = frame_decode(fbuf_data(&inner), fbuf_len(&inner), &iup, &used,
	    &why);
	ok(d == 1, "a helper-built frame decodes");

	fbuf_init(&fb);
	fbuf_begin(&fb, 15);
	mp_kv_str(&fb.pk, "t", "send");
	mp_kv_int(&fb.pk, "id", 42);
	mp_kv_int(&fb.pk, "neg", -7);
	mp_kv_int(&fb.pk, "min", INT64_MIN);
	mp_kv_int(&fb.pk, "max", INT64_MAX);
	mp_pack_cstr(&fb.pk, "huge");
	msgpack_pack_uint64(&fb.pk, UINT64_MAX);
	mp_kv_bool(&fb.pk, "follow", 1);
	mp_kv_bool(&fb.pk, "dup", 0);
	mp_kv_nil(&fb.pk, "conv");
	mp_kv_strn(&fb.pk, "nul", "a\0b", 3);
	mp_kv_str(&fb.pk, "fits", "fifteen chars!!");
	mp_kv_str(&fb.pk, "long", "sixteen chars!!!");
	mp_kv_obj(&fb.pk, "err", &iup.data);
	mp_pack_cstr(&fb.pk, "raw");
	mp_pack_raw(&fb.pk, fbuf_data(&inner) + 4, fbuf_len(&inner) - 4);
	mp_kv_str(&fb.pk, "", NULL);
	ok(fbuf_finish(&fb) == 0, "15 pairs packed with mp_kv_*");

	msgpack_unpacked_init(&up);
	d = frame_decode(fbuf_data(&fb), fbuf_len(&fb), &up, &used, &why);
	ok(d == 1 && used == fbuf_len(&fb) &&
	    up.data.via.map.size == 15, "it decodes as one 15-pair map");
	m = &up.data;

	ok(mp_str(m, "t", &s, &len) && len == 4 && memcmp(s, "send", 4) == 0,
	    "mp_str reads a string");
	ok((o = mp_get(m, "t")) != NULL && mp_streq(o, "send") &&
	    !mp_streq(o, "sen") && !mp_streq(o, "sends"),
	    "mp_streq matches the whole string only");
	ok(mp_str_is(m, "t", "send") && !mp_str_is(m, "t", "sen") &&
	    !mp_str_is(m, "id", "42") && !mp_str_is(m, "absent", ""),
	    "mp_str_is: a string key equal to s; absent or not a string is 0");
	ok(mp_get(m, "absent") == NULL && !mp_str(m, "absent", &s, &len),
	    "an absent key is NULL / 0");
	ok(mp_get(&iup.data.via.map.ptr[0].val, "x") == NULL &&
	    mp_get(NULL, "x") == NULL, "mp_get on a non-map or NULL is NULL");

	ok(mp_int(m, "id", &v) && v == 42, "mp_int reads a positive integer");
	ok(mp_int(m, "neg", &v) && v == -7, "mp_int reads a negative integer");
	ok(mp_int(m, "min", &v) && v == INT64_MIN &&
	    mp_int(m, "max", &v) && v == INT64_MAX,
	    "INT64_MIN and INT64_MAX round-trip");
	v = 5;
	ok(!mp_int(m, "huge", &v) && v == 5,
	    "an integer over INT64_MAX is refused, *v untouched");
	ok(!mp_int(m, "t", &v) && !mp_int(m, "follow", &v) &&
	    !mp_int(m, "conv", &v), "a string, bool or nil is not an integer");

	ok(mp_bool(m, "follow", &b) && b == 1 && mp_bool(m, "dup", &b) &&
	    b == 0, "mp_bool reads true and false");
	ok(!mp_bool(m, "id", &b) && !mp_bool(m, "conv", &b),
	    "an integer or nil is not a boolean");
	ok((o = mp_get(m, "conv")) != NULL && o->type == MSGPACK_OBJECT_NIL &&
	    !mp_str(m, "conv", &s, &len), "mp_kv_nil packs nil, not a string");
	ok((o = mp_get(m, "")) != NULL && o->type == MSGPACK_OBJECT_NIL,
	    "mp_kv_str with a NULL value packs nil; the empty key is found");

	ok(mp_str(m, "nul", &s, &len) && len == 3 && s[1] == '\0',
	    "mp_kv_strn keeps an embedded NUL");
	ok(mp_strcpy(m, "fits", buf, sizeof(buf)) &&
	    strcmp(buf, "fifteen chars!!") == 0,
	    "mp_strcpy copies a string of bufsz-1 bytes");
	strcpy(buf, "untouched");
	ok(!mp_strcpy(m, "long", buf, sizeof(buf)),
	    "mp_strcpy refuses a string that does not fit");
	ok(!mp_strcpy(m, "id", buf, sizeof(buf)) &&
	    !mp_strcpy(m, "absent", buf, sizeof(buf)),
	    "mp_strcpy refuses a non-string and an absent key");

	dup = mp_strdup(m, "long");
	ok(dup != NULL && strcmp(dup, "sixteen chars!!!") == 0,
	    "mp_strdup returns a NUL-terminated copy");
	free(dup);
	ok(mp_strdup(m, "id") == NULL, "mp_strdup of a non-string is NULL");

	o = mp_get(m, "err");
	ok(o != NULL && o->type == MSGPACK_OBJECT_MAP &&
	    mp_str(o, "code", &s, &len) && len == 5 &&
	    memcmp(s, "21211", 5) == 0, "mp_kv_obj packs a nested map");
	{
		const msgpack_object *r = mp_get(m, "raw");

		ok(r != NULL && o != NULL && msgpack_object_equal(*r, *o),
		    "mp_pack_raw splices packed bytes as one object");
	}

	/* a string key is needed: an integer key never matches */
	fbuf_begin(&fb, 1);
	msgpack_pack_int(&fb.pk, 116);		/* 't' as a number */
	mp_pack_cstr(&fb.pk, "x");
	fbuf_finish(&fb);
	msgpack_unpacked_destroy(&up);
	msgpack_unpacked_init(&up);
	d = frame_decode(fbuf_data(&fb), fbuf_len(&fb), &up, &used, &why);
	ok(d == 1 && mp_get(&up.data, "t") == NULL,
	    "a non-string key never matches");

	/* duplicate keys: mp_get answers the first, consistently */
	fbuf_begin(&fb, 2);
	mp_kv_int(&fb.pk, "id", 1);
	mp_kv_int(&fb.pk, "id", 2);
	fbuf_finish(&fb);
	msgpack_unpacked_destroy(&up);
	msgpack_unpacked_init(&up);
	d = frame_decode(fbuf_data(&fb), fbuf_len(&fb), &up, &used, &why);
	ok(d == 1 && mp_int(&up.data, "id", &v) && v == 1,
	    "with a duplicate key, the first value is read");

	msgpack_unpacked_destroy(&up);
	msgpack_unpacked_destroy(&iup);
	fbuf_free(&fb);
	fbuf_free(&inner);
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
