/*
 * msg bot — run a program as the bot of a campaign: each inbound message
 * of the campaign's bot-mode conversations goes to its stdin as one JSON
 * record line, and each line it writes, {"conv","text"} or
 * {"conv","idk":true}, answers the oldest message of that conversation it
 * was given and has not answered yet ("reply_to" names another).
 *
 * Nothing skipped, nothing answered twice, whoever crashes: every reply is
 * sent to routerd with the id of the inbound message it answers, and
 * routerd records the answer in the same commit as the reply it queues
 * (routerd_bot.c), so a second reply to one message is acknowledged as a
 * duplicate and never sent.  At start, and after each reconnect, msg bot
 * asks routerd for the messages not answered yet ("pending") and then
 * follows the live log from where that answer was taken.  The program is
 * restarted with capped exponential backoff when it dies; it is given again
 * every message it had not answered.  Replies routerd has not acknowledged
 * are sent again after a reconnect.
 *
 * One poll(2) loop, no threads: routerd's socket, the program's stdout, its
 * stdin when there is something to write, and timers for restarts.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/queue.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jansson.h>

#include "bot.h"
#include "daemon.h"
#include "mp.h"
#include "msg.h"
#include "proto.h"
#include "rec.h"

#define BACKOFF_MIN_MS	500		/* first restart of the program */
#define BACKOFF_MAX_MS	30000
#define STEADY_MS	10000		/* a run this long resets the backoff */
#define CONN_MIN_MS	200		/* reconnecting to routerd */
#define CONN_MAX_MS	5000
#define RETRY_MS	1000		/* a reply routerd could not store */
#define STOP_MS		5000		/* finishing up after SIGTERM */
#define OBUF_LOW	(64 * 1024)	/* give the program more below this */
#define LINE_MAX_BOT	(1024 * 1024)	/* one line from the program */
#define IDLEN		40

/* An inbound message given (or to be given) to the program. */
struct item {
	TAILQ_ENTRY(item) entry;
	char		 id[IDLEN];
	char		 conv[IDLEN];
	int		 written;	/* in the program's stdin */
	int		 voided;	/* no longer the bot's: drop its answer */
	char		*line;		/* JSON, newline-terminated */
	size_t		 len;
};
TAILQ_HEAD(items, item);

/* A reply on its way to routerd, until routerd acknowledges it. */
struct out {
	TAILQ_ENTRY(out) entry;
	int64_t		 reqid;		/* 0: not sent on this connection */
	long long	 retry_at;
	int		 idk;
	char		 conv[IDLEN];
	char		 msg[IDLEN];
	char		*text;
	size_t		 tl;
};
TAILQ_HEAD(outs, out);

enum cstate { C_DOWN, C_PENDING, C_SUB, C_LIVE };

static struct {
	const char	*campaign;
	char	       **argv;
	int		 verbose;
	/* the program */
	pid_t		 pid;		/* 0: not running */
	int		 in, out;	/* its stdin (ours to write), stdout */
	long long	 started, start_at;
	int		 backoff;
	char		*obuf;		/* bytes for its stdin */
	size_t		 olen, ocap;
	char		*lbuf;		/* a partial line from its stdout */
	size_t		 llen, lcap;
	int		 ldiscard;	/* skipping an over-long line */
	struct items	 items;
	size_t		 nitems;
	/* routerd */
	struct busc	 c;
	enum cstate	 cs;
	long long	 conn_at;
	int		 conn_backoff, warned;
	int64_t		 req;		/* pending or sub request in flight */
	int64_t		 upto;		/* snapshot of the pending answer */
	int64_t		 lastseq;	/* last live event seen */
	int		 accepted;	/* routerd let us run this bot */
	struct outs	 outs;
	size_t		 nouts;
	/* stopping */
	volatile sig_atomic_t stop;
	long long	 stop_by;
} B;

static void
on_signal(int sig)
{
	(void)sig;
	B.stop = 1;
}

