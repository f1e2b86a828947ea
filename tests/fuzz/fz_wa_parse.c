/*
 * fz_wa_parse — fuzz target for wa_parse, which whatsappd runs on every
 * signed webhook body (bin/whatsappd/whatsappd_parse.c, linked in: see
 * the Makefile's WA_PARSE).  A refusal must say why and give
 * no items; an accepted body gives items whose frames are each one
 * well-formed msgpack map with "t" "in" or "st", a channel "whatsapp" and
 * a pid, within the bus's frame limit, and every string in it valid UTF-8
 * without a NUL (invalid input is repaired, never passed on).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "mp.h"
#include "valid.h"

#include "../../bin/whatsappd/whatsappd.h"

/* Every string under o is UTF-8 without NUL (keys too). */
static int
strings_ok(const msgpack_object *o)
{
	uint32_t i;

	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		return valid_utf8(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_ARRAY:
		for (i = 0; i < o->via.array.size; i++)
			if (!strings_ok(&o->via.array.ptr[i]))
				return 0;
		return 1;
	case MSGPACK_OBJECT_MAP:
		for (i = 0; i < o->via.map.size; i++)
			if (!strings_ok(&o->via.map.ptr[i].key) ||
			    !strings_ok(&o->via.map.ptr[i].val))
				return 0;
		return 1;
	default:
		return 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wa_items items;
	struct fbuf fb;
	msgpack_unpacked up;
	char err[256] = "", t[8], ch[16], pid[WA_PID_MAX + 1];
	size_t i, off;

	wa_items_init(&items);
	if (wa_parse((const char *)data, size, &items, err, sizeof(err)) == -1) {
		if (err[0] == '\0' || items.n != 0)
			abort();
		goto done;
	}
	for (i = 0; i < items.n; i++) {
		fbuf_init(&fb);
		wa_item_frame(&items.v[i], (int64_t)i + 1, &fb);
		msgpack_unpacked_init(&up);
		off = 0;
		/* the frame: 4 bytes of length, then one map */
		if (fbuf_finish(&fb) == -1 || fb.sb.size < 4 ||
		    msgpack_unpack_next(&up, fb.sb.data + 4, fb.sb.size - 4,
		    &off) != MSGPACK_UNPACK_SUCCESS || off != fb.sb.size - 4 ||
		    up.data.type != MSGPACK_OBJECT_MAP ||
		    !mp_strcpy(&up.data, "t", t, sizeof(t)) ||
		    (strcmp(t, "in") != 0 && strcmp(t, "st") != 0) ||
		    !mp_strcpy(&up.data, "channel", ch, sizeof(ch)) ||
		    strcmp(ch, "whatsapp") != 0 ||
		    !mp_strcpy(&up.data, "pid", pid, sizeof(pid)) ||
		    pid[0] == '\0' || !strings_ok(&up.data))
			abort();
		msgpack_unpacked_destroy(&up);
		fbuf_free(&fb);
	}
done:
	wa_items_free(&items);
	return 0;
}
