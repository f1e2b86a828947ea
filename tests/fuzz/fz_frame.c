/*
 * fz_frame — fuzz target for frame_decode, the first code to touch bytes
 * from any bus peer.  The input is treated as a received stream: frames are
 * decoded one after another until one is refused or more bytes are needed.
 * Every decoded frame must also survive a round trip (pack the object,
 * frame it, decode it again, pack it again: the same bytes), and its fields
 * are read with the mp_* helpers as handlers do.  Any crash, sanitizer
 * report or abort() here is a bug; refusals are the expected outcome.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "mp.h"

/* Read the fields handlers read, whatever their types. */
static void
touch(const msgpack_object *m)
{
	char buf[64];
	const char *s;
	size_t len;
	int64_t v;
	int b;
	char *d;

	(void)mp_str(m, "t", &s, &len);
	(void)mp_int(m, "id", &v);
	(void)mp_int(m, "re", &v);
	(void)mp_bool(m, "ok", &b);
	(void)mp_strcpy(m, "pid", buf, sizeof(buf));
	if ((d = mp_strdup(m, "text")) != NULL)
		free(d);
	(void)mp_get(mp_get(m, "err"), "code");
}

/* Pack o into a fresh frame; -1 when it is over FRAME_MAX. */
static int
reframe(const msgpack_object *o, struct fbuf *fb)
{
	static const char zero[4];

	fb->sb.size = 0;
	msgpack_sbuffer_write(&fb->sb, zero, 4);
	msgpack_pack_object(&fb->pk, *o);
	return fbuf_finish(fb);
}

static void
roundtrip(const msgpack_object *o)
{
	struct fbuf a, b;
	msgpack_unpacked up;
	const char *why;
	size_t used;

	fbuf_init(&a);
	fbuf_init(&b);
	msgpack_unpacked_init(&up);
	/* the canonical packing is never longer than what was accepted */
	if (reframe(o, &a) == -1)
		abort();
	if (frame_decode(fbuf_data(&a), fbuf_len(&a), &up, &used, &why) != 1 ||
	    used != fbuf_len(&a))
		abort();
	if (reframe(&up.data, &b) == -1 || fbuf_len(&a) != fbuf_len(&b) ||
	    memcmp(fbuf_data(&a), fbuf_data(&b), fbuf_len(&a)) != 0)
		abort();
	msgpack_unpacked_destroy(&up);
	fbuf_free(&a);
	fbuf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_unpacked up;
	const char *why;
	size_t off = 0, used;
	int r;

	/* the pre-scan alone, on the raw input as a frame body */
	(void)frame_prescan(data, size, &why);

	msgpack_unpacked_init(&up);
	while (off < size) {
		why = NULL;
		r = frame_decode((const char *)data + off, size - off, &up,
		    &used, &why);
		if (r == -1 && why == NULL)
			abort();	/* a refusal always says why */
		if (r != 1)
			break;
		if (used < 5 || used > size - off ||
		    up.data.type != MSGPACK_OBJECT_MAP)
			abort();
		touch(&up.data);
		roundtrip(&up.data);
		off += used;
	}
	msgpack_unpacked_destroy(&up);
	return 0;
}
