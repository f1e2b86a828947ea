/*
 * mp — small helpers over msgpack-c objects: look a key up in a map, read a
 * typed value, and pack "key: value" pairs.  Frames and stored records are
 * msgpack maps with short string keys; these keep that code short and safe.
 */
#ifndef PARLEY_MP_H
#define PARLEY_MP_H

#include <stdint.h>
#include <stddef.h>
#include <msgpack.h>

/* The value for key in map, or NULL (also when map is not a map). */
const msgpack_object *mp_get(const msgpack_object *map, const char *key);
/* 1 and (*s,*len) pointing into the object when key holds a string; else 0. */
int	mp_str(const msgpack_object *map, const char *key, const char **s,
	    size_t *len);
/* Copy a string value into buf (NUL-terminated); 1 if present and it fit. */
int	mp_strcpy(const msgpack_object *map, const char *key, char *buf,
	    size_t bufsz);
/* A malloc'd NUL-terminated copy of a string value, or NULL. */
char	*mp_strdup(const msgpack_object *map, const char *key);
/* 1 and *v when key holds an integer (positive or negative); else 0. */
int	mp_int(const msgpack_object *map, const char *key, int64_t *v);
/* 1 and *v when key holds a boolean; else 0. */
int	mp_bool(const msgpack_object *map, const char *key, int *v);
/* 1 if the string object equals s. */
int	mp_streq(const msgpack_object *o, const char *s);
/* 1 if key holds a string equal to s (0 when absent or not a string). */
int	mp_str_is(const msgpack_object *map, const char *key, const char *s);

/* Pack a C string (NULL packs nil). */
void	mp_pack_cstr(msgpack_packer *, const char *s);
void	mp_pack_strn(msgpack_packer *, const char *s, size_t n);
/* Pack a key and a value. */
void	mp_kv_str(msgpack_packer *, const char *k, const char *v);
void	mp_kv_strn(msgpack_packer *, const char *k, const char *v, size_t n);
void	mp_kv_int(msgpack_packer *, const char *k, int64_t v);
void	mp_kv_bool(msgpack_packer *, const char *k, int v);
void	mp_kv_nil(msgpack_packer *, const char *k);
void	mp_kv_obj(msgpack_packer *, const char *k, const msgpack_object *v);
/* Pack raw msgpack bytes as they are (they must be one object). */
void	mp_pack_raw(msgpack_packer *, const void *b, size_t n);

#endif
