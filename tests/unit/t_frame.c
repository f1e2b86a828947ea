/*
 * t_frame — the framing every daemon trusts with bytes from its peers.
 *
 * A recorded stream of varied frames is fed to frame_decode the way a socket
 * delivers it: split in two at every byte offset (and one byte at a time),
 * accumulated in a receive buffer, and must decode to exactly what the whole
 * stream decodes to.  Hostile frames (declared counts of 2^32-1, deep
 * nesting, over-long or zero lengths, truncated strings, a top level that is
 * not a map, trailing bytes) must be refused without a large allocation:
 * heap use is measured around each refusal.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "frame.h"
#include "mp.h"

/* Under AddressSanitizer the heap is ASan's: ask it, not glibc. */
#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN	1
#endif
#endif
#ifdef T_ASAN
/* from the ASan runtime (sanitizer/allocator_interface.h, not in gcc's) */
size_t	__sanitizer_get_current_allocated_bytes(void);
#endif

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

/* A growable byte string. */
struct bytes {
	unsigned char	*p;
	size_t		 len, cap;
};

static void
bytes_add(struct bytes *b, const void *p, size_t len)
{
	if (b->p == NULL || b->len + len > b->cap) {
		b->cap = (b->len + len) * 2 + 64;
		if ((b->p = realloc(b->p, b->cap)) == NULL) {
			perror("realloc");
			exit(99);
		}
	}
	if (len)
		memcpy(b->p + b->len, p, len);
	b->len += len;
}

