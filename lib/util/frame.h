/*
 * frame — parley's wire framing: a 4-byte big-endian length, then exactly one
 * msgpack map of that many bytes, at most FRAME_MAX.
 *
 * msgpack-c allocates a container's declared element count before the
 * elements arrive, so every frame is pre-scanned: declared counts must fit in
 * the bytes present and nesting is bounded.  Hostile input costs a dropped
 * connection, never a crash or a large allocation.
 */
#ifndef PARLEY_FRAME_H
#define PARLEY_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#define FRAME_MAX	(1024 * 1024)	/* body bytes */
#define FRAME_DEPTH	16		/* nesting of containers */

/*
 * Check that buf[0..len) is exactly one well-formed msgpack map whose declared
 * container counts fit in the bytes present.  0 if so, -1 with *why set.
 */
int	frame_prescan(const void *buf, size_t len, const char **why);

/*
 * Decode the frame at the head of buf (avail bytes).  1: one frame decoded
 * into *up (zero-copy: strings point into buf, valid while buf is) and *used
 * set to its size on the wire; 0: more bytes needed; -1: malformed (*why).
 * up must have been msgpack_unpacked_init'ed.
 */
int	frame_decode(const char *buf, size_t avail, msgpack_unpacked *up,
	    size_t *used, const char **why);

/* An outgoing frame under construction. */
struct fbuf {
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
};

void	fbuf_init(struct fbuf *);
void	fbuf_free(struct fbuf *);
/* Start a frame holding a map of nkeys entries (the caller packs them). */
void	fbuf_begin(struct fbuf *, uint32_t nkeys);
/* Patch the length; -1 if the body is over FRAME_MAX. */
int	fbuf_finish(struct fbuf *);
#define fbuf_data(f)	((f)->sb.data)
#define fbuf_len(f)	((f)->sb.size)

#endif
