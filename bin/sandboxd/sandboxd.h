/*
 * sandboxd — shared declarations of sandboxd's modules.
 *
 * sandboxd.c        main, the HTTP listener, the dispatcher, the /sandbox/
 *                   control paths and the webhook poster every API shares;
 * sandboxd_twilio.c Twilio's Messages API (create, fetch, list, update,
 *                   delete), its status callbacks, simulated inbound SMS
 *                   and STOP/START opt-outs;
 * sandboxd_whatsapp.c and sandboxd_wa_*.c  the WhatsApp Cloud API, one
 *                   file per endpoint (sandboxd_wa.h tells which);
 * sandboxd_multipart.c  the multipart/form-data parser of uploads;
 * sandboxd_messenger.c the Messenger Platform for Pages and Instagram
 *                   accounts: the Send API, attachment uploads, profiles,
 *                   GET /PAGE-ID, signed webhooks of every event kind, each
 *                   thread's window and tokens that die on request;
 * sandboxd_fault.c  fault rules (matched per API and recipient, in order);
 * sandboxd_log.c    the bounded record of everything received and posted.
 *
 * A provider module (Twilio and the WhatsApp Cloud API now, the Messenger
 * Send API next) supplies a route function for its API paths, an inbound function for
 * its /sandbox/<api>/inbound control path, and a reset function; it records
 * requests with sbx_log_add, asks sbx_fault_match about each one, answers
 * with sbx_answer (which a fault may delay), keeps a sent message's status
 * webhooks in a struct sbx_chain, and posts a simulated customer's message
 * with sbx_inbound_post.
 */
#ifndef SANDBOXD_H
#define SANDBOXD_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include "daemon.h"

#define SBX_MAX_BODY		(1024 * 1024)	/* request bodies, control and API */
/*
 * What evhttp buffers for any request: WhatsApp media uploads go up to 100
 * MiB (documents).  Every other path still refuses bodies over SBX_MAX_BODY
 * (sbx_body), so this only raises what a request may make sandboxd hold.
 */
#define SBX_MAX_UPLOAD		(101L * 1024 * 1024)
#define SBX_LOG_MAX_ENTRIES	200000
#define SBX_LOG_MAX_BYTES	(256UL * 1024 * 1024)
#define SBX_HOOK_TIMEOUT_MS	15000		/* Twilio gives webhooks 15 s */

struct sbx_log;
struct sbx_faults;
struct sbx_chain;
struct sbx_twilio;
struct sbx_whatsapp;
struct sbx_messenger;
struct http_out;

struct sbx {
	struct daemon			 d;
	struct evhttp			*http;
	struct evhttp_bound_socket	*bound;
	struct http_out			*out;
	struct sbx_log			*log;
	struct sbx_faults		*faults;
	struct sbx_twilio		*twilio;
	struct sbx_whatsapp		*whatsapp;
	struct sbx_messenger		*messenger;
	size_t				 inflight;	/* delayed answers, webhooks, timers */
	struct sbx_chain		*chains;	/* status webhooks */
	int				 closing;	/* after the loop: start nothing */
};

/* A fault rule that matched one request (a copy; the rule itself is counted). */
struct sbx_fault {
	int		 id;
	int		 http;		/* answer with this status, 0: don't */
	long		 code;		/* provider error code, 0: the default */
	long		 subcode;	/* Meta's error_subcode, 0: none */
	char		 message[256];	/* "" : the default */
	char		 status[16];	/* final status instead of delivered, "" */
	long		 error_code;	/* with status */
	long		 delay_ms;	/* delay the API answer */
	int		 repeat;	/* post each webhook this many times, 0 none */
	int		 reorder;	/* post the final status before "sent" */
};

/*
 * A JSON writer for the hot paths (answers, the received log): appends to
 * one growing buffer, escapes strings (bytes that are not UTF-8 become
 * U+FFFD), puts the commas in.  key NULL writes a bare value (an array
 * element or the top level).  Keys given as C literals are not escaped.
 * Out of memory is remembered in oom and the text is then not to be used.
 */
struct sbx_jw {
	char		*buf;
	size_t		 len, cap;
	int		 comma;		/* a value precedes: next one needs ',' */
	int		 oom;
};