/* Frame i of the recorded stream: varied types, nesting and sizes. */
static void
make_frame(struct fbuf *fb, int i)
{
	msgpack_packer *pk = &fb->pk;
	char s[400];
	unsigned char bin[300];
	int k;

	for (k = 0; k < (int)sizeof(s); k++)
		s[k] = 'a' + (k * 7 + i) % 26;
	for (k = 0; k < (int)sizeof(bin); k++)
		bin[k] = (unsigned char)(k * 31 + i);
	switch (i % 10) {
	case 0:			/* a request */
		fbuf_begin(fb, 3);
		mp_kv_str(pk, "t", "ping");
		mp_kv_int(pk, "id", i);
		mp_kv_bool(pk, "follow", i & 1);
		break;
	case 1:			/* integers of every width and sign */
		fbuf_begin(fb, 9);
		mp_kv_int(pk, "a", 0);
		mp_kv_int(pk, "b", -1);
		mp_kv_int(pk, "c", 127 + i);
		mp_kv_int(pk, "d", -33 - i);
		mp_kv_int(pk, "e", 65535 + i);
		mp_kv_int(pk, "f", INT64_MIN + i);
		mp_kv_int(pk, "g", INT64_MAX - i);
		mp_pack_cstr(pk, "h");
		msgpack_pack_uint64(pk, UINT64_MAX - (uint64_t)i);
		mp_kv_nil(pk, "i");
		break;
	case 2:			/* strings: fixstr, str8, str16 */
		fbuf_begin(fb, 4);
		mp_kv_strn(pk, "text", s, (size_t)(i % 31));
		mp_kv_strn(pk, "s8", s, 40 + (size_t)i);
		mp_kv_strn(pk, "s16", s, 256 + (size_t)i);
		mp_kv_strn(pk, "", s, 0);
		break;
	case 3:			/* binaries and floats */
		fbuf_begin(fb, 4);
		mp_pack_cstr(pk, "bin");
		msgpack_pack_bin(pk, 3 + (size_t)i);
		msgpack_pack_bin_body(pk, bin, 3 + (size_t)i);
		mp_pack_cstr(pk, "big");
		msgpack_pack_bin(pk, 290);
		msgpack_pack_bin_body(pk, bin, 290);
		mp_pack_cstr(pk, "f32");
		msgpack_pack_float(pk, 1.5f * (float)i);
		mp_pack_cstr(pk, "f64");
		msgpack_pack_double(pk, -0.1 * i);
		break;
	case 4:			/* an inbound message with media */
		fbuf_begin(fb, 8);
		mp_kv_str(pk, "t", "in");
		mp_kv_int(pk, "id", i);
		mp_kv_str(pk, "channel", "sms");
		mp_kv_str(pk, "pid", "SM00000000000000000000000000000001");
		mp_kv_str(pk, "from", "+15551234567");
		mp_kv_str(pk, "to", "+15557654321");
		mp_kv_str(pk, "text", "Where is my order? \xc3\xa9");
		mp_pack_cstr(pk, "media");
		msgpack_pack_array(pk, 2);
		for (k = 0; k < 2; k++) {
			msgpack_pack_map(pk, 2);
			mp_kv_str(pk, "url", "http://127.0.0.1:8099/m/1");
			mp_kv_str(pk, "type", "image/png");
		}
		break;
	case 5:			/* nesting to the allowed depth */
		fbuf_begin(fb, 1);
		mp_pack_cstr(pk, "n");
		for (k = 0; k < FRAME_DEPTH - 2; k++)
			msgpack_pack_array(pk, 1);
		msgpack_pack_map(pk, 1);
		mp_kv_int(pk, "deep", i);
		break;
	case 6:			/* array16 and map16 */
		fbuf_begin(fb, 2);
		mp_pack_cstr(pk, "arr");
		msgpack_pack_array(pk, 20 + (size_t)i);
		for (k = 0; k < 20 + i; k++)
			msgpack_pack_int(pk, k * (i + 1));
		mp_pack_cstr(pk, "map");
		msgpack_pack_map(pk, 17);
		for (k = 0; k < 17; k++) {
			char key[16];

			snprintf(key, sizeof(key), "k%d", k);
			mp_kv_int(pk, key, k);
		}
		break;
	case 7:			/* an event with a nested record */
		fbuf_begin(fb, 3);
		mp_kv_str(pk, "t", "ev");
		mp_kv_int(pk, "seq", 1000 + i);
		mp_pack_cstr(pk, "r");
		msgpack_pack_map(pk, 5);
		mp_kv_str(pk, "type", "status");
		mp_kv_str(pk, "status", "delivered");
		mp_kv_int(pk, "ts", 1763726400123LL + i);
		mp_kv_str(pk, "conv", "c_01JD0000000000000000000000");
		mp_pack_cstr(pk, "err");
		msgpack_pack_map(pk, 2);
		mp_kv_str(pk, "code", "21211");
		mp_kv_str(pk, "msg", "invalid 'To' number");
		break;
	case 8:			/* empty containers and an ext */
		fbuf_begin(fb, 4);
		mp_pack_cstr(pk, "ea");
		msgpack_pack_array(pk, 0);
		mp_pack_cstr(pk, "em");
		msgpack_pack_map(pk, 0);
		mp_pack_cstr(pk, "x");
		msgpack_pack_ext(pk, 5, 7);
		msgpack_pack_ext_body(pk, bin, 5);
		mp_pack_cstr(pk, "fx");
		msgpack_pack_ext(pk, 16, 1);
		msgpack_pack_ext_body(pk, bin, 16);
		break;
	default:		/* the smallest frame: an empty map */
		fbuf_begin(fb, 0);
		break;
	}
	if (fbuf_finish(fb) == -1) {
		fprintf(stderr, "fbuf_finish failed on frame %d\n", i);
		exit(99);
	}
}

#define NFRAMES	50

