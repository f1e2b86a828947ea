/*
 * frame — length-prefixed msgpack maps, with a pre-scan that refuses
 * containers whose declared counts exceed the bytes present (msgpack-c would
 * otherwise allocate them) and nesting deeper than FRAME_DEPTH.
 */
#include <string.h>

#include "frame.h"

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
bevar(const unsigned char *p, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

int
frame_prescan(const void *vbuf, size_t len, const char **why)
{
	const unsigned char *b = vbuf;
	uint64_t stack[FRAME_DEPTH + 1];
	int sp = 0;
	size_t pos = 0;

	if (len == 0 || !((b[0] & 0xf0) == 0x80 || b[0] == 0xde ||
	    b[0] == 0xdf)) {
		*why = "frame is not a map";
		return -1;
	}
	stack[0] = 1;
	while (sp >= 0) {
		unsigned char c;
		uint64_t n = 0, skip = 0;
		int kind = 0;	/* 0 scalar/blob, 1 array, 2 map */
		size_t hdr = 1;

		if (stack[sp] == 0) {
			sp--;
			continue;
		}
		stack[sp]--;
		if (pos >= len)
			goto shortbuf;
		c = b[pos];
		if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 ||
		    c == 0xc3)
			;
		else if ((c & 0xf0) == 0x80) {
			kind = 2;
			n = c & 0x0f;
		} else if ((c & 0xf0) == 0x90) {
			kind = 1;
			n = c & 0x0f;
		} else if ((c & 0xe0) == 0xa0)
			skip = c & 0x1f;
		else {
			int lb = 0;

			switch (c) {
			case 0xc4: case 0xd9: lb = 1; break;	/* bin8 str8 */
			case 0xc5: case 0xda: lb = 2; break;
			case 0xc6: case 0xdb: lb = 4; break;
			case 0xc7: lb = 1; skip = 1; break;	/* ext8 + type */
			case 0xc8: lb = 2; skip = 1; break;
			case 0xc9: lb = 4; skip = 1; break;
			case 0xcc: case 0xd0: skip = 1; break;
			case 0xcd: case 0xd1: skip = 2; break;
			case 0xca: case 0xce: case 0xd2: skip = 4; break;
			case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
			case 0xd4: skip = 2; break;		/* fixext */
			case 0xd5: skip = 3; break;
			case 0xd6: skip = 5; break;
			case 0xd7: skip = 9; break;
			case 0xd8: skip = 17; break;
			case 0xdc: kind = 1; lb = 2; break;
			case 0xdd: kind = 1; lb = 4; break;
			case 0xde: kind = 2; lb = 2; break;
			case 0xdf: kind = 2; lb = 4; break;
			default:
				*why = "invalid msgpack type byte";
				return -1;
			}
			if (lb) {
				if (len - pos < 1 + (size_t)lb)
					goto shortbuf;
				n = bevar(b + pos + 1, lb);
				hdr += lb;
				if (kind == 0)
					skip += n;
			}
		}
		pos += hdr;
		if (kind == 0) {
			if (skip > len - pos)
				goto shortbuf;
			pos += skip;
			continue;
		}
		if (kind == 2)
			n *= 2;
		/* every element takes at least one byte */
		if (n > len - pos) {
			*why = "declared container count exceeds frame";
			return -1;
		}
		if (n == 0)
			continue;
		if (sp + 1 > FRAME_DEPTH) {
			*why = "frame nested too deeply";
			return -1;
		}
		stack[++sp] = n;
	}
	if (pos != len) {
		*why = "trailing bytes after map";
		return -1;
	}
	return 0;
shortbuf:
	*why = "frame truncated";
	return -1;
}

int
frame_decode(const char *buf, size_t avail, msgpack_unpacked *up,
    size_t *used, const char **why)
{
	uint32_t len;
	size_t off = 0;
	msgpack_unpack_return r;

	if (avail < 4)
		return 0;
	len = be32((const unsigned char *)buf);
	if (len > FRAME_MAX) {
		*why = "frame over 1 MiB";
		return -1;
	}
	if (len == 0) {
		*why = "empty frame";
		return -1;
	}
	if (avail - 4 < len)
		return 0;
	if (frame_prescan(buf + 4, len, why) == -1)
		return -1;
	r = msgpack_unpack_next(up, buf + 4, len, &off);
	if (r != MSGPACK_UNPACK_SUCCESS || off != len ||
	    up->data.type != MSGPACK_OBJECT_MAP) {
		*why = "msgpack decode failed";
		return -1;
	}
	*used = 4 + (size_t)len;
	return 1;
}

void
fbuf_init(struct fbuf *f)
{
	msgpack_sbuffer_init(&f->sb);
	msgpack_packer_init(&f->pk, &f->sb, msgpack_sbuffer_write);
}

void
fbuf_free(struct fbuf *f)
{
	msgpack_sbuffer_destroy(&f->sb);
	memset(f, 0, sizeof(*f));
}

void
fbuf_begin(struct fbuf *f, uint32_t nkeys)
{
	static const char zero[4];

	f->sb.size = 0;
	msgpack_sbuffer_write(&f->sb, zero, 4);
	msgpack_pack_map(&f->pk, nkeys);
}

int
fbuf_finish(struct fbuf *f)
{
	size_t n = f->sb.size - 4;
	unsigned char *p = (unsigned char *)f->sb.data;

	if (n > FRAME_MAX)
		return -1;
	p[0] = n >> 24;
	p[1] = n >> 16;
	p[2] = n >> 8;
	p[3] = n;
	return 0;
}
