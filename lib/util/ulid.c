/*
 * ulid — ULIDs from libsodium random bytes, monotonic within a millisecond.
 */
#include <string.h>
#include <sys/time.h>
#include <sodium.h>

#include "ulid.h"

static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void
ulid_encode(uint64_t ms, const unsigned char r[10], char out[ULID_LEN + 1])
{
	unsigned char b[16];
	int i, bit;

	for (i = 0; i < 6; i++)
		b[i] = ms >> (40 - 8 * i);
	memcpy(b + 6, r, 10);
	/* 128 bits as 26 base32 digits: first digit holds the top 3 bits */
	for (i = 0; i < ULID_LEN; i++) {
		int v = 0, k;

		bit = i == 0 ? 0 : 3 + 5 * (i - 1);
		for (k = 0; k < (i == 0 ? 3 : 5); k++, bit++)
			v = v << 1 | ((b[bit / 8] >> (7 - bit % 8)) & 1);
		out[i] = b32[v];
	}
	out[ULID_LEN] = '\0';
}

void
ulid_make(const char *prefix, char *buf)
{
	static uint64_t last_ms;
	static unsigned char last[10];
	struct timeval tv;
	uint64_t ms;
	size_t pl = strlen(prefix);
	int i;

	gettimeofday(&tv, NULL);
	ms = (uint64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	if (ms <= last_ms) {
		ms = last_ms;
		for (i = 9; i >= 0 && ++last[i] == 0; i--)
			;
	} else {
		randombytes_buf(last, sizeof(last));
		last[0] &= 0x7f;	/* room to increment */
		last_ms = ms;
	}
	memcpy(buf, prefix, pl);
	ulid_encode(ms, last, buf + pl);
}

int
ulid_valid(const char *s)
{
	int i;

	if (strlen(s) != ULID_LEN || s[0] > '7')
		return 0;
	for (i = 0; i < ULID_LEN; i++)
		if (strchr(b32, s[i]) == NULL || s[i] == '\0')
			return 0;
	return 1;
}
