/*
 * busc — a small blocking bus client for command-line tools (msg): connect
 * to a daemon's Unix socket, say hello, send frames and read them back one
 * at a time.  Daemons use bus.h on libevent; msg has no event loop and wants
 * plain calls that either answer or time out.
 *
 * Frames are read into a growing buffer capped at 4 + FRAME_MAX and decoded
 * with frame_decode, so a hostile or broken peer costs an error, never a
 * large allocation.
 */
#ifndef PARLEY_BUSC_H
#define PARLEY_BUSC_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "frame.h"

struct busc {
	int		 fd;
	int		 timeout_ms;	/* waits in busc_call; -1: forever */
	int64_t		 next_id;
	char		*buf;		/* bytes read, frame at the head */
	size_t		 len, cap;
	size_t		 used;		/* wire size of the frame last returned */
	msgpack_unpacked up;
	char		 err[192];	/* why the last call failed */
};

/*
 * Connect to the socket at path, send hello {t,id,v,name} and check the
 * answer (ok and the same protocol version).  timeout_ms (> 0, or -1 for
 * none) bounds each wait in busc_call and each blocked write.  0, or -1
 * with c->err set; c must be busc_close'd either way.
 */
int	busc_open(struct busc *c, const char *path, const char *name,
	    int timeout_ms);
/* Close the socket and free the buffers (idempotent). */
void	busc_close(struct busc *c);
/* A fresh request id. */
int64_t	busc_next_id(struct busc *c);
/* Finish f and write it all; -1 with c->err if the peer is gone. */
int	busc_send(struct busc *c, struct fbuf *f);
/*
 * The next frame into *f, valid until the next busc_recv/busc_call.
 * timeout_ms: -1 waits forever, 0 only takes what is already readable.
 * 1: a frame; 0: none within the timeout; -1: the connection closed or
 * failed, or a malformed frame (c->err says which).
 */
int	busc_recv(struct busc *c, int timeout_ms, const msgpack_object **f);
/*
 * Send f (packed with "id" = id) and wait, up to c->timeout_ms per frame,
 * for the frame answering it; other frames are skipped.  1: the answer in
 * *ans (it may carry "err"); -1 with c->err on a lost connection or timeout.
 */
int	busc_call(struct busc *c, struct fbuf *f, int64_t id,
	    const msgpack_object **ans);
/*
 * When ans carries err {code,msg}: 1 and the code/msg strings (NUL-free
 * copies into the buffers, possibly truncated).  0 if ans is a success.
 */
int	busc_answer_err(const msgpack_object *ans, char *code, size_t codesz,
	    char *msg, size_t msgsz);

#endif
