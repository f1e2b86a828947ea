/*
 * mp — typed lookups in msgpack maps and key/value packing helpers.
 */
#include <stdlib.h>
#include <string.h>

#include "mp.h"

int
mp_streq(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);

	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	    memcmp(o->via.str.ptr, s, n) == 0;
}

const msgpack_object *
mp_get(const msgpack_object *map, const char *key)
{
	uint32_t i;

	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (i = 0; i < map->via.map.size; i++)
		if (mp_streq(&map->via.map.ptr[i].key, key))
			return &map->via.map.ptr[i].val;
	return NULL;
}

int
mp_str_is(const msgpack_object *map, const char *key, const char *s)
{
	const msgpack_object *o = mp_get(map, key);

	return o != NULL && mp_streq(o, s);
}

int
mp_str(const msgpack_object *map, const char *key, const char **s,
    size_t *len)
{
	const msgpack_object *o = mp_get(map, key);

	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		return 0;
	*s = o->via.str.ptr;
	*len = o->via.str.size;
	return 1;
}

int
mp_strcpy(const msgpack_object *map, const char *key, char *buf,
    size_t bufsz)
{
	const char *s;
	size_t n;

	if (!mp_str(map, key, &s, &n) || n >= bufsz)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 1;
}

char *
mp_strdup(const msgpack_object *map, const char *key)
{
	const char *s;
	size_t n;

	if (!mp_str(map, key, &s, &n))
		return NULL;
	return strndup(s, n);
}

int
mp_int(const msgpack_object *map, const char *key, int64_t *v)
{
	const msgpack_object *o = mp_get(map, key);

	if (o == NULL)
		return 0;
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->via.u64 > INT64_MAX)
			return 0;
		*v = (int64_t)o->via.u64;
		return 1;
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*v = o->via.i64;
		return 1;
	}
	return 0;
}

int
mp_bool(const msgpack_object *map, const char *key, int *v)
{
	const msgpack_object *o = mp_get(map, key);

	if (o == NULL || o->type != MSGPACK_OBJECT_BOOLEAN)
		return 0;
	*v = o->via.boolean;
	return 1;
}

void
mp_pack_strn(msgpack_packer *pk, const char *s, size_t n)
{
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

void
mp_pack_cstr(msgpack_packer *pk, const char *s)
{
	if (s == NULL)
		msgpack_pack_nil(pk);
	else
		mp_pack_strn(pk, s, strlen(s));
}

void
mp_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
	mp_pack_cstr(pk, k);
	mp_pack_cstr(pk, v);
}

void
mp_kv_strn(msgpack_packer *pk, const char *k, const char *v, size_t n)
{
	mp_pack_cstr(pk, k);
	mp_pack_strn(pk, v, n);
}

void
mp_kv_int(msgpack_packer *pk, const char *k, int64_t v)
{
	mp_pack_cstr(pk, k);
	msgpack_pack_int64(pk, v);
}

void
mp_kv_bool(msgpack_packer *pk, const char *k, int v)
{
	mp_pack_cstr(pk, k);
	if (v)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

void
mp_kv_nil(msgpack_packer *pk, const char *k)
{
	mp_pack_cstr(pk, k);
	msgpack_pack_nil(pk);
}

void
mp_kv_obj(msgpack_packer *pk, const char *k, const msgpack_object *v)
{
	mp_pack_cstr(pk, k);
	msgpack_pack_object(pk, *v);
}

void
mp_pack_raw(msgpack_packer *pk, const void *b, size_t n)
{
	/* the packer's callback appends bytes verbatim */
	pk->callback(pk->data, b, n);
}