void	sbx_jw_init(struct sbx_jw *);
void	sbx_jw_free(struct sbx_jw *);
void	sbx_jw_open(struct sbx_jw *, const char *key);	/* '{' */
void	sbx_jw_close(struct sbx_jw *);			/* '}' */
void	sbx_jw_array(struct sbx_jw *, const char *key);	/* '[' */
void	sbx_jw_array_end(struct sbx_jw *);		/* ']' */
/* A string value (NULL writes null). */
void	sbx_jw_str(struct sbx_jw *, const char *key, const char *val);
void	sbx_jw_int(struct sbx_jw *, const char *key, long long val);
void	sbx_jw_null(struct sbx_jw *, const char *key);
/* A value already in JSON (len bytes). */
void	sbx_jw_raw(struct sbx_jw *, const char *key, const char *json,
	    size_t len);
/* Form parameters as an object; a repeated name becomes an array. */
struct form;
void	sbx_jw_form(struct sbx_jw *, const char *key, const struct form *);

/* sandboxd.c */

/* Count one piece of in-flight work; sbx_release ends the drain when 0. */
void	sbx_hold(struct sbx *);
void	sbx_release(struct sbx *);
/* The request body as a NUL-terminated string (*len set); NULL if over size. */
const char *sbx_body(struct evhttp_request *, size_t *len);
/* Answer with a JSON value (reference stolen) and status code. */
void	sbx_reply_json(struct evhttp_request *, int code, json_t *);
/* Answer with the JSON text in jw (freed) and status code. */
void	sbx_reply_jw(struct evhttp_request *, int code, struct sbx_jw *);
/* Answer {"error": why} with status code. */
void	sbx_reply_error(struct evhttp_request *, int code, const char *why);
/* A JSON string for s, valid UTF-8 (invalid bytes become U+FFFD). */
json_t	*sbx_json_str(const char *s);

typedef void (*sbx_hook_cb)(long status, void *arg);
/*
 * POST body to url with headers (NULL-terminated "Name: value"), not
 * retried; when answered (status 0 if unreachable) record a "webhook" entry
 * for api with event and params (a JSON value, copied) and call cb (may be
 * NULL).  Returns -1 (cb not called, entry recorded with status 0) if it
 * could not be started.
 */
int	sbx_webhook_post(struct sbx *, const char *api, const char *event,
	    const char *url, const char *const *headers, const char *body,
	    size_t bodylen, const char *params, sbx_hook_cb cb, void *arg);

/*
 * The status webhooks of one sent message, the first member of a provider
 * module's record of it.  Its steps are posted in order, each repeat times:
 * the first SBX_SENT_DELAY_MS after the send call was answered (sbx_answer),
 * each next one *delay_ms (read then: a reload applies) after every copy of
 * the one before was answered.  post builds a step's webhook and hands it
 * to sbx_chain_post (or, when it cannot, calls sbx_chain_end); done frees
 * the module's record.
 */
#define SBX_SENT_DELAY_MS	5
#define SBX_CHAIN_STEPS		3
struct sbx_chain {
	struct sbx		*sb;
	struct sbx_chain	*prev, *next;	/* sb->chains */
	struct event		*timer;
	const long long		*delay_ms;
	const char		*steps[SBX_CHAIN_STEPS];
	int			 nsteps, step;
	int			 repeat, pending;
	char			 name[176];	/* what log lines call it */
	void			(*post)(struct sbx_chain *, const char *status);
	void			(*done)(struct sbx_chain *);
};

/*
 * Start keeping c (its steps still to plan), named in log lines by name
 * (a printf format); -1 (nothing kept) if its timer cannot be made.
 */
int	sbx_chain_init(struct sbx_chain *c, struct sbx *,
	    const long long *delay_ms, void (*post)(struct sbx_chain *,
	    const char *), void (*done)(struct sbx_chain *), const char *name,
	    ...) __attribute__((format(printf, 6, 7)));
/*
 * c's steps: the n statuses of seq, the last one first when fault asks
 * to reorder, each posted fault's repeat times (1 without a fault; 0:
 * none is posted, the steps still pass as if they were).
 */
void	sbx_chain_plan(struct sbx_chain *c, const char *const *seq, int n,
	    const struct sbx_fault *fault);
/*
 * Post the current step as api's "status" webhook, repeat times (see
 * sbx_webhook_post; arguments copied); the next step follows when all are
 * answered.  c may be gone on return.
 */
void	sbx_chain_post(struct sbx_chain *c, const char *api, const char *url,
	    const char *const *headers, const char *body, size_t bodylen,
	    const char *params);
/*
 * The current step needs no webhook (a message without a callback URL):
 * the next step follows as if it had been posted.  c may be gone on return.
 */
