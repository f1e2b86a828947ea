/*
 * messengerd — the state the parts of the Messenger Platform edge share:
 * messengerd.c (main, configuration, the Pages and Instagram accounts with
 * their tokens, chstatus and chtoken), messengerd_webhook.c (Meta's
 * webhooks in, forwarded to routerd once the customers' names are known or
 * given up on), messengerd_parse.c (a notification's JSON turned into "in"
 * and "st" frames: pure, so tests/unit/t_mg_parse.c drives it directly),
 * messengerd_profile.c (the customers' names from the profile API, cached),
 * messengerd_graph.c (what every call to the Graph API shares: URLs with
 * the Page's token, Meta's error envelope, the token check) and
 * messengerd_send.c (routerd's "out" requests, paced per Page and per
 * Instagram account, to the Send API).  The bus wiring, the webhook
 * listener and the drain are lib/edge's, shared with smsd and whatsappd.
 */
#ifndef MESSENGERD_H
#define MESSENGERD_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <msgpack.h>

#include "daemon.h"
#include "edge.h"
#include "htab.h"
#include "httpd.h"

struct bus_conn;
struct event;
struct fbuf;
struct http_resp;
struct mg_check;
struct mg_pend;
struct mg_prof;
struct mg_reuse;

#define MG_BODY_MAX		(3 * 1024 * 1024)	/* as Meta sends */
#define MG_ACCTS_MAX		10000	/* Pages and accounts tracked */
#define MG_ID_MAX		32	/* digits of a Page, account or user id */
#define MG_PID_MAX		127	/* bytes of a pid routerd keeps */
#define MG_MID_KEEP		96	/* a longer mid is folded (mg_pid) */
#define MG_TEXT_MAX		(64 * 1024)	/* bytes of a text (routerd's) */
#define MG_KIND_MAX		32	/* bytes of an event kind kept */
#define MG_NAME_MAX		255	/* bytes of a Page's or customer's name */
#define MG_REASON_MAX		255
#define MG_METADATA		"parley:"	/* our sends' metadata prefix */

/* Settings, copied out of the configuration (SIGHUP frees the old one). */
struct mg_conf {
	char		*api_url;	/* no trailing '/' */
	char		*version;	/* "v23.0" */
	char		*app_secret;	/* X-Hub-Signature-256 key (a secret) */
	char		*verify_token;	/* hub.verify_token (a secret) */
	char		*pages;		/* messenger_pages, as written */
	char		*token_dir;	/* messenger_token_dir, resolved */
	char		*listen_host;
	int		 listen_port;
	long long	 rate, ig_rate, av_rate, max_inflight, http_timeout_ms;
	long long	 profile_ttl_s, profile_wait_ms;
	struct httpd_limits http;	/* the webhook listener's budgets */
};

/*
 * A Page (channel messenger) or an Instagram account linked to one
 * (channel instagram).  The token is the Page's: an Instagram account
 * uses its Page's, and both turn inactive together.
 */
struct mg_acct {
	char		 id[MG_ID_MAX + 1];
	int		 ig;		/* an Instagram account */
	char		 page[MG_ID_MAX + 1];	/* its Page (a Page: itself) */
	char		 linked[MG_ID_MAX + 1];	/* a Page's Instagram account */
	int		 listed;	/* in messenger_pages */
	char		*token;		/* a Page's (a secret); NULL: none */
	char		 name[MG_NAME_MAX + 1];	/* GET /PAGE-ID?fields=name */
	int		 active;
	char		 reason[MG_REASON_MAX + 1];	/* why inactive */
	long long	 since_ms;	/* inactive since */
	struct event	*recheck;	/* the check again, Meta unreachable */
	int		 recheck_s;	/* its backoff */
};

struct messengerd {
	struct edge		 e;	/* daemon, hook, bus, outq (lib/edge) */
	struct mg_conf		 cf;
	struct mg_acct		*accts;	/* Pages and accounts, listed or seen */
	size_t			 naccts, acctscap;
	struct htab		 profiles;	/* messengerd_profile.c */
	size_t			 nprofiles;
	struct mg_prof		*pfirst, *plast;	/* oldest first */
	struct htab		 reuse;		/* (account, url) -> attachment id */
	struct mg_reuse		*rfirst, *rlast;
	struct mg_pend		*pends;		/* webhooks waiting for names */
	struct mg_check		*checks;	/* token checks under way */
	int			 closing;	/* after the loop: quiet */
};

/* messengerd.c */
/* Read and check every setting messengerd uses into cf; -1 with err. */
int	mg_conf_load(struct mg_conf *, const struct conf *, char *err,
	    size_t errsz);
void	mg_conf_free(struct mg_conf *);
/* The account id if known, else NULL. */
struct mg_acct *mg_acct_find(struct messengerd *, const char *id);
/* The account id, added (not listed, no token) when new and an id; NULL
 * when it is not an id or there are too many. */
struct mg_acct *mg_acct_seen(struct messengerd *, const char *id, int ig);
/* The Page whose token a (a Page or an Instagram account) uses, or NULL. */
struct mg_acct *mg_acct_page(struct messengerd *, const struct mg_acct *a);
/* Meta refused page's token (190, with why): it and its Instagram account
 * turn inactive, and everything queued on them fails. */
void	mg_token_dead(struct messengerd *, struct mg_acct *page,
	    const char *why);

/* messengerd_graph.c */
/* Meta's error envelope of an answer; code -1 when there is none. */
struct mg_err {
	long long	 code, subcode;
	char		 message[512];
	char		 type[64];
};
void	mg_graph_error(const struct http_resp *, struct mg_err *);
/* "190/463: the token expired", for a dead token's reason. */
void	mg_token_reason(const struct mg_err *, char *out, size_t outsz);
/* {api_url}/{version}/{path}?{query}&access_token={token} into out; -1 if
 * it does not fit.  query may be NULL. */
