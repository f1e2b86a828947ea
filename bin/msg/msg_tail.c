/*
 * msg tail — routerd's event log as JSON Lines (or msgpack), and the
 * subscription loop that msg transcript shares.
 *
 * With -f the stream never ends: when routerd drops us for falling behind
 * ("slow") or goes away, we reconnect with capped backoff and resume from
 * the seq after the last one printed, so no event is printed twice and none
 * is skipped.  Output is flushed whenever msg would otherwise wait for the
 * daemon, so "msg tail -f | jq" sees each event at once while a long backlog
 * still goes out in large writes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mp.h"
#include "msg.h"
#include "proto.h"
#include "rec.h"

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

static void
emit_json(uint64_t seq, const msgpack_object *r, void *arg)
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

/* {seq, ...record} as one msgpack map; times stay milliseconds. */
static void
emit_msgpack(uint64_t seq, const msgpack_object *r, void *arg)
{
	msgpack_sbuffer *sb = arg;
	msgpack_packer pk;
	uint32_t i, n = 1;

	for (i = 0; i < r->via.map.size; i++)
		if (!mp_streq(&r->via.map.ptr[i].key, "seq"))
			n++;
	sb->size = 0;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	mp_pack_cstr(&pk, "seq");
	msgpack_pack_uint64(&pk, seq);
	for (i = 0; i < r->via.map.size; i++)
		if (!mp_streq(&r->via.map.ptr[i].key, "seq")) {
			msgpack_pack_object(&pk, r->via.map.ptr[i].key);
			msgpack_pack_object(&pk, r->via.map.ptr[i].val);
		}
	msg_out_raw(sb->data, sb->size);
}

/* A non-negative integer option, or a usage error. */
static int64_t
num_arg(const char *opt, const char *v)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end != '\0' || n < 0) {
		msg_err("%s: not a non-negative number: %s", opt, v);
		msg_usage();
	}
	return n;
}

int
msg_tail(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "lines", required_argument, NULL, 'n' },
		{ "since", required_argument, NULL, 's' },
		{ "conv", required_argument, NULL, 'C' },
		{ "msgpack", no_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct msg_sub s;
	msgpack_sbuffer sb;
	int ch, mpk = 0, rc;

	memset(&s, 0, sizeof(s));
	s.since = -1;
	s.last = 10;
	while ((ch = getopt_long(argc, argv, "fn:h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			s.follow = 1;
			break;
		case 'n':
			s.last = num_arg("-n", optarg);
			break;
		case 's':
			s.since = num_arg("--since", optarg);
			break;
		case 'C':
			if (*optarg == '\0')
				msg_usage();
			s.conv = optarg;
			break;
		case 'M':
			mpk = 1;
			break;
		default:
			msg_usage();
		}
	}
	if (optind != argc)
		msg_usage();
	if (s.since >= 0)
		s.last = -1;
	msgpack_sbuffer_init(&sb);
	s.emit = mpk ? emit_msgpack : emit_json;
	s.arg = &sb;
	if (s.last == 0 && !s.follow) {
		/* nothing asked for */
		msgpack_sbuffer_destroy(&sb);
		return MSG_EX_OK;
	}
	rc = msg_sub_run(&s);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}
