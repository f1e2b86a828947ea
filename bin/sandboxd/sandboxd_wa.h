/*
 * sandboxd_wa — what the WhatsApp Cloud API modules of sandboxd share:
 *
 * sandboxd_whatsapp.c   settings, the token, Graph's errors and auth, the
 *                       received log, the customer service windows, the
 *                       webhook envelope and signature, and the router of
 *                       the Graph paths;
 * sandboxd_wa_send.c    POST /{phone_number_id}/messages: a send validated
 *                       in Meta's order, the throughput limit, then its
 *                       status webhooks; marking a message read;
 * sandboxd_wa_media.c   media ids, POST /{phone_number_id}/media, GET and
 *                       DELETE /{media_id}, and the bytes behind a media URL;
 * sandboxd_wa_inbound.c POST /sandbox/whatsapp/inbound: a simulated
 *                       customer's message of any kind, signed and posted;
 * sandboxd_wa_tmpl.c    the message templates sandboxd was told about, and
 *                       /sandbox/whatsapp/templates.
 *
 * Records kept by a string (windows, rate rings, media ids, templates) are
 * struct sbx_wa_node first, in a lib/htab table, through sbx_wa_get/_add.
 */
#ifndef SANDBOXD_WA_H
#define SANDBOXD_WA_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <time.h>

#include <event2/http.h>
#include <jansson.h>

#include "htab.h"
#include "sandboxd.h"
#include "valid.h"

#define WA_MAX_DUP		1000	/* extra copies of an inbound webhook */
#define WA_MAX_BATCH		100	/* messages in one simulated notification */
#define WA_MAX_WINDOWS		200000	/* (number, customer) pairs remembered */
#define WA_MAX_NUMBERS		10000	/* phone_number_ids with a rate history */
#define WA_MAX_MEDIA		10000	/* media ids remembered, oldest forgotten */
#define WA_TEXT_MAX		4096	/* characters */
#define WA_CAPTION_MAX		1024
#define WA_BIZ_MAX		512	/* bytes of biz_opaque_callback_data */
#define WA_LOG_BODY_MAX		65536	/* a body that is not JSON, as logged */
#define WA_ID_MAX		32	/* digits of a phone_number_id or media id */
#define WA_BSUID_MAX		VALID_BSUID_MAX	/* a business-scoped user id */
#define WA_MAX_TEMPLATES	10000	/* templates told about */
#define WA_HREF "https://developers.facebook.com/docs/whatsapp/cloud-api/" \
	"support/error-codes/"
#define WA_UNSUPPORTED "Unsupported %s request. Object with ID '%s' does " \
	"not exist, cannot be loaded due to missing permissions, or does not " \
	"support this operation. Please read the Graph API documentation at " \
	"https://developers.facebook.com/docs/graph-api"

enum wa_auth { WA_AUTH_MISSING, WA_AUTH_BAD, WA_AUTH_OK };

/* A record kept by a string key (at most 191 bytes). */
struct sbx_wa_node {
	struct htab_node hn;
	char		 key[192];
};

/* When the customer last wrote to the number: "pnid\ncustomer". */
struct wa_win {
	struct sbx_wa_node h;
	long long	 last_ms;
};

/* The last accepted sends of one number (a ring of rate times). */
struct wa_rate {
	struct sbx_wa_node h;
	size_t		 head, n;
	long long	 t[];
};

/* A media id: uploaded, or made up for a simulated inbound message. */
struct wa_media {
	struct sbx_wa_node h;		/* key: the id */
	TAILQ_ENTRY(wa_media) fifo;
	char		 mime[128];
	char		 sha256[65];	/* hex */
	char		 sha256_b64[48];
	char		*filename;	/* NULL */
	long long	 size;
	unsigned char	*bytes;		/* kept when small enough, else NULL */
};
TAILQ_HEAD(wa_media_q, wa_media);

/* What a secret file was when last read: a change means read it again. */
struct wa_stamp {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	int		 valid;
};

struct sbx_whatsapp {
	struct sbx	*sb;
	char		*token;		/* NULL: unreadable, every call 190 */
	struct wa_stamp	 token_stamp;
	char		*secret;	/* app secret, NULL: webhooks unsigned */
	char		*webhook_url;
	char		 version[16];
	char		*listen;	/* sandbox_listen, for media URLs */
	long long	 rate, window_s, status_delay_ms;
	struct htab	 windows, rates, media, templates;
	struct wa_media_q mq;
	size_t		 kept;		/* bytes of media kept */
};

/* What one API request was and got, for the received log. */
struct wa_rec {
	const char	*path;
	const char	*version;
	enum wa_auth	 auth;
	char		*body;		/* JSON text (malloc'd), NULL: null */
	int		 status;
	long		 code;
	char		 id[160];	/* wamid or media id answered */
	int		 fault;
};

/* sandboxd_whatsapp.c */

/* The record under key in t, or NULL. */
struct sbx_wa_node *sbx_wa_get(const struct htab *t, const char *key);
/* Add nd (its key set, not in t); -1 out of memory (nd not added). */
int	sbx_wa_add(struct htab *t, struct sbx_wa_node *nd);
void	sbx_wa_del(struct htab *t, struct sbx_wa_node *nd);
/* Take every record out of t and give it to fr. */
void	sbx_wa_clear(struct htab *t, void (*fr)(struct sbx_wa_node *));