void	sbx_chain_skip(struct sbx_chain *c);
/* Plan the first step now, for a chain started without an answer (a
 * scheduled message coming due). */
void	sbx_chain_start(struct sbx_chain *c);
/* Forget c: no more webhooks; done frees the module's record. */
void	sbx_chain_end(struct sbx_chain *c);
/*
 * Answer req with the text in jw (taken over) and code, after delay_ms
 * when > 0, then start c's webhooks (c may be NULL).  -1 when the answer
 * could not be delayed and was given at once.
 */
int	sbx_answer(struct sbx *, struct evhttp_request *req, int code,
	    struct sbx_jw *jw, long delay_ms, struct sbx_chain *c);
/*
 * A simulated inbound message: post body to url as api's "inbound"
 * webhook total times, one after the other or all at once (concurrent),
 * with headers and params for the log (all copied); then answer req 200
 * with {idkey: id, "status": the last post's status, "statuses": each
 * one's}.  id is stolen, also on failure: -1 (nothing posted, req not
 * answered) if out of memory.
 */
int	sbx_inbound_post(struct sbx *, struct evhttp_request *req,
	    const char *api, const char *url, const char *const *headers,
	    const char *body, size_t bodylen, const char *params, int total,
	    int concurrent, const char *idkey, json_t *id);

/* The request's method as logged: "GET", "POST", "DELETE", "HEAD", "OTHER". */
const char *sbx_method(struct evhttp_request *);
/* 1 if s is an http(s) URL with a host, of at most 2048 bytes. */
int	sbx_valid_url(const char *s);
/* Content-Type header h is mime (parameters after ';' ignored, case too). */
int	sbx_ctype_is(const char *h, const char *mime);
/* FNV-1a of s: stable made-up numbers (a number's business account id). */
uint64_t sbx_hash(const char *s);

/* sandboxd_multipart.c */

/* One part of a multipart/form-data body (data points into the body). */
struct sbx_mp_part {
	char		 name[64];
	char		 filename[256];
	char		 ctype[128];
	int		 has_filename;
	const unsigned char *data;
	size_t		 len;
};

/* The boundary of a multipart/form-data Content-Type into out; -1 if none. */
int	sbx_mp_boundary(const char *ct, char *out, size_t outsz);
/*
 * Split a multipart body (len bytes) at boundary into at most max parts,
 * pointing into b (nothing copied).  -1 with why when malformed.
 */
int	sbx_mp_parse(const unsigned char *b, size_t len, const char *boundary,
	    struct sbx_mp_part *parts, size_t max, size_t *np, const char **why);
/* The first part named name, or NULL. */
const struct sbx_mp_part *sbx_mp_find(const struct sbx_mp_part *parts,
	    size_t n, const char *name);
/* A field part's value as a string into out; -1 if it has a NUL or is long. */
int	sbx_mp_value(const struct sbx_mp_part *p, char *out, size_t outsz);

/* sandboxd_log.c */

struct sbx_log *sbx_log_new(size_t max_entries, size_t max_bytes);
void	sbx_log_free(struct sbx_log *);
/*
 * Record an entry {"n","ts","kind",("api",)fields}: fields is JSON object
 * members without braces (len bytes, may be 0), as sbx_jw writes them.
 * Returns its serial n (monotonic from 1, never reused, also across clears).
 */
uint64_t sbx_log_add(struct sbx_log *, const char *kind, const char *api,
	    const char *fields, size_t len);
/*
 * Append the entries with n >= since (and the given api/kind when not NULL)
 * as JSON Lines to out, at most limit (0: all) of them.
 */
void	sbx_log_dump(struct sbx_log *, uint64_t since, const char *api,
	    const char *kind, size_t limit, struct evbuffer *out);
/* Record jw's members as an entry (no fields if out of memory); frees jw. */
void	sbx_log_jw(struct sbx_log *, const char *kind, const char *api,
	    struct sbx_jw *jw);
/* Drop every entry; n keeps counting.  The next n is returned. */
uint64_t sbx_log_clear(struct sbx_log *);
/* Entries held and the next serial. */
size_t	sbx_log_count(const struct sbx_log *);
uint64_t sbx_log_next(const struct sbx_log *);

/* sandboxd_fault.c */

struct sbx_faults *sbx_faults_new(void);
void	sbx_faults_free(struct sbx_faults *);
/* Add a rule from its JSON spec; its id, or -1 with why. */
int	sbx_fault_add(struct sbx_faults *, const json_t *spec, char *why,
	    size_t whysz);
