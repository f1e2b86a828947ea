/*
 * msg_sub — the subscription loop that msg tail and msg transcript run:
 * routerd's event log from a seq, the last N events, or from now, for the
 * whole log or one conversation, each event handed to the caller once and
 * in order.
 *
 * With follow the stream never ends: when routerd drops us for falling
 * behind ("slow") or goes away, we reconnect with capped backoff and resume
 * from the seq after the last one handed over, so no event is given twice
 * and none is skipped.  Output is flushed whenever msg would otherwise wait
 * for the daemon, so "msg tail -f | jq" sees each event at once while a
 * long backlog still goes out in large writes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mp.h"
#include "proto.h"
#include "rec.h"
#include "msg.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * What to ask for: after something was printed, the seq after it; before,
 * the original request (or, for "from now", the seq after the first answer).
 */
static void
pack_sub(struct fbuf *fb, const struct msg_sub *s, int64_t id,
    int64_t resume)
{
	uint32_t n = 3;
	int use_since = resume > 0 || s->since >= 0;
	int use_last = !use_since && s->last > 0;

	n += use_since + use_last + (s->conv != NULL);
	fbuf_begin(fb, n);
	mp_kv_str(&fb->pk, "t", "sub");
	mp_kv_int(&fb->pk, "id", id);
	mp_kv_bool(&fb->pk, "follow", s->follow);
	if (use_since)
		mp_kv_int(&fb->pk, "since", resume > 0 ? resume : s->since);
	if (use_last)
		mp_kv_int(&fb->pk, "last", s->last);
	if (s->conv != NULL)
		mp_kv_str(&fb->pk, "conv", s->conv);
}

int
msg_sub_run(const struct msg_sub *s)
{
	struct busc c;
	struct fbuf fb;
	const msgpack_object *f, *ans, *r;
	const char *why;
	int64_t id, seq, resume = 0, printed = -1;
	int backoff = 0, warned = 0, rc;

	fbuf_init(&fb);
	for (;;) {
		if (backoff > 0)
			sleep_ms(backoff);
		if (msg_connect(&c, "routerd", MSG_TIMEOUT_MS, &why) == -1) {
			if (!s->follow)
				msg_die(MSG_EX_UNREACH, "routerd: %s", why);
			if (!warned++)
				msg_err("routerd: %s; retrying", why);
			backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
			if (backoff > BACKOFF_MAX_MS)
				backoff = BACKOFF_MAX_MS;
			continue;
		}
		id = busc_next_id(&c);
		pack_sub(&fb, s, id, printed >= 0 ? printed + 1 : resume);
		if (busc_call(&c, &fb, id, &ans) == -1) {
			if (!s->follow)
				msg_die(MSG_EX_UNREACH, "routerd: %s", c.err);
			busc_close(&c);
			backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
			if (backoff > BACKOFF_MAX_MS)
				backoff = BACKOFF_MAX_MS;
			continue;
		}
		{
			char reason[512];

			if (msg_answer_err(ans, reason, sizeof(reason)))
				msg_die(MSG_EX_REFUSED, "%s", reason);
		}
		if (warned)
			msg_err("routerd: connected again");
		warned = 0;
		backoff = 0;
		/* "from now": pin now, so a reconnect does not skip events */
		if (printed < 0 && resume == 0 && s->since < 0 && s->last <= 0 &&
		    mp_int(ans, "seq", &seq))
			resume = seq + 1;
		for (;;) {
			if ((rc = busc_recv(&c, 0, &f)) == 0) {
				msg_out_flush();
				rc = busc_recv(&c, s->follow ? -1 :
				    MSG_TIMEOUT_MS, &f);
			}
			if (rc != 1) {
				if (!s->follow)
					msg_die(MSG_EX_UNREACH, "routerd: %s",
					    rc == 0 ? "no events (timed out)" :
					    c.err);
				if (!warned++)
					msg_err("routerd: %s; reconnecting",
					    c.err);
				backoff = BACKOFF_MIN_MS;
				break;
			}
			switch (proto_type(f)) {
			case PT_EV:
				r = mp_get(f, "r");
				if (!mp_int(f, "seq", &seq) || seq < 0 ||
				    r == NULL || r->type != MSGPACK_OBJECT_MAP)
					continue;
				if (seq <= printed)
					continue;
				s->emit((uint64_t)seq, r, s->arg);
				printed = seq;
				continue;
			case PT_EOF:
				if (s->follow)
					continue;
				busc_close(&c);
				fbuf_free(&fb);
				msg_out_flush();
				return MSG_EX_OK;
			case PT_SLOW:
				/* dropped for falling behind: resume at once */
				msg_err("routerd: this reader fell behind; "
				    "resuming after seq %lld", (long long)printed);
				warned++;
				break;
			default: {
				char reason[512];

				/* the subscription refused after all (the
				 * caller's role changed): say why, exit 1 */
				if (mp_get(f, "err") && msg_answer_err(f,
				    reason, sizeof(reason)))
					msg_die(MSG_EX_REFUSED, "%s", reason);
				continue;
			}
			}
			break;
		}
		busc_close(&c);
	}
}

void
msg_sub_json(uint64_t seq, const msgpack_object *r, void *arg)
{
	char *line;

	if ((line = rec_event_line(seq, r)) == NULL) {
		msg_err("event %llu: cannot convert to JSON",
		    (unsigned long long)seq);
		return;
	}
	msg_out_line(line);
	free(line);
}
