/*
 * t_ulid — the ids of every conversation and message: 26 Crockford base32
 * characters, the encoding of the ULID spec (checked against known vectors),
 * strictly increasing and unique when made in a row, and sortable by the
 * time they carry, so ids can be the keys of time-ordered indexes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "ulid.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* The millisecond time in the first 10 characters. */
static uint64_t
ulid_time(const char *s)
{
	uint64_t t = 0;
	int i;

	for (i = 0; i < 10; i++)
		t = t << 5 | (uint64_t)(strchr(crockford, s[i]) - crockford);
	return t;
}

static uint64_t
now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

#define NROW	10000

static int
cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int
main(void)
{
	static const unsigned char zero[10], seq[10] =
	    { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	static const unsigned char mixed[10] =
	    { 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 0xfe, 0xff };
	static const unsigned char ones[10] =
	    { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	char out[ULID_LEN + 1], a[ULID_LEN + 1], b[ULID_LEN + 1], buf[32];
	char (*row)[32];
	uint64_t t0, t1, t;
	int i, alpha = 1, incr = 1, uniq = 1, valid = 1;

	/* known vectors (the ULID spec's example time, 1469918176385) */
	ulid_encode(1469918176385ULL, zero, out);
	ok(strcmp(out, "01ARYZ6S410000000000000000") == 0,
	    "spec example time with zero randomness");
	ulid_encode(1469918176385ULL, seq, out);
	ok(strcmp(out, "01ARYZ6S41000G40R40M30E209") == 0,
	    "spec example time with bytes 00..09");
	ulid_encode(1763726400123ULL, mixed, out);
	ok(strcmp(out, "01KAK4J6KVVTPVXVR004107ZQZ") == 0,
	    "a 2025 time with mixed bytes");
	ulid_encode((1ULL << 48) - 1, ones, out);
	ok(strcmp(out, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ") == 0,
	    "the largest ULID");
	ulid_encode(0, zero, out);
	ok(strcmp(out, "00000000000000000000000000") == 0 &&
	    ulid_valid(out), "the smallest ULID");

	/* made ids */
	ulid_make("m_", buf);
	ok(strlen(buf) == 2 + ULID_LEN && strncmp(buf, "m_", 2) == 0,
	    "ulid_make(\"m_\") is m_ + 26 characters");
	ulid_make("", buf);
	ok(strlen(buf) == ULID_LEN && ulid_valid(buf),
	    "ulid_make(\"\") is a valid bare ULID");

	if ((row = calloc(NROW, sizeof(*row))) == NULL)
		return 99;
	t0 = now_ms();
	for (i = 0; i < NROW; i++)
		ulid_make("c_", row[i]);
	t1 = now_ms();
	for (i = 0; i < NROW; i++) {
		const char *s = row[i] + 2;

		if (strspn(s, crockford) != ULID_LEN || s[ULID_LEN] != '\0')
			alpha = 0;
		if (!ulid_valid(s))
			valid = 0;
		if (i > 0 && strcmp(row[i - 1], row[i]) >= 0)
			incr = 0;
	}
	ok(alpha, "10000 ids use only the Crockford alphabet (no I L O U)");
	ok(valid, "10000 ids are accepted by ulid_valid");
	ok(incr, "10000 ids made in a row are strictly increasing");
	qsort(row, NROW, sizeof(*row), cmp);
	for (i = 1; i < NROW; i++)
		if (strcmp(row[i - 1], row[i]) == 0)
			uniq = 0;
	ok(uniq, "10000 ids made in a row are unique");
	t = ulid_time(row[0] + 2);
	ok(t + 1 >= t0 && ulid_time(row[NROW - 1] + 2) <= t1 + 1,
	    "the time prefix is the millisecond clock when made");
	free(row);

	/* sortable by time whatever the random part */
	ulid_encode(1763726400123ULL, ones, a);
	ulid_encode(1763726400124ULL, zero, b);
	ok(strcmp(a, b) < 0, "a later millisecond sorts after any randomness");
	ulid_encode(0x0000ffffffffULL, ones, a);
	ulid_encode(0x000100000000ULL, zero, b);
	ok(strcmp(a, b) < 0, "ordering holds across a carry in the time");
	ok(ulid_time(b) == 0x000100000000ULL,
	    "the time decodes back from the first 10 characters");

	/* ulid_valid refuses what is not a ULID */
	ok(!ulid_valid("") && !ulid_valid("01ARYZ6S41000000000000000") &&
	    !ulid_valid("01ARYZ6S4100000000000000000"),
	    "ulid_valid refuses wrong lengths (0, 25, 27)");
	ok(!ulid_valid("01ARYZ6S41000000000000000I") &&
	    !ulid_valid("01ARYZ6S41000000000000000L") &&
	    !ulid_valid("01ARYZ6S41000000000000000O") &&
	    !ulid_valid("01ARYZ6S41000000000000000U") &&
	    !ulid_valid("01ARYZ6S41000000000000000-"),
	    "ulid_valid refuses I, L, O, U and punctuation");
	ok(!ulid_valid("80000000000000000000000000"),
	    "ulid_valid refuses a first character over 7 (over 128 bits)");
	ok(!ulid_valid("m_01ARYZ6S41000000000000000"),
	    "ulid_valid takes the id without its prefix");

	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