/* The rules as a JSON array, with what is left of each. */
json_t	*sbx_fault_list(const struct sbx_faults *);
void	sbx_fault_clear(struct sbx_faults *);
/*
 * The first live rule for api matching to (NULL: requests with no
 * recipient match only rules without one; for "whatsapp" a leading '+' on
 * either side is ignored): copied into *f, its count consumed, 1.  0 when
 * none applies.
 */
int	sbx_fault_match(struct sbx_faults *, const char *api, const char *to,
	    struct sbx_fault *f);

/* sandboxd_twilio.c */

/* Read the Twilio settings (account sid, auth token, URLs); -1 with why. */
struct sbx_twilio *sbx_twilio_new(struct sbx *, char *why, size_t whysz);
/* Re-read settings after SIGHUP; keeps the old ones on error (-1, why). */
int	sbx_twilio_reload(struct sbx_twilio *, char *why, size_t whysz);
void	sbx_twilio_free(struct sbx_twilio *);
/* Handle req if path is Twilio's API (/2010-04-01/...): 1, else 0. */
int	sbx_twilio_route(struct sbx *, struct evhttp_request *,
	    const char *path);
/* POST /sandbox/sms/inbound: a simulated customer writes; answers req. */
void	sbx_twilio_inbound(struct sbx *, struct evhttp_request *,
	    const char *body, size_t len);
/* Forget opt-outs (POST /sandbox/reset). */
void	sbx_twilio_reset(struct sbx_twilio *);

/* sandboxd_whatsapp.c (and sandboxd_wa_*.c) */

/*
 * Read the WhatsApp settings (token, app secret, webhook URL, version,
 * rate, window, status delay); NULL with why.  A missing token or app
 * secret file is not an error (warned; requests get 190 until it exists),
 * one readable by group or others is.
 */
struct sbx_whatsapp *sbx_whatsapp_new(struct sbx *, char *why, size_t whysz);
/* Re-read settings after SIGHUP; keeps the old ones on error (-1, why). */
int	sbx_whatsapp_reload(struct sbx_whatsapp *, char *why, size_t whysz);
void	sbx_whatsapp_free(struct sbx_whatsapp *);
/* Handle req if path is the Graph API's (/vN.N/...): 1, else 0. */
int	sbx_whatsapp_route(struct sbx *, struct evhttp_request *,
	    const char *path);
/* POST /sandbox/whatsapp/inbound: a simulated customer writes; answers req. */
void	sbx_whatsapp_inbound(struct sbx *, struct evhttp_request *,
	    const char *body, size_t len);
/* GET /sandbox/whatsapp/media/<id>: the bytes of a media id; answers req. */
void	sbx_whatsapp_media_bytes(struct sbx *, struct evhttp_request *,
	    const char *id);
/*
 * /sandbox/whatsapp/templates: POST (body, len) tells of a template and its
 * status, GET lists them, DELETE forgets them; answers req.
 */
void	sbx_whatsapp_templates(struct sbx *, struct evhttp_request *,
	    const char *body, size_t len);
/* Forget windows, media, rate history and templates (POST /sandbox/reset). */
void	sbx_whatsapp_reset(struct sbx_whatsapp *);

/* sandboxd_messenger.c */

/* Read the Messenger settings (Pages, tokens, app secret, webhook URL,
 * rate, windows); NULL with why.  Missing token files and a missing app
 * secret are not errors (warned; calls get 190, webhooks are refused). */
struct sbx_messenger *sbx_messenger_new(struct sbx *, char *why, size_t whysz);
/* Re-read settings after SIGHUP; keeps the old ones on error (-1, why). */
int	sbx_messenger_reload(struct sbx_messenger *, char *why, size_t whysz);
void	sbx_messenger_free(struct sbx_messenger *);
/* Handle req if it is a Graph API call with an access_token (the
 * Messenger Platform's way; WhatsApp's calls carry a Bearer header): 1,
 * else 0. */
int	sbx_messenger_route(struct sbx *, struct evhttp_request *,
	    const char *path);
/* /sandbox/messenger/...: inbound (a simulated customer acts) and token
 * (a Page's token dies); answers req. */
void	sbx_messenger_control(struct sbx *, struct evhttp_request *,
	    const char *path);
/* Forget threads, windows, attachments, rate history and dead tokens. */
void	sbx_messenger_reset(struct sbx_messenger *);

#endif
