/*
 * ulid — sortable unique ids: 48-bit millisecond time + 80 random bits from
 * libsodium, Crockford base32, 26 characters.  Within one millisecond the
 * random part is incremented so ids from one process stay ordered.
 */
#ifndef PARLEY_ULID_H
#define PARLEY_ULID_H

#include <stdint.h>

#define ULID_LEN	26
/* prefix ("c_", "m_", or "") + ULID, NUL-terminated; buf needs 32 bytes. */
void	ulid_make(const char *prefix, char *buf);
/* Encode a given time and 10 random bytes (for tests). */
void	ulid_encode(uint64_t ms, const unsigned char rnd[10], char out[ULID_LEN + 1]);
/* 1 if s (without prefix) is a well-formed ULID. */
int	ulid_valid(const char *s);

#endif