static void
nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		msg_die(MSG_EX_REFUSED, "fcntl: %s", strerror(errno));
}

/* ------------------------------------------------------------ items */

static struct item *
item_find(const char *id)
{
	struct item *it;

	TAILQ_FOREACH(it, &B.items, entry)
		if (strcmp(it->id, id) == 0)
			return it;
	return NULL;
}

static struct out *
out_find(const char *msgid)
{
	struct out *o;

	TAILQ_FOREACH(o, &B.outs, entry)
		if (strcmp(o->msg, msgid) == 0)
			return o;
	return NULL;
}

static void
item_free(struct item *it)
{
	TAILQ_REMOVE(&B.items, it, entry);
	B.nitems--;
	free(it->line);
	free(it);
}

/* Queue an inbound message for the program, once. */
static void
item_add(uint64_t seq, const msgpack_object *r)
{
	struct item *it;
	char id[IDLEN], conv[IDLEN], *line;

	if (!mp_strcpy(r, "id", id, sizeof(id)) ||
	    !mp_strcpy(r, "conv", conv, sizeof(conv)))
		return;
	if (item_find(id) != NULL || out_find(id) != NULL)
		return;		/* given already; its answer is on the way */
	if ((line = rec_event_line(seq, r)) == NULL) {
		msg_err("event %llu: cannot convert to JSON",
		    (unsigned long long)seq);
		return;
	}
	if ((it = calloc(1, sizeof(*it))) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	snprintf(it->id, sizeof(it->id), "%s", id);
	snprintf(it->conv, sizeof(it->conv), "%s", conv);
	it->len = strlen(line);
	if ((it->line = realloc(line, it->len + 2)) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	it->line[it->len++] = '\n';
	it->line[it->len] = '\0';
	TAILQ_INSERT_TAIL(&B.items, it, entry);
	B.nitems++;
}

/*
 * conv is no longer the bot's (agent mode, handed over, closed): what the
 * program has not seen is dropped; what it has is kept, voided, so that its
 * answers still pair with the right messages and are then dropped.
 */
static void
conv_void(const char *conv)
{
	struct item *it, *nx;

	for (it = TAILQ_FIRST(&B.items); it != NULL; it = nx) {
		nx = TAILQ_NEXT(it, entry);
		if (strcmp(it->conv, conv) != 0)
			continue;
		if (it->written)
			it->voided = 1;
		else
			item_free(it);
	}
}

/* ----------------------------------------------------------- routerd */

static void
conn_lost(const char *why)
{
	struct out *o;

	if (B.c.fd != -1 && !B.warned++)
		msg_err("routerd: %s; reconnecting", why);
	busc_close(&B.c);
	B.cs = C_DOWN;
	B.conn_backoff = B.conn_backoff ? B.conn_backoff * 2 : CONN_MIN_MS;
	if (B.conn_backoff > CONN_MAX_MS)
		B.conn_backoff = CONN_MAX_MS;
	B.conn_at = daemon_mono_ms() + B.conn_backoff;
	TAILQ_FOREACH(o, &B.outs, entry)
		o->reqid = 0;
}

static int
send_frame(struct fbuf *fb)
{
	if (busc_send(&B.c, fb) == -1) {
		conn_lost(B.c.err);
		return -1;
	}
	return 0;
}

static void
send_pending(int64_t after)
{
	struct fbuf fb;

	fbuf_init(&fb);
	B.req = busc_next_id(&B.c);
	fbuf_begin(&fb, 4 + (after > 0) + (B.upto > 0));
	mp_kv_str(&fb.pk, "t", "bot");
	mp_kv_int(&fb.pk, "id", B.req);
	mp_kv_str(&fb.pk, "op", "pending");
	mp_kv_str(&fb.pk, "campaign", B.campaign);
	if (after > 0)
		mp_kv_int(&fb.pk, "after", after);
	if (B.upto > 0)
		mp_kv_int(&fb.pk, "upto", B.upto);
	B.cs = C_PENDING;
	send_frame(&fb);
	fbuf_free(&fb);
}

static void
send_sub(void)
{
	struct fbuf fb;

	fbuf_init(&fb);
	B.req = busc_next_id(&B.c);
	fbuf_begin(&fb, 4);
	mp_kv_str(&fb.pk, "t", "sub");
	mp_kv_int(&fb.pk, "id", B.req);
	mp_kv_bool(&fb.pk, "follow", 1);
	mp_kv_int(&fb.pk, "since", B.upto + 1);
	B.cs = C_SUB;
	send_frame(&fb);
	fbuf_free(&fb);
}

static void
send_out(struct out *o)
{
	struct fbuf fb;

	if (B.cs == C_DOWN)
		return;
	fbuf_init(&fb);
	o->reqid = busc_next_id(&B.c);
	fbuf_begin(&fb, 5 + !o->idk);
	mp_kv_str(&fb.pk, "t", "bot");
	mp_kv_int(&fb.pk, "id", o->reqid);
	mp_kv_str(&fb.pk, "op", o->idk ? "idk" : "reply");
	mp_kv_str(&fb.pk, "conv", o->conv);
	mp_kv_str(&fb.pk, "msg", o->msg);
	if (!o->idk)
		mp_kv_strn(&fb.pk, "text", o->text, o->tl);
	send_frame(&fb);
	fbuf_free(&fb);
}

static void
conn_open(void)
{
	const char *why;
	struct out *o;

	if (msg_connect(&B.c, "routerd", MSG_TIMEOUT_MS, &why) == -1) {
		if (!B.warned++)
			msg_err("routerd: %s; retrying", why);
		B.c.fd = -1;
		B.conn_backoff = B.conn_backoff ? B.conn_backoff * 2 :
		    CONN_MIN_MS;
		if (B.conn_backoff > CONN_MAX_MS)
			B.conn_backoff = CONN_MAX_MS;
		B.conn_at = daemon_mono_ms() + B.conn_backoff;
		return;
	}
	if (B.warned)
		msg_err("routerd: connected again");
	B.warned = 0;
	B.cs = C_PENDING;
	/* replies not acknowledged first: pending then leaves them out */
	TAILQ_FOREACH(o, &B.outs, entry) {
		send_out(o);
		if (B.cs == C_DOWN)
			return;
	}
	B.upto = 0;
	send_pending(0);
}

static void
out_free(struct out *o)
{
	TAILQ_REMOVE(&B.outs, o, entry);
	B.nouts--;
	free(o->text);
	free(o);
}

/* routerd answered the reply or IDK o. */
static void
out_answered(struct out *o, const msgpack_object *ans)
{
	char code[32], why[512], action[16];
	int dup = 0;

	if (busc_answer_err(ans, code, sizeof(code), why, sizeof(why))) {
		if (strcmp(code, "store") == 0 || strcmp(code, "protocol") == 0) {
			/* nothing was recorded: try again */
			o->reqid = 0;
			o->retry_at = daemon_mono_ms() + RETRY_MS;
			return;
		}
		msg_err("conv=%s msg=%s: %s %s", o->conv, o->msg,
		    o->idk ? "idk" : "reply", why);
		if (strcmp(code, "mode") == 0 || strcmp(code, "closed") == 0)
			conv_void(o->conv);
		out_free(o);
		return;
	}
	mp_bool(ans, "dup", &dup);
	if (B.verbose) {
		if (!mp_strcpy(ans, "action", action, sizeof(action)))
			snprintf(action, sizeof(action), "%s",
			    o->idk ? "custom" : "reply");
		msg_err("conv=%s msg=%s: %s%s", o->conv, o->msg,
		    o->idk ? action : "replied", dup ? " (answered before)" :
		    "");
	}
	out_free(o);
}

static void
pending_answered(const msgpack_object *ans)
{
	char code[32], why[512];
	const msgpack_object *msgs, *m, *r;
	int64_t seq, last = 0;
	int more = 0;
	uint32_t i;

	if (busc_answer_err(ans, code, sizeof(code), why, sizeof(why))) {
		if (strcmp(code, "store") == 0) {
			conn_lost(why);
			return;
		}
		msg_die(MSG_EX_REFUSED, "%s", strncmp(why, "bot: ", 5) == 0 ?
		    why + 5 : why);
	}
	if (!mp_int(ans, "seq", &seq) || seq < 0) {
		conn_lost("a pending answer without seq");
		return;
	}
	if (B.upto == 0)
		B.upto = seq;
	B.accepted = 1;
	msgs = mp_get(ans, "msgs");
	if (msgs != NULL && msgs->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < msgs->via.array.size; i++) {
			m = &msgs->via.array.ptr[i];
			r = mp_get(m, "r");
			if (!mp_int(m, "seq", &seq) || r == NULL ||
			    r->type != MSGPACK_OBJECT_MAP)
				continue;
			last = seq;
			if (bot_eligible(r, B.campaign))
				item_add((uint64_t)seq, r);
		}
	mp_bool(ans, "more", &more);
	if (more && last > 0)
		send_pending(last);
	else
		send_sub();
}

static void
event(int64_t seq, const msgpack_object *r)
{
	char conv[IDLEN];

	if (seq <= B.lastseq)
		return;
	B.lastseq = seq;
	if (!mp_strcpy(r, "conv", conv, sizeof(conv)))
		return;
	if (bot_eligible(r, B.campaign))
		item_add((uint64_t)seq, r);
	else if (bot_boundary(r))
		conv_void(conv);
}

static void
conn_read(void)
{
	const msgpack_object *f, *r;
	struct out *o;
	int64_t re, seq;
	int rc;

	while (B.cs != C_DOWN) {
		if ((rc = busc_recv(&B.c, 0, &f)) == 0)
			return;
		if (rc == -1) {
			conn_lost(B.c.err);
			return;
		}
		if (mp_int(f, "re", &re)) {
			if (re == B.req && B.cs == C_PENDING)
				pending_answered(f);
			else if (re == B.req && B.cs == C_SUB) {
				char why[512];

				if (msg_answer_err(f, why, sizeof(why)))
					msg_die(MSG_EX_REFUSED, "%s", why);
				B.cs = C_LIVE;
				B.lastseq = B.upto;
				B.conn_backoff = 0;
			} else
				TAILQ_FOREACH(o, &B.outs, entry)
					if (o->reqid == re) {
						out_answered(o, f);
						break;
					}
			continue;
		}
		switch (proto_type(f)) {
		case PT_EV:
			r = mp_get(f, "r");
			if (mp_int(f, "seq", &seq) && r != NULL &&
			    r->type == MSGPACK_OBJECT_MAP && B.cs == C_LIVE)
				event(seq, r);
			break;
		case PT_SLOW:
			conn_lost("dropped for falling behind");
			B.conn_at = daemon_mono_ms();
			break;
		default:
			break;
		}
	}
}

/* ------------------------------------------------------- the program */

static void
spawn(void)
{
	int pin[2], pout[2];
	pid_t pid;
	struct item *it, *nx;

	if (pipe2(pin, O_CLOEXEC) == -1)
		msg_die(MSG_EX_REFUSED, "pipe: %s", strerror(errno));
	if (pipe2(pout, O_CLOEXEC) == -1)
		msg_die(MSG_EX_REFUSED, "pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		msg_err("fork: %s", strerror(errno));
		close(pin[0]);
		close(pin[1]);
		close(pout[0]);
		close(pout[1]);
		B.start_at = daemon_mono_ms() + BACKOFF_MAX_MS;
		return;
	}
	if (pid == 0) {
		/* its own process group: stopping msg bot stops all of it */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		if (dup2(pin[0], STDIN_FILENO) == -1 ||
		    dup2(pout[1], STDOUT_FILENO) == -1)
			_exit(127);
		execvp(B.argv[0], B.argv);
		fprintf(stderr, "msg: bot: %s: %s\n", B.argv[0],
		    strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);	/* both sides, against the race */
	close(pin[0]);
	close(pout[1]);
	B.pid = pid;
	B.in = pin[1];
	B.out = pout[0];
	nonblock(B.in);
	nonblock(B.out);
	B.started = daemon_mono_ms();
	B.olen = 0;
	B.llen = 0;
	B.ldiscard = 0;
	/* it starts from the first message not answered */
	for (it = TAILQ_FIRST(&B.items); it != NULL; it = nx) {
		nx = TAILQ_NEXT(it, entry);
		if (it->voided)
			item_free(it);
		else
			it->written = 0;
	}
	if (B.verbose)
		msg_err("started %s (pid %ld)", B.argv[0], (long)pid);
}

static void
obuf_add(const char *p, size_t n)
{
	if (B.olen + n > B.ocap) {
		size_t nc = B.ocap ? B.ocap : 4096;
		char *nb;

		while (nc < B.olen + n)
			nc *= 2;
		if ((nb = realloc(B.obuf, nc)) == NULL)
			msg_die(MSG_EX_REFUSED, "out of memory");
		B.obuf = nb;
		B.ocap = nc;
	}
	memcpy(B.obuf + B.olen, p, n);
	B.olen += n;
}

/* Give the program the messages it has not seen, a little at a time. */
static void
feed(void)
{
	struct item *it;

	if (B.pid == 0 || B.in == -1 || B.stop)
		return;
	TAILQ_FOREACH(it, &B.items, entry) {
		if (B.olen >= OBUF_LOW)
			break;
		if (it->written)
			continue;
		obuf_add(it->line, it->len);
		it->written = 1;
	}
}

/* Something went wrong with the program's pipes: end it (it restarts). */
static void
prog_kill(void)
{
	if (B.pid > 0)
		kill(-B.pid, SIGTERM);
	if (B.in != -1)
		close(B.in);
	B.in = -1;
}

static void
prog_write(void)
{
	ssize_t n;

	while (B.olen > 0) {
		n = write(B.in, B.obuf, B.olen);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			prog_kill();	/* EPIPE: it closed its stdin */
			return;
		}
		memmove(B.obuf, B.obuf + n, B.olen - (size_t)n);
		B.olen -= (size_t)n;
	}
}

/* One line from the program: its answer. */
static void
prog_line(char *s, size_t n)
{
	json_t *j, *v;
	json_error_t je;
	const char *conv = NULL, *text = NULL, *to = NULL;
	size_t tl = 0;
	struct item *it;
	struct out *o;
	int idk = 0;

	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' '))
		n--;
	if (n == 0)
		return;
	if ((j = json_loadb(s, n, 0, &je)) == NULL || !json_is_object(j)) {
		msg_err("%s: not a JSON object: %.80s", B.argv[0], s);
		json_decref(j);
		return;
	}
	if ((v = json_object_get(j, "conv")) != NULL && json_is_string(v))
		conv = json_string_value(v);
	if ((v = json_object_get(j, "reply_to")) != NULL &&
	    json_is_string(v))
		to = json_string_value(v);
	if ((v = json_object_get(j, "idk")) != NULL && json_is_true(v))
		idk = 1;
	if ((v = json_object_get(j, "text")) != NULL && json_is_string(v)) {
		text = json_string_value(v);
		tl = json_string_length(v);
	}
	if (conv == NULL && to == NULL) {
		msg_err("%s: an answer needs \"conv\": %.80s", B.argv[0], s);
		goto done;
	}
	if (!idk && (text == NULL || tl == 0)) {
		msg_err("%s: an answer needs \"text\" or \"idk\":true: %.80s",
		    B.argv[0], s);
		goto done;
	}
	/* which message it answers: the one named, else the oldest given */
	if (to != NULL) {
		if ((it = item_find(to)) == NULL || !it->written ||
		    (conv != NULL && strcmp(conv, it->conv) != 0)) {
			msg_err("%s: reply_to %.40s is no unanswered message%s",
			    B.argv[0], to, conv ? " of that conversation" : "");
			goto done;
		}
	} else {
		TAILQ_FOREACH(it, &B.items, entry)
			if (it->written && strcmp(it->conv, conv) == 0)
				break;
		if (it == NULL) {
			msg_err("conv=%.40s: no unanswered message to answer; "
			    "dropped", conv);
			goto done;
		}
	}
	if (it->voided) {
		if (B.verbose)
			msg_err("conv=%s msg=%s: no longer the bot's; answer "
			    "dropped", it->conv, it->id);
		item_free(it);
		goto done;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL ||
	    (!idk && (o->text = malloc(tl)) == NULL))
		msg_die(MSG_EX_REFUSED, "out of memory");
	o->idk = idk;
	snprintf(o->conv, sizeof(o->conv), "%s", it->conv);
	snprintf(o->msg, sizeof(o->msg), "%s", it->id);
	if (!idk) {
		memcpy(o->text, text, tl);
		o->tl = tl;
	}
	/* moved before the item goes, so item_add never sees it unknown */
	TAILQ_INSERT_TAIL(&B.outs, o, entry);
	B.nouts++;
	item_free(it);
	send_out(o);
done:
	json_decref(j);
}

