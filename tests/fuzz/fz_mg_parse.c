/*
 * fz_mg_parse — fuzz target for mg_parse, which messengerd runs on every
 * signed webhook body (bin/messengerd/messengerd_parse.c, linked in: see
 * the Makefile's MG_PARSE).  A refusal must say why
 * and give no items; an accepted body gives items whose frames are each
 * one well-formed msgpack map with "t" "in" or "st", a channel "messenger"
 * or "instagram", a pid of at most 127 bytes and "from" and "to" ids, within
 * the bus's frame limit, and every string in it valid UTF-8 without a NUL
 * (invalid input is repaired, never passed on).  The seeds are the golden
 * webhooks of tests/golden/messenger.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "mp.h"
#include "valid.h"

#include "../../bin/messengerd/messengerd.h"

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
	struct mg_items items;
	struct fbuf fb;
	msgpack_unpacked up;
	char err[256] = "", t[8], ch[16], pid[MG_PID_MAX + 1],
	    from[MG_ID_MAX + 1], to[MG_ID_MAX + 1];
	size_t i, off;

	mg_items_init(&items);
	if (mg_parse((const char *)data, size, &items, err, sizeof(err)) == -1) {
		if (err[0] == '\0' || items.n != 0)
			abort();
		goto done;
	}
	for (i = 0; i < items.n; i++) {
		fbuf_init(&fb);
		mg_item_frame(&items.v[i], (int64_t)i + 1, "A name", &fb);
		msgpack_unpacked_init(&up);
		off = 0;
		if (fbuf_finish(&fb) == -1 || fb.sb.size < 4 ||
		    fb.sb.size > 1024 * 1024 ||
		    msgpack_unpack_next(&up, fb.sb.data + 4, fb.sb.size - 4,
		    &off) != MSGPACK_UNPACK_SUCCESS || off != fb.sb.size - 4 ||
		    up.data.type != MSGPACK_OBJECT_MAP ||
		    !mp_strcpy(&up.data, "t", t, sizeof(t)) ||
		    (strcmp(t, "in") != 0 && strcmp(t, "st") != 0) ||
		    !mp_strcpy(&up.data, "channel", ch, sizeof(ch)) ||
		    (strcmp(ch, "messenger") != 0 &&
		    strcmp(ch, "instagram") != 0) ||
		    !mp_strcpy(&up.data, "pid", pid, sizeof(pid)) ||
		    pid[0] == '\0' ||
		    !mp_strcpy(&up.data, "from", from, sizeof(from)) ||
		    !mg_is_id(from, strlen(from)) ||
		    !mp_strcpy(&up.data, "to", to, sizeof(to)) ||
		    !mg_is_id(to, strlen(to)) || !strings_ok(&up.data))
			abort();
		msgpack_unpacked_destroy(&up);
		fbuf_free(&fb);
	}
done:
	mg_items_free(&items);
	return 0;
}
