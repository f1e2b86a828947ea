/*
 * held — answers released by the group commit (held.h has the contract).
 *
 * Every program that writes used to carry its own copy of this: a struct
 * with the caller, the request id and a few fields, a store_after callback
 * that packed the answer or the store's error, and the caller's reference
 * count (seven copies in routerd, one in campaignd).  This is the one they
 * share.  The answer is packed when the handler knows it, into a frame
 * kept here, so the callback only has to choose between it, the refusal,
 * and the store's error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "held.h"
#include "log.h"

struct held {
	struct bus_caller	*bc;
	int64_t			 re;
	struct store		*st;
	struct fbuf		 fb;		/* the ok answer, if packed */
	int			 packed;
	char			*code;		/* a refusal, or NULL */
	char			*msg;
	store_done_cb		 then;
	void			*then_arg;
};

struct held *
held_new(struct bus_caller *bc, int64_t re)
{
	struct held *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		fatalx("out of memory");
	h->bc = bc;
	h->re = re;
	fbuf_init(&h->fb);
	bus_caller_hold(bc);
	return h;
}

msgpack_packer *
held_ok(struct held *h, uint32_t nextra)
{
	bus_answer_begin(&h->fb, h->re, nextra);
	h->packed = 1;
	return &h->fb.pk;
}

void
held_refuse(struct held *h, const char *code, const char *fmt, ...)
{
	va_list ap;

	free(h->code);
	free(h->msg);
	va_start(ap, fmt);
	if ((h->code = strdup(code)) == NULL ||
	    vasprintf(&h->msg, fmt, ap) == -1)
		fatalx("out of memory");
	va_end(ap);
}

void
held_then(struct held *h, store_done_cb cb, void *arg)
{
	if (h->then != NULL)
		fatalx("held_then twice on one answer");
	h->then = cb;
	h->then_arg = arg;
}

void
held_free(struct held *h)
{
	bus_caller_release(h->bc);
	fbuf_free(&h->fb);
	free(h->code);
	free(h->msg);
	free(h);
}

/* The store's callback: the answer, the refusal, or the store's error. */
static void
held_done(void *arg, int committed)
{
	struct held *h = arg;

	if (h->bc->c != NULL) {
		if (!committed)
			bus_answer_err(h->bc->c, h->re, "store", h->st ?
			    store_error(h->st) : "store error");
		else if (h->code != NULL)
			bus_answer_err(h->bc->c, h->re, h->code, h->msg);
		else {
			if (!h->packed)
				held_ok(h, 0);
			bus_send(h->bc->c, &h->fb);
		}
	}
	if (h->then != NULL)
		h->then(h->then_arg, committed);
	held_free(h);
}

void
held_after(struct held *h, struct store *st)
{
	h->st = st;
	store_after(st, held_done, h);
}

void
held_fail(struct held *h, struct store *st, int rc, const char *what)
{
	held_after(h, st);
	store_fail(st, rc, what);
}

void
held_now(struct held *h)
{
	held_done(h, 1);
}

int
held_fits(struct held *h)
{
	if (!h->packed)
		return 0;
	return fbuf_finish(&h->fb);
}