static void
prog_read(void)
{
	char buf[65536], *nl;
	ssize_t n;
	size_t i, start;

	for (;;) {
		n = read(B.out, buf, sizeof(buf));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				prog_kill();
			return;
		}
		if (n == 0) {
			/* it closed stdout: it is gone, or useless */
			close(B.out);
			B.out = -1;
			prog_kill();
			return;
		}
		for (start = 0, i = 0; i < (size_t)n; i = start) {
			nl = memchr(buf + start, '\n', (size_t)n - start);
			size_t len = nl ? (size_t)(nl - buf) - start :
			    (size_t)n - start;

			if (!B.ldiscard) {
				if (B.llen + len + 1 > LINE_MAX_BOT) {
					msg_err("%s: a line over 1 MiB; "
					    "dropped", B.argv[0]);
					B.ldiscard = 1;
					B.llen = 0;
				} else {
					if (B.llen + len + 1 > B.lcap) {
						size_t nc = B.lcap ? B.lcap :
						    4096;
						char *nb;

						while (nc < B.llen + len + 1)
							nc *= 2;
						if ((nb = realloc(B.lbuf,
						    nc)) == NULL)
							msg_die(MSG_EX_REFUSED,
							    "out of memory");
						B.lbuf = nb;
						B.lcap = nc;
					}
					memcpy(B.lbuf + B.llen, buf + start,
					    len);
					B.llen += len;
				}
			}
			start += len;
			if (nl == NULL)
				break;
			start++;	/* the newline */
			if (!B.ldiscard) {
				B.lbuf[B.llen] = '\0';
				prog_line(B.lbuf, B.llen);
			}
			B.llen = 0;
			B.ldiscard = 0;
		}
	}
}