int	mg_url(const struct messengerd *, const char *path, const char *query,
	    const char *token, char *out, size_t outsz);
/*
 * Check token against GET /{page}?fields=name; done(ok, name or why, arg)
 * is called once, later (never from inside).  ok: 1 the token works (name
 * is the Page's), 0 Meta refused it (why: mg_token_reason's), -1 the check
 * could not be made (why).  -1 if the call could not be started.
 */
int	mg_check_token(struct messengerd *, const char *page,
	    const char *token, void (*done)(int ok, const char *text,
	    void *arg), void *arg);
/* At exit: each check under way ends with done(-1, ...) (http_out is
 * freed before: no answer can come). */
void	mg_checks_free(struct messengerd *);

/* messengerd_webhook.c */
/* Bind messengerd_listen and serve /messenger/webhook; -1 with err. */
int	mg_webhook_start(struct messengerd *, char *err, size_t errsz);
/* At exit: the webhooks still waiting for names (answered 503 by hook). */
void	mg_webhook_free(struct messengerd *);

/* messengerd_profile.c */
/*
 * The name of user (on channel, written to account) for a webhook waiting
 * in pend: 1 and *name (valid until the next event) when it is known, 0
 * when it is being looked up (pend is counted as waiting and told through
 * mg_pend_ready), -1 when there is none to be had (no token, or a lookup
 * failed lately).  pend may be NULL: then only the cache is asked, and a
 * lookup started when the name is unknown or old.
 */
int	mg_profile_want(struct messengerd *, const char *channel,
	    const char *account, const char *user, struct mg_pend *pend,
	    const char **name);
/* The name if cached (old or not), else NULL. */
const char *mg_profile_name(struct messengerd *, const char *channel,
	    const char *account, const char *user);
void	mg_profiles_free(struct messengerd *);
/* messengerd_webhook.c, for messengerd_profile.c: one lookup pend waited
 * for ended; pend_ref/unref keep it while a lookup still names it. */
void	mg_pend_ready(struct mg_pend *);
void	mg_pend_ref(struct mg_pend *);
void	mg_pend_unref(struct mg_pend *);

/* messengerd_send.c */
/* Set up the pacing of sends (the queue, m->e.q); -1 with err. */
int	mg_send_start(struct messengerd *, char *err, size_t errsz);
/* An "out" request on conn. */
void	mg_send_frame(struct messengerd *, struct bus_conn *,
	    const msgpack_object *);
/* Settings changed (SIGHUP): new limits. */
void	mg_send_reconf(struct messengerd *);
/* Fail what waits on an account that cannot send (token inactive). */
void	mg_send_fail_account(struct messengerd *, const char *id,
	    const char *why);
void	mg_send_free(struct messengerd *);

/* messengerd_parse.c */
enum mg_kind { MG_IN, MG_ST };

/* One frame for routerd, but for its request id and the customer's name. */
struct mg_item {
	enum mg_kind	 kind;
	char		 channel[16];		/* messenger, instagram */
	char		 pid[MG_PID_MAX + 1];	/* for logs */
	char		 account[MG_ID_MAX + 1];	/* the entry's id */
	char		 user[MG_ID_MAX + 1];	/* the customer, "" if none */
	int		 want_name;	/* from the customer: add "name" */
	json_t		*fr;		/* the frame's fields, "id" aside */
};

/* A line for the log: an element skipped and why (warn), or a part of the
 * notification parley has no use for (not warn). */
struct mg_note {
	int		 warn;
	char		*text;
};

struct mg_items {
	struct mg_item	*v;
	size_t		 n, cap;
	struct mg_note	*notes;
	size_t		 nnotes, notescap;
	size_t		 skipped;	/* events not forwarded */
};

/*
 * Turn the body of a webhook POST into frames (messengerd(8) and
 * parley-proto(7) have their shapes): every event of entry[].messaging[]
 * and entry[].standby[] of an "object" "page" (channel messenger) or
 * "instagram" (channel instagram).  -1 with err when the body is not JSON,
 * not an object, of another object, or entry / messaging / standby are not
 * arrays (the webhook answers 400).  An event that cannot be forwarded (no
 * customer, no message id) is skipped with a note; an event of a kind
 * parley does not know is forwarded as an "in" of that type.  Invalid UTF-8
 * and NULs become U+FFFD (lib/jsonfix), marked data.repaired.
 */
int	mg_parse(const char *body, size_t len, struct mg_items *, char *err,
	    size_t errsz);
void	mg_items_init(struct mg_items *);
void	mg_items_free(struct mg_items *);
/* 1 if s[0..len) is 1..MG_ID_MAX ASCII digits. */
int	mg_is_id(const char *s, size_t len);
/*
 * The pid of Meta's message id mid: mid itself when it is at most
 * MG_MID_KEEP bytes of printable ASCII, else "~" and the hex of its
 * 128-bit BLAKE2b (routerd keeps pids of up to 127 bytes, and pids of
 * reactions add to it).  The same mid always gives the same pid.
 */
void	mg_pid(const char *mid, char out[MG_PID_MAX + 1]);
/* The frame of item with request id id (and the customer's name, or
 * NULL), into fb (fbuf_init'ed). */
void	mg_item_frame(const struct mg_item *, int64_t id, const char *name,
	    struct fbuf *fb);
/* The frame as one JSON line, keys sorted, without "id" (malloc'd). */
char	*mg_item_json(const struct mg_item *, const char *name);

#endif
