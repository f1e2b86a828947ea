/*
 * msg — what the subcommands of msg(1) share: exit codes, error lines,
 * configuration, connecting to a daemon, writing to stdout (msg.c), the
 * subscription loop that tail and transcript both run (msg_sub.c), and the
 * agent workspace's requests and tables (msg_work.c).  The admin groups'
 * own are in msg_admin.h.
 */
#ifndef PARLEY_MSG_H
#define PARLEY_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <msgpack.h>

#include "busc.h"

/* Exit status, DESIGN §6. */
#define MSG_EX_OK	0
#define MSG_EX_REFUSED	1	/* the request was refused */
#define MSG_EX_USAGE	2
#define MSG_EX_UNREACH	3	/* a daemon could not be reached */

/* How long a request waits for its answer before msg gives up (exit 3). */
#define MSG_TIMEOUT_MS	60000

/* "msg: <command>: <why>" on stderr. */
void	msg_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* msg_err, then exit with code. */
void	msg_die(int code, const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 2, 3)));
/* The usage line(s) of the running command on stderr, then exit 2. */
void	msg_usage(void) __attribute__((noreturn));
/*
 * Parse the options of a command whose only one is -j/--json: 1 when it
 * was given; optind is left at the first operand; -h or anything else is
 * msg_usage.
 */
int	msg_json_opt(int argc, char **argv);

/* The socket path of daemon ("routerd") under the configured home. */
void	msg_sock_path(const char *daemon, char *buf, size_t bufsz);
/* The configuration (-c or PARLEY_CONF), loaded once. */
struct conf;
struct conf *msg_conf(void);
/* A path under the configured home ("spool" -> "<home>/spool"). */
void	msg_home_path(const char *sub, char *buf, size_t bufsz);
/* Connect and say hello; -1 with *why (c is closed again) on failure. */
int	msg_connect(struct busc *c, const char *daemon, int timeout_ms,
	    const char **why);
/* msg_connect or exit 3 with "msg: cmd: daemon: why". */
void	msg_connect_or_die(struct busc *c, const char *daemon);
/*
 * Send a request and wait for its answer; exits 3 when the daemon is gone
 * and 1 with the daemon's reason when it refuses.  Returns the answer.
 */
const msgpack_object *msg_call(struct busc *c, struct fbuf *f, int64_t id);
/*
 * msg_call for a request built from JSON: {t, id, kind?, op?, ...args}
 * (args stolen, NULL for none; kind and op left out when NULL).  Returns
 * the answer's fields without re and ok as a new JSON object, with times
 * as RFC 3339 when records is set (rec_record_json); exits 3 when the
 * answer does not read.
 */
struct json_t;
struct json_t *msg_call_json(struct busc *c, const char *daemon,
	    const char *t, const char *kind, const char *op,
	    struct json_t *args, int records);
/*
 * Every sending address the channel daemons know (whatsappd's numbers,
 * messengerd's Pages and Instagram accounts) as JSON objects {channel,
 * addr, active, since?, reason?, name?, page?} (msg_channel.c).  A daemon
 * that cannot be asked is left out and named in why ("" when all were).
 */
struct json_t *msg_chstatus(char *why, size_t whysz);

/*
 * 1 and the daemon's reason in why when ans is a refusal (a leading
 * "send: " or the like, naming the request, is dropped); 0 on success.
 */
int	msg_answer_err(const msgpack_object *ans, char *why, size_t whysz);

/* 1 if stdout is a terminal (and --json was not given). */
int	msg_stdout_tty(void);
/* --json: records as JSON Lines even on a terminal. */
void	msg_json_force(void);
/* Write a line (a newline is added) / raw bytes to stdout. */
void	msg_out_line(const char *s);
void	msg_out_raw(const void *p, size_t n);
/* Flush stdout; a closed pipe ends msg quietly with 0, other errors with 1. */
void	msg_out_flush(void);
/*
 * Write n bytes of untrusted text to a terminal: control characters are
 * replaced so a customer cannot send escape sequences to an agent's screen;
 * newlines become newline + indent spaces.  At most maxcols characters
 * (0: no limit; then an ellipsis ends a cut).  Returns the columns written.
 */
size_t	msg_term_text(FILE *, const char *s, size_t n, size_t maxcols,
	    int indent, int oneline);