/* The program exited with status st. */
static void
prog_gone(int st)
{
	long long now = daemon_mono_ms(), ran = now - B.started;
	char how[64];

	if (B.out != -1) {
		prog_read();	/* what it said before it went */
		if (B.out != -1)
			close(B.out);
	}
	if (B.in != -1)
		close(B.in);
	B.in = B.out = -1;
	kill(-B.pid, SIGTERM);	/* anything it left behind */
	B.pid = 0;
	B.olen = 0;
	B.llen = 0;
	if (WIFEXITED(st))
		snprintf(how, sizeof(how), "exited with status %d",
		    WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(how, sizeof(how), "was killed by signal %d",
		    WTERMSIG(st));
	else
		snprintf(how, sizeof(how), "ended");
	if (B.stop)
		return;
	if (ran >= STEADY_MS)
		B.backoff = BACKOFF_MIN_MS;
	else
		B.backoff = B.backoff ? B.backoff * 2 : BACKOFF_MIN_MS;
	if (B.backoff > BACKOFF_MAX_MS)
		B.backoff = BACKOFF_MAX_MS;
	B.start_at = now + B.backoff;
	msg_err("%s %s; restarting in %.1f s", B.argv[0], how,
	    B.backoff / 1000.0);
}

static void
reap(void)
{
	pid_t p;
	int st;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0)
		if (p == B.pid)
			prog_gone(st);
}