/* The canonical packing of a decoded object: what "identical" means. */
static void
canon(const msgpack_object *o, struct bytes *out)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_object(&pk, *o);
	out->len = 0;
	bytes_add(out, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/*
 * A receiver: bytes arrive in rx, whole frames are decoded and compared, in
 * order, with want[]; consumed bytes are dropped from the front.  Returns the
 * number of frames matched so far, or -1 on a mismatch or a refusal.
 */
struct rx {
	struct bytes	 buf;
	int		 got;
	int		 bad;
};

static void
rx_feed(struct rx *r, const unsigned char *p, size_t len,
    struct bytes *want)
{
	msgpack_unpacked up;
	struct bytes c = { 0 };
	const char *why;
	size_t used, off = 0;
	int d;

	bytes_add(&r->buf, p, len);
	msgpack_unpacked_init(&up);
	while (!r->bad) {
		d = frame_decode((const char *)r->buf.p + off,
		    r->buf.len - off, &up, &used, &why);
		if (d == 0)
			break;
		if (d == -1 || r->got >= NFRAMES) {
			r->bad = 1;
			break;
		}
		canon(&up.data, &c);
		if (c.len != want[r->got].len ||
		    memcmp(c.p, want[r->got].p, c.len) != 0)
			r->bad = 1;
		r->got++;
		off += used;
	}
	msgpack_unpacked_destroy(&up);
	if (off > 0) {
		memmove(r->buf.p, r->buf.p + off, r->buf.len - off);
		r->buf.len -= off;
	}
	free(c.p);
}

/* Heap bytes in use now (arena and mmap'd blocks). */
static size_t
heap_used(void)
{
#ifdef T_ASAN
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
#endif
}

/*
 * Decode a hostile frame of blen body bytes (hdr_len is what its header
 * claims).  Returns frame_decode's result; *grew is the heap growth while
 * the decoder's result is still held.
 */
static int
hostile(uint32_t hdr_len, const unsigned char *body, size_t blen,
    size_t *grew)
{
	msgpack_unpacked up;
	unsigned char *b;
	const char *why = NULL;
	size_t used, before;
	int r;

	if ((b = malloc(4 + blen)) == NULL)
		exit(99);
	b[0] = hdr_len >> 24;
	b[1] = hdr_len >> 16;
	b[2] = hdr_len >> 8;
	b[3] = hdr_len;
	if (blen)
		memcpy(b + 4, body, blen);
	msgpack_unpacked_init(&up);
	before = heap_used();
	r = frame_decode((const char *)b, 4 + blen, &up, &used, &why);
	*grew = heap_used() > before ? heap_used() - before : 0;
	if (r == -1 && why == NULL)
		r = -2;		/* a refusal must say why */
	msgpack_unpacked_destroy(&up);
	free(b);
	return r;
}

static int
refused(const unsigned char *body, size_t blen, const char *desc)
{
	size_t grew;
	char line[200];
	int r = hostile((uint32_t)blen, body, blen, &grew);

	snprintf(line, sizeof(line), "refused: %s", desc);
	ok(r == -1 && grew < 64 * 1024, line);
	if (r != -1 || grew >= 64 * 1024)
		printf("# frame_decode returned %d, heap grew %zu bytes\n",
		    r, grew);
	return r;
}

static long
maxrss_kb(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return 0;
	return ru.ru_maxrss;
}

int
main(void)
{
	struct fbuf fb;
	struct bytes stream = { 0 }, want[NFRAMES];
	msgpack_unpacked up;
	const char *why;
	size_t used, off, k, splits_bad = 0, i;
	struct rx r;
	long rss0;
	int d, nwhole = 0, whole_ok = 1;

	rss0 = maxrss_kb();

	/* the recorded stream */
	fbuf_init(&fb);
	for (d = 0; d < NFRAMES; d++) {
		make_frame(&fb, d);
		bytes_add(&stream, fbuf_data(&fb), fbuf_len(&fb));
	}
	fbuf_free(&fb);

	/* decoded whole: the reference */
	msgpack_unpacked_init(&up);
	memset(want, 0, sizeof(want));
	for (off = 0; off < stream.len && nwhole < NFRAMES; off += used) {
		if (frame_decode((const char *)stream.p + off,
		    stream.len - off, &up, &used, &why) != 1) {
			whole_ok = 0;
			printf("# frame %d refused: %s\n", nwhole, why);
			break;
		}
		canon(&up.data, &want[nwhole++]);
	}
	msgpack_unpacked_destroy(&up);
	ok(whole_ok && nwhole == NFRAMES && off == stream.len,
	    "a recorded stream of 50 varied frames decodes whole");
	printf("# stream is %zu bytes\n", stream.len);

	/* split in two at every offset, accumulating */
	for (k = 0; k <= stream.len; k++) {
		memset(&r, 0, sizeof(r));
		rx_feed(&r, stream.p, k, want);
		rx_feed(&r, stream.p + k, stream.len - k, want);
		if (r.bad || r.got != NFRAMES || r.buf.len != 0) {
			if (splits_bad++ == 0)
				printf("# split at %zu: %d frames, bad %d\n",
				    k, r.got, r.bad);
		}
		free(r.buf.p);
	}
	ok(splits_bad == 0,
	    "split in two at every byte offset, it decodes identically");

	/* one byte at a time */
	memset(&r, 0, sizeof(r));
	for (k = 0; k < stream.len; k++)
		rx_feed(&r, stream.p + k, 1, want);
	ok(!r.bad && r.got == NFRAMES && r.buf.len == 0,
	    "fed one byte at a time, it decodes identically");
	free(r.buf.p);

	/* a partial frame asks for more, never decodes early */
	msgpack_unpacked_init(&up);
	d = 1;
	for (k = 0; k < 4 + ((size_t)stream.p[2] << 8 | stream.p[3]) &&
	    d == 1; k++)
		if (frame_decode((const char *)stream.p, k, &up, &used,
		    &why) != 0)
			d = 0;
	msgpack_unpacked_destroy(&up);
	ok(d == 1, "every strict prefix of a frame means 'need more bytes'");

	/* values survive: look fields up in a decoded frame */
	{
		int64_t v = 0;
		const char *s = NULL;
		size_t sl = 0;

		msgpack_unpacked_init(&up);
		fbuf_init(&fb);
		make_frame(&fb, 4);
		d = frame_decode(fbuf_data(&fb), fbuf_len(&fb), &up, &used,
		    &why);
		ok(d == 1 && used == fbuf_len(&fb) &&
		    mp_int(&up.data, "id", &v) && v == 4 &&
		    mp_str(&up.data, "from", &s, &sl) && sl == 12 &&
		    memcmp(s, "+15551234567", 12) == 0,
		    "decoded fields read back (id, from)");
		ok(s >= fbuf_data(&fb) && s < fbuf_data(&fb) + fbuf_len(&fb),
		    "strings point into the receive buffer (zero-copy)");
		fbuf_free(&fb);
		msgpack_unpacked_destroy(&up);
	}

	/* hostile frames */
	{
		static const unsigned char map32[] =
		    { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 't' };
		static const unsigned char arr32[] =
		    { 0x81, 0xa1, 'a', 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0 };
		static const unsigned char map32in[] =
		    { 0x82, 0xa1, 't', 0xa1, 'x', 0xa1, 'm',
		      0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0 };
		static const unsigned char arr16[] =
		    { 0x81, 0xa1, 'a', 0xdc, 0xff, 0xff, 0x01, 0x02 };
		static const unsigned char str32[] =
		    { 0x81, 0xa1, 's', 0xdb, 0xff, 0xff, 0xff, 0xff, 'x' };
		static const unsigned char bin32[] =
		    { 0x81, 0xa1, 'b', 0xc6, 0xff, 0xff, 0xff, 0xff, 'x' };
		static const unsigned char trunc[] =
		    { 0x81, 0xa4, 't', 'e', 'x', 't', 0xa9, 'h', 'e', 'l' };
		static const unsigned char arrtop[] =
		    { 0x92, 0x01, 0x02 };
		static const unsigned char strtop[] =
		    { 0xa2, 'h', 'i' };
		static const unsigned char trail[] =
		    { 0x81, 0xa1, 't', 0xa4, 'p', 'i', 'n', 'g', 0xc0 };
		static const unsigned char twomaps[] =
		    { 0x80, 0x80 };
		static const unsigned char badbyte[] =
		    { 0x81, 0xa1, 't', 0xc1 };
		static const unsigned char shortmap[] =
		    { 0x83, 0xa1, 't', 0xc0 };
		unsigned char deep[200], ok16[200];
		size_t dl = 0, ol = 0, grew;

		refused(map32, sizeof(map32),
		    "top-level map declaring 2^32-1 pairs");
		refused(arr32, sizeof(arr32), "array declaring 2^32-1 items");
		refused(map32in, sizeof(map32in),
		    "nested map declaring 2^32-1 pairs");
		refused(arr16, sizeof(arr16),
		    "array16 declaring 65535 items in 2 bytes");
		refused(str32, sizeof(str32), "str32 of length 2^32-1");
		refused(bin32, sizeof(bin32), "bin32 of length 2^32-1");
		refused(trunc, sizeof(trunc), "string cut short inside frame");
		refused(arrtop, sizeof(arrtop), "top level is an array");
		refused(strtop, sizeof(strtop), "top level is a string");
		refused(trail, sizeof(trail), "trailing bytes after the map");
		refused(twomaps, sizeof(twomaps), "two maps in one frame");
		refused(badbyte, sizeof(badbyte),
		    "reserved type byte 0xc1");
		refused(shortmap, sizeof(shortmap),
		    "map with fewer pairs than declared");

		/* 40 levels: {"a":[[[[ ... ]]]]} */
		deep[dl++] = 0x81;
		deep[dl++] = 0xa1;
		deep[dl++] = 'a';
		for (i = 0; i < 39; i++)
			deep[dl++] = 0x91;
		deep[dl++] = 0xc0;
		refused(deep, dl, "40-deep nesting");

		/* exactly FRAME_DEPTH containers is allowed ... */
		ok16[ol++] = 0x81;
		ok16[ol++] = 0xa1;
		ok16[ol++] = 'a';
		for (i = 0; i < FRAME_DEPTH - 1; i++)
			ok16[ol++] = 0x91;
		ok16[ol++] = 0xc0;
		ok(hostile((uint32_t)ol, ok16, ol, &grew) == 1,
		    "FRAME_DEPTH nested containers are accepted");
		/* ... one more is not */
		memmove(ok16 + 4, ok16 + 3, ol - 3);
		ok16[3] = 0x91;
		ol++;
		refused(ok16, ol, "FRAME_DEPTH + 1 nested containers");

		/* lengths in the header */
		ok(hostile(FRAME_MAX + 1, NULL, 0, &grew) == -1,
		    "a header over 1 MiB is refused before its body arrives");
		ok(hostile(0xffffffffu, NULL, 0, &grew) == -1,
		    "a header of 2^32-1 bytes is refused");
		ok(hostile(0, NULL, 0, &grew) == -1,
		    "a zero-length frame is refused");
		ok(hostile(100, trail, 5, &grew) == 0,
		    "a body shorter than its header asks for more bytes");
	}

	/* the 1 MiB limit, exactly */
	{
		static const unsigned char hdr[] = { 0x81, 0xa1, 'b', 0xc6 };
		unsigned char *body;
		size_t blen = FRAME_MAX, sz, grew;
		int r1, r2;

		/* {"b": bin32 of FRAME_MAX - 8 bytes} is FRAME_MAX bytes */
		if ((body = calloc(1, FRAME_MAX + 1)) == NULL)
			exit(99);
		memcpy(body, hdr, sizeof(hdr));
		sz = FRAME_MAX - 8;
		body[4] = sz >> 24;
		body[5] = sz >> 16;
		body[6] = sz >> 8;
		body[7] = sz;
		r1 = hostile((uint32_t)blen, body, blen, &grew);
		sz++;
		body[4] = sz >> 24;
		body[5] = sz >> 16;
		body[6] = sz >> 8;
		body[7] = sz;
		r2 = hostile((uint32_t)blen + 1, body, blen + 1, &grew);
		ok(r1 == 1 && r2 == -1,
		    "a frame of exactly 1 MiB is accepted, 1 MiB + 1 is not");
		free(body);

		fbuf_init(&fb);
		fbuf_begin(&fb, 1);
		mp_pack_cstr(&fb.pk, "b");
		msgpack_pack_bin(&fb.pk, FRAME_MAX);
		body = calloc(1, FRAME_MAX);
		if (body == NULL)
			exit(99);
		msgpack_pack_bin_body(&fb.pk, body, FRAME_MAX);
		ok(fbuf_finish(&fb) == -1,
		    "fbuf_finish refuses a body over 1 MiB");
		free(body);
		fbuf_free(&fb);
	}

	/* fbuf: the header holds the body length; begin starts afresh */
	fbuf_init(&fb);
	fbuf_begin(&fb, 1);
	mp_kv_str(&fb.pk, "t", "ping");
	fbuf_finish(&fb);
	fbuf_begin(&fb, 1);
	mp_kv_str(&fb.pk, "t", "in");
	d = fbuf_finish(&fb);
	ok(d == 0 && fbuf_len(&fb) == 4 + 6 &&
	    memcmp(fbuf_data(&fb), "\0\0\0\x06\x81\xa1t\xa2in", 10) == 0,
	    "fbuf_begin starts a new frame; the header is the body length");
	fbuf_free(&fb);

#ifdef T_ASAN
	n++;
	printf("ok %d # SKIP peak RSS is ASan's shadow and quarantine here\n",
	    n);
	(void)rss0;
#else
	ok(maxrss_kb() - rss0 < 32 * 1024,
	    "peak memory stayed bounded (under 32 MiB over the start)");
	printf("# max rss grew %ld KiB\n", maxrss_kb() - rss0);
#endif

	for (d = 0; d < NFRAMES; d++)
		free(want[d].p);
	free(stream.p);
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
