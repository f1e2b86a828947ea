/*
 * whatsappd — the state the parts of the WhatsApp Cloud API edge share:
 * whatsappd.c (main, configuration, the frames whatsappd serves, the numbers
 * and their token state), whatsappd_webhook.c (Meta's webhooks in, forwarded
 * to routerd), whatsappd_parse.c (a notification's JSON turned into "in" and
 * "st" frames: pure, so tests/unit/t_wa_parse.c drives it directly) and
 * whatsappd_send.c (routerd's "out" requests, paced per phone-number id, to
 * the Graph API).  The bus wiring and the drain are lib/edge's, shared with
 * smsd.
 */
#ifndef WHATSAPPD_H
#define WHATSAPPD_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "daemon.h"
#include "edge.h"
#include "httpd.h"

struct bus_conn;
struct fbuf;

#define WA_BODY_MAX		(3 * 1024 * 1024)	/* Meta sends up to 3 MB */
#define WA_NUMBERS_MAX		10000	/* phone-number ids tracked */
#define WA_ID_MAX		32	/* digits of a phone-number id */
#define WA_PID_MAX		127	/* bytes of a wamid routerd keeps */

/* Settings, copied out of the configuration (SIGHUP frees the old one). */
struct wa_conf {
	char		*api_url;	/* no trailing '/' */
	char		*version;	/* "v23.0" */
	char		*token;		/* Bearer token (a secret) */
	char		*auth;		/* "Authorization: Bearer ..." (a secret) */
	char		*app_secret;	/* X-Hub-Signature-256 key (a secret) */
	char		*verify_token;	/* hub.verify_token (a secret) */
	char		*numbers;	/* whatsapp_numbers, as written */
	char		*listen_host;
	int		 listen_port;
	long long	 rate, max_inflight, http_timeout_ms;
	struct httpd_limits http;	/* the webhook listener's budgets */
};

/* A phone-number id and whether its token works. */
struct wa_number {
	char		 id[WA_ID_MAX + 1];
	int		 active;
	char		 reason[256];	/* why inactive */
	long long	 since_ms;	/* inactive since */
};

struct whatsappd {
	struct edge		 e;	/* daemon, hook, bus, outq (lib/edge) */
	struct wa_conf		 cf;
	/* numbers seen, sent from or listed in whatsapp_numbers */
	struct wa_number	*nums;
	size_t			 nnums, numscap;
};

/* whatsappd.c */
/* Read and check every setting whatsappd uses into cf; -1 with err. */
int	wa_conf_load(struct wa_conf *, const struct conf *, char *err,
	    size_t errsz);
void	wa_conf_free(struct wa_conf *);
/* Set the Bearer token (a copy) and its header; -1 if not one line. */
int	wa_set_token(struct wa_conf *, const char *token, char *err,
	    size_t errsz);
/* The number id, added (active) if new; NULL if not an id or too many. */
struct wa_number *wa_number(struct whatsappd *, const char *id);
/* The number id if known, else NULL. */
struct wa_number *wa_number_find(struct whatsappd *, const char *id);
/* Every number active again (a new token). */
void	wa_numbers_activate(struct whatsappd *);

/* whatsappd_webhook.c */
/* Bind whatsappd_listen and serve /whatsapp/webhook; -1 with err. */
int	wa_webhook_start(struct whatsappd *, char *err, size_t errsz);

/* whatsappd_send.c */
/* Set up the pacing of sends (the queue, w->e.q); -1 with err. */
int	wa_send_start(struct whatsappd *, char *err, size_t errsz);
/* An "out" request on conn (either socket). */
void	wa_send_frame(struct whatsappd *, struct bus_conn *,
	    const msgpack_object *);
/* Settings changed (SIGHUP): new limits. */
void	wa_send_reconf(struct whatsappd *);

/* whatsappd_parse.c */
enum wa_kind { WA_IN, WA_ST };

/* One frame for routerd, packed but for its request id. */
struct wa_item {
	enum wa_kind	 kind;
	char		 pid[WA_PID_MAX + 1];	/* the wamid, for logs */
	char		 pnid[WA_ID_MAX + 1];	/* the phone-number id */
	uint32_t	 nkeys;		/* map entries in buf, "id" not counted */
	char		*buf;		/* those entries, msgpack */
	size_t		 len;
};

/* A line for the log: an element skipped and why, a value.errors[] entry
 * (warn), a change whose field is not "messages" (not warn). */
struct wa_note {
	int		 warn;
	char		*text;
};

/* What one notification gave. */
struct wa_items {
	struct wa_item	*v;
	size_t		 n, cap;
	struct wa_note	*notes;
	size_t		 nnotes, notescap;
	size_t		 skipped;	/* messages/statuses not forwarded */
};

/*
 * Turn the body of a webhook POST into frames: one "in" per
 * value.messages[] element and one "st" per value.statuses[] element of
 * every entry[].changes[] whose field is "messages" (contract.md has their
 * shapes).  -1 with err when the body is not JSON, not an object, its
 * "object" is not "whatsapp_business_account", or entry/changes/messages/
 * statuses are not arrays (the webhook answers 400).  An element that cannot
 * be forwarded (no id, no sender number nor BSUID, no phone-number id) is
 * skipped with a note; an unknown message type is forwarded with its type
 * and "" text.
 * Invalid UTF-8 and NULs in strings become U+FFFD, never a refusal; a
 * message that held any is forwarded with data.repaired = true.
 */
int	wa_parse(const char *body, size_t len, struct wa_items *out, char *err,
	    size_t errsz);
void	wa_items_init(struct wa_items *);
void	wa_items_free(struct wa_items *);
/* 1 if s[0..len) is 1..WA_ID_MAX ASCII digits (a phone-number id). */
int	wa_is_id(const char *s, size_t len);
/* The frame of item with request id id, into fb (fbuf_init'ed). */
void	wa_item_frame(const struct wa_item *, int64_t id, struct fbuf *fb);

#endif