/* --------------------------------------------------------------- main */

static int
timeout_for(long long now)
{
	long long t = now + 200;	/* reaping and retries */
	struct out *o;

	if (B.pid == 0 && !B.stop && B.accepted && B.start_at < t)
		t = B.start_at;
	if (B.cs == C_DOWN && B.conn_at < t)
		t = B.conn_at;
	if (B.cs != C_DOWN)
		TAILQ_FOREACH(o, &B.outs, entry)
			if (o->reqid == 0 && o->retry_at < t)
				t = o->retry_at;
	return t <= now ? 0 : (int)(t - now);
}

static void
run(void)
{
	struct pollfd pfd[3];
	struct out *o;
	long long now;
	int n, ic, io, ii;

	for (;;) {
		reap();
		now = daemon_mono_ms();
		if (B.stop) {
			if (B.stop_by == 0) {
				B.stop_by = now + STOP_MS;
				if (B.in != -1)
					close(B.in);	/* EOF: finish up */
				B.in = -1;
			}
			if ((B.pid == 0 && B.nouts == 0) || now >= B.stop_by ||
			    (B.pid == 0 && B.cs == C_DOWN))
				break;
		}
		/* the program starts once routerd has said yes */
		if (B.pid == 0 && !B.stop && B.accepted && now >= B.start_at)
			spawn();
		if (B.cs == C_DOWN && now >= B.conn_at)
			conn_open();
		TAILQ_FOREACH(o, &B.outs, entry)
			if (B.cs != C_DOWN && o->reqid == 0 &&
			    o->retry_at <= now)
				send_out(o);
		feed();
		n = 0;
		ic = io = ii = -1;
		if (B.cs != C_DOWN) {
			pfd[n].fd = B.c.fd;
			pfd[n].events = POLLIN;
			ic = n++;
		}
		if (B.pid > 0 && B.out != -1) {
			pfd[n].fd = B.out;
			pfd[n].events = POLLIN;
			io = n++;
		}
		if (B.pid > 0 && B.in != -1 && B.olen > 0) {
			pfd[n].fd = B.in;
			pfd[n].events = POLLOUT;
			ii = n++;
		}
		if (poll(pfd, (nfds_t)n, timeout_for(now)) == -1) {
			if (errno == EINTR)
				continue;
			msg_die(MSG_EX_REFUSED, "poll: %s", strerror(errno));
		}
		if (ii >= 0 && pfd[ii].revents && B.in != -1)
			prog_write();
		if (io >= 0 && pfd[io].revents && B.out != -1)
			prog_read();
		/* busc may hold frames already read: always try */
		if (ic >= 0 && B.cs != C_DOWN)
			conn_read();
	}
	if (B.pid > 0) {
		kill(-B.pid, SIGTERM);
		waitpid(B.pid, NULL, 0);
	}
	busc_close(&B.c);
}

int
msg_bot(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "campaign", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct sigaction sa;
	int ch;

	while ((ch = getopt_long(argc, argv, "+v", lopts, NULL)) != -1) {
		switch (ch) {
		case 'C':
			B.campaign = optarg;
			break;
		case 'v':
			B.verbose = 1;
			break;
		default:
			msg_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (B.campaign == NULL || B.campaign[0] == '\0' || argc < 1)
		msg_usage();
	B.argv = argv;
	TAILQ_INIT(&B.items);
	TAILQ_INIT(&B.outs);
	B.c.fd = -1;
	B.in = B.out = -1;
	B.cs = C_DOWN;
	msgpack_unpacked_init(&B.c.up);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	run();
	return MSG_EX_OK;
}