/* Display columns of UTF-8 text (one per code point; a fair estimate). */
size_t	msg_text_cols(const char *s, size_t n);
/* A duration for people: "45s", "3m12s", "2h05m", "3d04h" (negative: 0s). */
void	msg_duration(int64_t ms, char *buf, size_t bufsz);
/* Local "YYYY-MM-DD HH:MM:SS" for ms since the epoch. */
void	msg_local_time(int64_t ms, char buf[32]);
/*
 * A message's delivery state in words: state, and while a send is under
 * way its attempt (0: unknown) and, retrying, the next try (ms, 0:
 * unknown) in local time: "retrying (attempt 2, next try at 10:42:05)",
 * "pending (attempt 1)".
 */
void	msg_delivery_state(char *buf, size_t sz, const char *state,
	    int64_t attempt, int64_t next_ms);
/* A record's time field: ms, or RFC 3339 text as msg's JSON has it; 0. */
int64_t	msg_json_ts(const struct json_t *);

/* A subscription to routerd's event log. */
struct msg_sub {
	int		 follow;	/* keep going after the backlog */
	int64_t		 since;		/* first seq wanted; -1: not given */
	int64_t		 last;		/* the last N events; -1: not given */
	const char	*conv;		/* one conversation, or NULL */
	/* called for each event, in seq order, never twice for one seq */
	void		(*emit)(uint64_t seq, const msgpack_object *r,
			    void *arg);
	void		*arg;
};
/* Run a subscription until eof (or forever with follow); an exit code. */
int	msg_sub_run(const struct msg_sub *);
/* An emit for msg_sub: the event as one JSON line on stdout. */
void	msg_sub_json(uint64_t seq, const msgpack_object *r, void *arg);

int	msg_tail(int, char **);
int	msg_send(int, char **);
int	msg_inbox(int, char **);
int	msg_transcript(int, char **);
int	msg_ping(int, char **);
/* admin command groups (msg_admin.h) */
int	msg_holiday(int, char **);
int	msg_campaign(int, char **);
int	msg_campaign_run(int, char **);
int	msg_blacklist(int, char **);
int	msg_contact(int, char **);
int	msg_list(int, char **);
int	msg_canned(int, char **);
int	msg_template(int, char **);
int	msg_disposition(int, char **);
int	msg_statusdef(int, char **);
int	msg_qa(int, char **);
int	msg_agent(int, char **);
int	msg_team(int, char **);
int	msg_member(int, char **);
/* the agent workspace */
int	msg_status(int, char **);
int	msg_claim(int, char **);
int	msg_close(int, char **);
int	msg_transfer(int, char **);
int	msg_mode(int, char **);
int	msg_tag(int, char **);
int	msg_attention(int, char **);
int	msg_history(int, char **);
int	msg_search(int, char **);
int	msg_route(int, char **);
int	msg_window(int, char **);
int	msg_channel(int, char **);
int	msg_optout(int, char **);
int	msg_bot(int, char **);
/* shared by the agent workspace commands (msg_work.c) */
/* Send {t, id, ...args} to routerd (args stolen; NULL for none); the
 * answer without re/ok as JSON, times RFC 3339.  Exits 1 refused, 3 gone. */
struct json_t *msg_work_call(const char *t, struct json_t *args);
struct json_t *msg_work_call_on(struct busc *, const char *t,
	    struct json_t *args);
/* One JSON line for rec on stdout. */
void	msg_work_print(struct json_t *rec);
/* Conversation records: a table on a terminal, or JSON Lines. */
void	msg_convs_print(struct json_t *convs, int json);
/* Run a paged conversation query (history, search) to its end, or to max
 * records (0: all), and print them; args stolen.  An exit code. */
int	msg_convs_query(const char *t, struct json_t *args, long max, int json);
/* "YYYY-MM-DD" (local; end_of_day: the next midnight), "YYYY-MM-DD HH:MM"
 * or RFC 3339 -> ms since the epoch; -1 if not a date. */
int64_t	msg_parse_date(const char *s, int end_of_day);
/* The conversation id argument, or exit 2 ("c_" and the id's letters); a
 * unique prefix of one is resolved by routerd (exit 1 when none or several
 * conversations start so). */
const char *msg_conv_arg(const char *s);
/* In an operator's file listing nats_shard_confs (and without -s or -S):
 * make the shard that knows conversation id the command's (msg.c). */
void	msg_conv_shard(const char *id);

#endif
