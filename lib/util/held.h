/*
 * held — an answer held until the group commit is on disk.
 *
 * A request that writes is answered only once its batch is committed
 * (store.h): the handler does its writes in the batch, builds its answer
 * in a held, and hands it to the store.  When the batch commits the answer
 * goes to the caller, if its connection is still there; when the batch is
 * abandoned the caller is told err {code:"store"} with the store's reason
 * instead, whatever the answer was to be.  The caller's record (a
 * bus_caller) is held meanwhile, so the connection may go first.
 *
 *	h = held_new(&cl->bc, re);
 *	if ((rc = write...(txn)) != 0) {
 *		held_fail(h, st, rc, "doing what");	(answers err "store")
 *		return;
 *	}
 *	pk = held_ok(h, 1);
 *	mp_kv_str(pk, "conv", id);
 *	held_after(h, st);
 *
 * A refusal recorded in the batch (an event saying what was refused) waits
 * for the commit the same way (held_refuse).  What else waited on the same
 * commit — a message to dispatch — runs after the answer (held_then).
 */
#ifndef PARLEY_HELD_H
#define PARLEY_HELD_H

#include <stdint.h>
#include <msgpack.h>

#include "bus.h"
#include "store.h"

struct held;

/* An answer to request re of bc (held too): {re, ok:true} until
 * held_ok or held_refuse say more. */
struct held *held_new(struct bus_caller *, int64_t re);
/* The answer is {re, ok:true, ...}: pack nextra key/value pairs into the
 * packer returned (replacing what an earlier held_ok packed). */
msgpack_packer *held_ok(struct held *, uint32_t nextra);
/* The answer is the refusal {re, err:{code, msg}}. */
void	held_refuse(struct held *, const char *code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Once answered, call cb(arg, committed) whether or not the caller is
 * still there: what waited on the same commit (one per held). */
void	held_then(struct held *, store_done_cb cb, void *arg);
/* Hand h to st: answered after the current batch commits (or at once when
 * none is open), err "store" if it is abandoned.  h is st's now. */
void	held_after(struct held *, struct store *st);
/* The batch's write failed with rc: h is handed to st and the batch
 * abandoned (store_fail, logged with what), so h answers err "store". */
void	held_fail(struct held *, struct store *st, int rc, const char *what);
/* Answer now, as committed: a read that waited on no batch.  h is freed. */
void	held_now(struct held *);
/* -1 when the answer packed is over FRAME_MAX (then held_free it and
 * refuse); 0 when it fits. */
int	held_fits(struct held *);
/* Drop h unanswered (its hold on the caller released). */
void	held_free(struct held *);

#endif