/* The app secret, read again if it was missing; NULL if still missing. */
const char *sbx_wa_app_secret(struct sbx_whatsapp *);
/* The Bearer token of req against the token file. */
enum wa_auth sbx_wa_check_auth(struct sbx_whatsapp *, struct evhttp_request *);
/* Meta's title and details of an error code. */
const char *sbx_wa_err_title(long code);
const char *sbx_wa_err_details(long code);
/*
 * The Graph error envelope into jw: message NULL is "(#code) Title";
 * details NULL leaves out error_data (Graph's own errors, like 190).
 */
void	sbx_wa_graph_error(struct sbx_jw *jw, long code, const char *message,
	    const char *details);
/* 401 with code 190 and Graph's WWW-Authenticate; returns 190. */
long	sbx_wa_auth_error(struct evhttp_request *, struct sbx_jw *);
void	sbx_wa_www_authenticate(struct evhttp_request *);
/* The error body for a fault's HTTP status into jw; its code. */
long	sbx_wa_fault_error(struct sbx_jw *, const struct sbx_fault *);
/* The method as Graph names it in "Unsupported get request". */
const char *sbx_wa_graph_method(struct evhttp_request *);
/* A request body for the log: compact JSON when it parses, else a string. */
char	*sbx_wa_body_for_log(json_t *j, const char *body, size_t len);
/* Record r in the received log. */
void	sbx_wa_record(struct sbx_whatsapp *, struct evhttp_request *,
	    const struct wa_rec *);
/* Record r, answer with the text in jw, forget r's body. */
void	sbx_wa_finish(struct sbx_whatsapp *, struct evhttp_request *,
	    struct wa_rec *, struct sbx_jw *);

/* The customer (digits or BSUID) wrote to pnid at ms. */
void	sbx_wa_win_note(struct sbx_whatsapp *, const char *pnid,
	    const char *customer, long long ms);
/* Is the customer's window with pnid open at now? */
int	sbx_wa_win_open(struct sbx_whatsapp *, const char *pnid,
	    const char *customer, long long now);

/*
 * A wamid as Meta makes them, for a customer's digits (or BSUID), of an
 * inbound (1) or outbound (0) message.
 */
void	sbx_wa_make_wamid(const char *who, int inbound, char *out, size_t outsz);
/* The number's display form: "1555" and its last 7 digits. */
void	sbx_wa_display_number(const char *pnid, char out[24]);
/* The notification envelope around one change's value (stolen). */
json_t	*sbx_wa_notification(const char *pnid, json_t *value);
/* A value's messaging_product and metadata for pnid. */
json_t	*sbx_wa_value_new(const char *pnid);
/* The signed headers of a webhook body into hdrs (sighdr holds one). */
void	sbx_wa_hook_headers(struct sbx_whatsapp *, const char *body, size_t len,
	    const char *hdrs[4], char *sighdr, size_t sighdrsz);

/* All digits, 1..max of them. */
int	sbx_wa_all_digits(const char *s, size_t max);
/* Characters (code points) of a UTF-8 string. */
size_t	sbx_wa_utf8_chars(const char *s);
/* snprintf for messages that may be cut short on purpose. */
void	sbx_wa_say(char *buf, size_t sz, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	sbx_wa_in_list(const char *s, const char *const *list);
/* A string member: 1 present (*out), 0 absent, -1 present but not a string. */
int	sbx_wa_get_s(json_t *o, const char *key, const char **out);

/* sandboxd_wa_send.c */

/* POST /{version}/{phone_number_id}/messages */
void	sbx_wa_send_call(struct sbx_whatsapp *, struct evhttp_request *,
	    struct wa_rec *, const char *pnid);
/* Free a rate ring (a new rate forgets the history). */
void	sbx_wa_rate_free(struct sbx_wa_node *);

/* sandboxd_wa_media.c */

/*
 * Remember a media id with its facts; bytes (len) are copied when small
 * enough to keep.  The oldest ids, and kept bytes, go first.  NULL when out
 * of memory.
 */
struct wa_media *sbx_wa_media_add(struct sbx_whatsapp *, const char *id,
	    const char *mime, const char *filename, const unsigned char *data,
	    size_t len);
/* The media id, or NULL. */
struct wa_media *sbx_wa_media_get(struct sbx_whatsapp *, const char *id);
/* A new media id: 15 or 16 digits, not 0-led, not in use. */
void	sbx_wa_media_new_id(struct sbx_whatsapp *, char out[WA_ID_MAX + 1]);
void	sbx_wa_media_forget(struct sbx_whatsapp *, struct wa_media *);
/* POST /{version}/{phone_number_id}/media */
void	sbx_wa_upload_call(struct sbx_whatsapp *, struct evhttp_request *,
	    struct wa_rec *);
/* GET or DELETE /{version}/{media_id} */
void	sbx_wa_media_call(struct sbx_whatsapp *, struct evhttp_request *,
	    struct wa_rec *, const char *id);

/* sandboxd_wa_tmpl.c */

/*
 * Is template name in language code one sandboxd may send?  0 yes; else
 * 132001 with Meta's details in d.  Until a template is told about, every
 * one is (a stack nobody told about templates still sends them).
 */
long	sbx_wa_tmpl_check(struct sbx_whatsapp *, const char *name,
	    const char *code, char *d, size_t dsz);
/* Free a template record (reset). */
void	sbx_wa_tmpl_free(struct sbx_wa_node *);

#endif
