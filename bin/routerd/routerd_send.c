/*
 * routerd_send — the one send path: every outbound message an agent, a
 * script, campaignd or a bot sends goes through here, so each passes the
 * same checks and is queued the same way.
 *
 *   {t:"send", id, text, conv? | to, from, channel?, key?, file?, media?,
 *    template?, reply_to?} -> {re, ok, conv, msg, dup}
 *
 * With a file, media or a template the text may be left out.  A send is
 * taken in steps, each a function below, in the order they run:
 *
 *   send_read      the frame into a struct sendreq (routerd_bot fills one
 *                  itself for the bot's answers: send_as_bot)
 *   send_check     what needs no store: the caller is an agent, the text,
 *                  key, attachments and a new conversation's addresses
 *   send_key       a key sent before: answered as a duplicate
 *   send_conv      the conversation, or the one a send to a new number
 *                  would open, and whether the caller may write to it
 *   send_allowed   template, reply, routerd_policy's suppression check
 *                  (opt-out, blacklist, windows; canned responses expand),
 *                  file policy, the spooled file, SMS length; what the
 *                  message carries packed for dispatch
 *   send_queue     the conversation opened if new, claimed by an agent
 *                  replying, the message queued (routerd_dispatch)
 *
 * campaignd's run sends each recipient its message with {t:"csend"}
 * (send_campaign): the same steps, as routerd's own caller (its key kept
 * as routerd's, "k:<key>", the key naming the run and the recipient, so a
 * restarted campaignd asking again is answered as a duplicate), and only
 * from the campaign's own sending number, so that the conversation opened
 * or found is the campaign's and replies route to its agents or its bot.
 *
 * Refusals that recorded an event wait for the commit like the answer
 * (lib/held); the message is dispatched once the commit is on disk.
 *
 * A client's key is its own: it is kept under the sender's Unix user
 * ("k:u<uid>:<key>", routerd_store), so two agents using the same key never
 * see each other's messages, and no client can occupy the keys routerd
 * uses for its bot answers.  Only routerd's own callers may say "bot": a
 * client's "bot" is ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mp.h"
#include "valid.h"
#include "routerd.h"

#define MEDIA_MAX	10
#define URL_MAX		1024

/* One send request, as read from its frame or made by routerd. */
struct sendreq {
	int64_t			 re;
	int			 internal;	/* routerd's own: bot, own keys */
	int			 isbot;
	long long		 ts;
	char			 conv[R_IDLEN];
	char			 to[R_ADDRLEN], from[R_ADDRLEN];
	char			 channel[16];	/* as given, or "" */
	enum chan		 ch;		/* a new conversation's */
	char			 ckey[200];	/* the key, as given */
	const char		*text;
	size_t			 textlen;
	const msgpack_object	*file, *media, *tpl;
	char			 reply_to[R_IDLEN];
	uid_t			 peer;		/* who sent the file */
	struct who		*who;
	char			 skey[RS_SKEYLEN];	/* the key as stored */
	msgpack_sbuffer		 msb;		/* media, clean */
	msgpack_unpacked	 mup;
};

/* What the checks in the batch found. */
struct sendctx {
	struct conv		 cv;
	int			 creating;	/* cv is opened only if allowed */
	char			*expanded;	/* a canned response */
	char			*rendered;	/* a template's body */
	char			 tname[128];
	char			 rpid[128];	/* the provider id replied to */
	msgpack_sbuffer		 xsb;		/* what dispatch carries */
	msgpack_packer		 xpk;
	uint32_t		 nx;
};

static void
req_init(struct sendreq *r, int64_t re, int internal)
{
	memset(r, 0, sizeof(*r));
	r->re = re;
	r->internal = internal;
	r->ts = daemon_now_ms();
	r->text = "";
	r->peer = (uid_t)-1;
	msgpack_sbuffer_init(&r->msb);
	msgpack_unpacked_init(&r->mup);
}

static void
req_free(struct sendreq *r)
{
	msgpack_unpacked_destroy(&r->mup);
	msgpack_sbuffer_destroy(&r->msb);
}

/* The frame's fields into r (checked by send_check). */
static void
send_read(const msgpack_object *f, int internal, struct sendreq *r)
{
	int64_t re = 0;

	mp_int(f, "id", &re);
	req_init(r, re, internal);
	if (internal)
		mp_bool(f, "bot", &r->isbot);
	r->isbot = r->isbot != 0;
	r->file = mp_get(f, "file");
	r->media = mp_get(f, "media");
	r->tpl = mp_get(f, "template");
	if (r->file != NULL && r->file->type == MSGPACK_OBJECT_NIL)
		r->file = NULL;
	if (r->media != NULL && r->media->type == MSGPACK_OBJECT_NIL)
		r->media = NULL;
	if (r->tpl != NULL && r->tpl->type == MSGPACK_OBJECT_NIL)
		r->tpl = NULL;
	mp_strcpy(f, "conv", r->conv, sizeof(r->conv));
	mp_strcpy(f, "channel", r->channel, sizeof(r->channel));
}

/*
 * Check a send's attachments: file {name, mime, size, source} or media
 * [{url, mime?}] (http(s) URLs, at most MEDIA_MAX).  The media are packed
 * clean into sb (only url and mime).  0, or -1 with why.
 */
static int
attachments(const msgpack_object *file, const msgpack_object *media,
    msgpack_sbuffer *sb, char *why, size_t whysz)
{
	const msgpack_object *e;
	msgpack_packer pk;
	const char *u;
	char mime[128], src[16];
	int64_t size;
	size_t i, j, ul;

	if (file != NULL && media != NULL) {
		snprintf(why, whysz, "send: a file or media URLs, not both");
		return -1;
	}
	if (file != NULL) {
		if (file->type != MSGPACK_OBJECT_MAP ||
		    !mp_str(file, "name", &u, &ul) || ul == 0 ||
		    !mp_strcpy(file, "mime", mime, sizeof(mime)) ||
		    !valid_mime(mime) || !mp_int(file, "size", &size) ||
		    size < 0) {
			snprintf(why, whysz, "send: file needs a name, a MIME "
			    "type and a size");
			return -1;
		}
		if (mp_get(file, "source") &&
		    (!mp_strcpy(file, "source", src, sizeof(src)) ||
		    (strcmp(src, "local") != 0 && strcmp(src, "library") != 0))) {
			snprintf(why, whysz, "send: file source is local or "
			    "library");
			return -1;
		}
		return 0;
	}
	if (media == NULL)
		return 0;
	if (media->type != MSGPACK_OBJECT_ARRAY || media->via.array.size == 0 ||
	    media->via.array.size > MEDIA_MAX) {
		snprintf(why, whysz, "send: media is a list of 1 to %d "
		    "{url, mime}", MEDIA_MAX);
		return -1;
	}
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, media->via.array.size);
	for (i = 0; i < media->via.array.size; i++) {
		e = &media->via.array.ptr[i];
		if (e->type != MSGPACK_OBJECT_MAP || !mp_str(e, "url", &u, &ul) ||
		    ul > URL_MAX || !((ul > 8 && strncmp(u, "https://", 8) == 0) ||
		    (ul > 7 && strncmp(u, "http://", 7) == 0))) {
			snprintf(why, whysz, "send: media[%zu] needs an http(s) "
			    "url of at most %d bytes", i, URL_MAX);
			return -1;
		}
		for (j = 0; j < ul; j++)
			if ((unsigned char)u[j] <= ' ' || u[j] == 0x7f) {
				snprintf(why, whysz, "send: media[%zu]: a URL "
				    "has no spaces or control characters", i);
				return -1;
			}
		mime[0] = '\0';
		if (mp_get(e, "mime") && (!mp_strcpy(e, "mime", mime,
		    sizeof(mime)) || !valid_mime(mime))) {
			snprintf(why, whysz, "send: media[%zu]: mime is not a "
			    "MIME type", i);
			return -1;
		}
		msgpack_pack_map(&pk, 1 + (mime[0] != '\0'));
		mp_kv_strn(&pk, "url", u, ul);
		if (mime[0])
			mp_kv_str(&pk, "mime", mime);
	}
	return 0;
}

/* A new conversation's to, from and channel ("sms:", "whatsapp:",
 * "messenger:", "instagram:" on to say it); 0, or -1 refused. */
static int
check_new(struct rclient *cl, const msgpack_object *f, struct sendreq *r)
{
	static const char *const prefixes[] = { "sms", "whatsapp",
	    "messenger", "instagram", NULL };
	char why[256];
	size_t i, n;

	if (!mp_strcpy(f, "to", r->to, sizeof(r->to)) ||
	    !mp_strcpy(f, "from", r->from, sizeof(r->from))) {
		bus_caller_refuse(&cl->bc, r->re, "invalid", "send: conv, or "
		    "to and from, are required");
		return -1;
	}
	for (i = 0; prefixes[i] != NULL; i++) {
		n = strlen(prefixes[i]);
		if (strncmp(r->to, prefixes[i], n) == 0 && r->to[n] == ':') {
			memmove(r->to, r->to + n + 1, strlen(r->to + n + 1) +
			    1);
			snprintf(r->channel, sizeof(r->channel), "%s",
			    prefixes[i]);
			break;
		}
	}
	if (r->channel[0] == '\0')
		snprintf(r->channel, sizeof(r->channel), "sms");
	if (rs_chan_parse(r->channel, &r->ch) == -1) {
		bus_caller_refuse(&cl->bc, r->re, "invalid", "send: channel "
		    "is sms, whatsapp, messenger or instagram");
		return -1;
	}
	if (r->ch == CH_MESSENGER || r->ch == CH_INSTAGRAM) {
		/* the customer's page-scoped id; the window (routerd_policy)
		 * refuses one who never wrote */
		if (!valid_psid(r->to)) {
			bus_caller_refuse(&cl->bc, r->re, "invalid", "send: to "
			    "must be the customer's %s id (1 to 32 digits)",
			    r->ch == CH_MESSENGER ? "page-scoped" :
			    "Instagram-scoped");
			return -1;
		}
	/* WhatsApp also reaches a business-scoped user id */
	} else if (!valid_e164(r->to) && !(r->ch == CH_WHATSAPP &&
	    valid_bsuid(r->to))) {
		bus_caller_refuse(&cl->bc, r->re, "invalid", "send: to must be "
		    "an E.164 number (+ and 8 to 15 digits), or on WhatsApp a "
		    "business-scoped user id");
		return -1;
	}
	if (!valid_addr(r->channel, r->from, why, sizeof(why))) {
		bus_caller_refuse(&cl->bc, r->re, "invalid", "%s", why);
		return -1;
	}
	return 0;
}

/* What needs no store; f is the frame (NULL for routerd's own sends).
 * 0, or -1 refused (answered). */
static int
send_check(struct rclient *cl, const msgpack_object *f, struct sendreq *r)
{
	const char *t;
	size_t n, moff = 0;
	char why[256];

	r->who = auth_who(cl);
	if (r->who->role == RR_NONE) {
		bus_caller_refuse(&cl->bc, r->re, "denied", "send: you are not "
		    "a parley agent");
		return -1;
	}
	if (r->tpl != NULL && (r->file != NULL || r->media != NULL)) {
		bus_caller_refuse(&cl->bc, r->re, "invalid", "send: a template "
		    "goes alone, without files or media");
		return -1;
	}
	/* a file in the spool must be the sender's own (routerd_out) */
	if (r->file != NULL && (cl->bc.c == NULL ||
	    bus_peer(cl->bc.c, &r->peer, NULL, NULL) == -1)) {
		bus_caller_refuse(&cl->bc, r->re, "denied", "send: who sent "
		    "the file is unknown");
		return -1;
	}
	if (f != NULL && mp_get(f, "reply_to") && (!mp_strcpy(f, "reply_to",
	    r->reply_to, sizeof(r->reply_to)) || r->reply_to[0] == '\0')) {
		bus_caller_refuse(&cl->bc, r->re, "invalid", "send: reply_to "
		    "is a message id");
		return -1;
	}
	if (f == NULL) {
		/* routerd's own: its text is given */
		if (r->textlen == 0) {
			bus_caller_refuse(&cl->bc, r->re, "invalid", "send: "
			    "text is required");
			return -1;
		}
	} else if (r->tpl != NULL) {
		/* the text is the template's body, rendered later */
		r->text = "";
		r->textlen = 0;
	} else if (r->file == NULL && r->media == NULL) {
		if (!mp_str(f, "text", &r->text, &r->textlen) ||
		    r->textlen == 0) {
			bus_caller_refuse(&cl->bc, r->re, "invalid", "send: "
			    "text is required");
			return -1;
		}
	} else if (!mp_str(f, "text", &r->text, &r->textlen)) {
		r->text = "";
		r->textlen = 0;
	}
	if (r->textlen > R_TEXT_MAX) {
		bus_caller_refuse(&cl->bc, r->re, "invalid", "send: text over "
		    "64 KiB");
		return -1;
	}
	if (f != NULL && mp_get(f, "key") && (!mp_str(f, "key", &t, &n) ||
	    n == 0 || n > 128 || !mp_strcpy(f, "key", r->ckey,
	    sizeof(r->ckey)))) {
		bus_caller_refuse(&cl->bc, r->re, "invalid", "send: key must "
		    "be 1 to 128 bytes");
		return -1;
	}
	if (attachments(r->file, r->media, &r->msb, why, sizeof(why)) == -1) {
		bus_caller_refuse(&cl->bc, r->re, "invalid", "%s", why);
		return -1;
	}
	if (r->media != NULL) {
		/* from here on, media is the clean copy */
		if (msgpack_unpack_next(&r->mup, r->msb.data, r->msb.size,
		    &moff) != MSGPACK_UNPACK_SUCCESS)
			fatalx("media packed by us does not unpack");
		r->media = &r->mup.data;
	}
	if (r->conv[0] == '\0') {
		if (f != NULL)
			return check_new(cl, f, r);
		bus_caller_refuse(&cl->bc, r->re, "invalid", "send: conv, or "
		    "to and from, are required");
		return -1;
	}
	return 0;
}

/*
 * A key sent before: the duplicate answered (a file sent again is
 * dropped from the spool: the first send has its own).  1 answered, 0 go
 * on (the key as stored in r->skey, "" without one), -1 refused.
 */
static int
send_key(struct rclient *cl, MDB_txn *txn, struct sendreq *r)
{
	char msgid[R_IDLEN], conv[R_IDLEN] = "";
	struct held *h;
	struct mrec m;
	msgpack_packer *pk;
	uid_t uid = (uid_t)-1;

	r->skey[0] = '\0';
	if (r->ckey[0] == '\0')
		return 0;
	if (!r->internal && (cl->bc.c == NULL || bus_peer(cl->bc.c, &uid,
	    NULL, NULL) == -1)) {
		bus_caller_refuse(&cl->bc, r->re, "denied", "send: who sent the "
		    "key is unknown");
		return -1;
	}
	rs_skey(r->skey, sizeof(r->skey), r->internal, uid, r->ckey);
	if (rs_skey_get(txn, r->skey, msgid, sizeof(msgid)) != 0)
		return 0;
	if (r->file != NULL)
		out_spool_drop(r->file, r->peer);
	if (rs_mrec_get(txn, msgid, &m) == 0) {
		snprintf(conv, sizeof(conv), "%s", m.conv);
		rs_mrec_free(&m);
	}
	h = held_new(&cl->bc, r->re);
	pk = held_ok(h, 3);
	mp_kv_str(pk, "conv", conv[0] ? conv : NULL);
	mp_kv_str(pk, "msg", msgid);
	mp_kv_bool(pk, "dup", 1);
	held_after(h, R->st);
	return 1;
}

/*
 * A person's send on cv: a conversation another agent holds is theirs
 * (supervisors and admins may write in it; msg transfer moves the hold),
 * and a reply that would claim cv must fit the sender's max interactions.
 * 0 allowed, -1 refused (answered).
 */
static int
send_owner(struct rclient *cl, const struct sendreq *r, const struct conv *cv)
{
	char why[160];

	if (r->isbot || r->who->agent[0] == '\0' || cv->mode != CM_AGENT ||
	    cv->status != CV_OPEN)
		return 0;
	if (cv->rstate == CS_ASSIGNED) {
		if (strcmp(cv->agent, r->who->agent) == 0 ||
		    r->who->role >= RR_SUPERVISOR)
			return 0;
		bus_caller_refuse(&cl->bc, r->re, "denied", "send: %s is held "
		    "by %s; only they or a supervisor may write in it (msg "
		    "transfer moves it)", cv->id, cv->agent);
		return -1;
	}
	/* the reply claims it (send_queue): the limit is a hard one */
	if (queue_capacity(r->who->agent, cv, why, sizeof(why)) == -1) {
		bus_caller_refuse(&cl->bc, r->re, "invalid", "send: your reply "
		    "would claim %s and you are %s", cv->id, why);
		return -1;
	}
	return 0;
}

/*
 * The conversation written to, checked against the caller: an existing
 * one, or (to a new number) the one the send would open, in the campaign
 * that owns our address.  0 (an mdb error in *rc, to fail the batch), or
 * -1 refused (answered).
 */
static int
send_conv(struct rclient *cl, MDB_txn *txn, const struct sendreq *r,
    struct sendctx *x, int *rc)
{
	char campaign[64];

	*rc = 0;
	if (r->conv[0]) {
		*rc = rs_conv_get(txn, r->conv, &x->cv);
		if (*rc == MDB_NOTFOUND) {
			bus_caller_refuse(&cl->bc, r->re, "notfound", "send: no "
			    "such conversation");
			return -1;
		}
		if (*rc == 0 && (auth_check_conv(cl, r->re, &x->cv) != 0 ||
		    send_owner(cl, r, &x->cv) != 0))
			return -1;
		return 0;
	}
	camp_lookup(r->ch, r->from, campaign, sizeof(campaign));
	if (!auth_can_create(r->who, campaign)) {
		bus_caller_refuse(&cl->bc, r->re, "denied", "starting a "
		    "conversation in campaign %s needs the create permission",
		    campaign);
		return -1;
	}
	*rc = rs_conv_find(txn, r->ch, r->from, r->to, &x->cv);
	if (*rc == MDB_NOTFOUND) {
		/* opened only if the policy lets the message go */
		memset(&x->cv, 0, sizeof(x->cv));
		x->cv.channel = r->ch;
		snprintf(x->cv.addr, sizeof(x->cv.addr), "%s", r->from);
		snprintf(x->cv.contact, sizeof(x->cv.contact), "%s", r->to);
		snprintf(x->cv.campaign, sizeof(x->cv.campaign), "%s",
		    campaign);
		x->cv.mode = CM_AGENT;
		x->creating = 1;
		*rc = 0;
	}
	return 0;
}

/*
 * May it go?  Template and reply first, then the one suppression check
 * (which records its refusals), the file policy and the spooled file.  0:
 * yes, what it carries packed into x->xsb, r->text the text to send.  -1:
 * refused, h holding the refusal; or *rc set on a store error.
 */
static int
send_allowed(MDB_txn *txn, struct sendreq *r, struct sendctx *x,
    struct held *h, int *rc)
{
	const char *tag = NULL;
	char why[256] = "";
	int tk = 0;

	*rc = 0;
	/* a template, a reply: checked before the policy, which records */
	if (r->tpl != NULL && (tk = out_template(r->who, &x->cv, r->tpl,
	    &x->xpk, &x->rendered, x->tname, sizeof(x->tname), why,
	    sizeof(why))) == -1)
		;	/* why says it */
	else if (r->reply_to[0] && x->creating)
		snprintf(why, sizeof(why), "send: reply to %s: the "
		    "conversation is new", r->reply_to);
	else if (r->reply_to[0])
		out_reply_to(txn, &x->cv, r->reply_to, x->rpid,
		    sizeof(x->rpid), why, sizeof(why));
	if (why[0] != '\0') {
		held_refuse(h, "invalid", "%s", why);
		return -1;
	}
	if (r->tpl != NULL) {
		if (tk == 0)	/* a WhatsApp template packed; text: nothing */
			x->nx++;
		r->text = x->rendered;
		r->textlen = strlen(x->rendered);
	}
	/* the one suppression check: opt-out, blacklist, windows; canned
	 * (a text template is free-form text for the windows).  A human
	 * agent's reply is a person's (HUMAN_AGENT on Messenger); bots,
	 * routerd's own replies and scripts without an agent are not */
	if (policy_outbound(txn, r->who, &x->cv, r->text, r->textlen,
	    !r->isbot && !r->internal && r->who->agent[0] != '\0',
	    r->tpl && tk == 0 ? x->tname : NULL, &x->expanded, &tag, why,
	    sizeof(why), rc) == -1 ||
	    /* files: the campaign's policy and the channel's limits */
	    policy_file(txn, r->who, &x->cv, r->file, r->media, why,
	    sizeof(why), rc) == -1) {
		if (*rc == 0)
			held_refuse(h, "refused", "%s", why);
		return -1;
	}
	if (r->file != NULL) {
		if (out_file(r->file, r->peer, &x->xpk, why, sizeof(why)) == -1) {
			held_refuse(h, "denied", "%s", why);
			return -1;
		}
		x->nx++;
	}
	if (r->media != NULL) {
		mp_kv_obj(&x->xpk, "media", r->media);
		x->nx++;
	}
	if (x->rpid[0]) {
		char mid[512];

		mp_kv_str(&x->xpk, "reply_to", x->rpid);
		x->nx++;
		/* a folded mid (Instagram's are long): the whole one too */
		if (x->rpid[0] == '~' && (x->cv.channel == CH_MESSENGER ||
		    x->cv.channel == CH_INSTAGRAM) &&
		    out_reply_mid(txn, &x->cv, r->reply_to, mid, sizeof(mid))) {
			mp_kv_str(&x->xpk, "reply_mid", mid);
			x->nx++;
		}
	}
	if (tag != NULL) {
		mp_kv_str(&x->xpk, "tag", tag);
		x->nx++;
	}
	if (x->expanded) {
		r->text = x->expanded;
		r->textlen = strlen(x->expanded);
	}
	return 0;
}

/* Open the conversation if new, let an agent's reply claim it, queue the
 * message; its id in msgid.  0 or an mdb error. */
static int
send_queue(MDB_txn *txn, const struct sendreq *r, struct sendctx *x,
    char msgid[R_IDLEN])
{
	char fname[256] = "";
	struct outmsg om;
	msgpack_sbuffer xm;
	msgpack_packer xmp;
	int rc;

	if (x->creating && (rc = queue_conv(txn, x->cv.channel, r->from,
	    r->to, r->ts, &x->cv)) != 0)
		return rc;
	/* an agent's reply to a waiting or offered conversation claims it */
	if (!r->isbot && r->who->agent[0] && x->cv.mode == CM_AGENT &&
	    (x->cv.rstate == CS_WAITING || x->cv.rstate == CS_OFFERED ||
	    x->cv.rstate == CS_NEW) &&
	    (rc = queue_assign(txn, &x->cv, r->who->agent, "reply")) != 0)
		return rc;
	memset(&om, 0, sizeof(om));
	om.text = r->text;
	om.len = r->textlen;
	om.media = r->media;
	om.template_name = r->tpl ? x->tname : NULL;
	if (r->file != NULL) {
		mp_strcpy(r->file, "name", fname, sizeof(fname));
		om.file_name = fname;
	}
	om.reply_to = x->rpid[0] ? r->reply_to : NULL;
	om.key = r->ckey[0] ? r->ckey : NULL;
	om.agent = r->who->agent[0] ? r->who->agent : NULL;
	om.bot = r->isbot;
	om.ts = r->ts;
	/* what it carries, for dispatch: one map */
	msgpack_sbuffer_init(&xm);
	if (x->nx > 0) {
		msgpack_packer_init(&xmp, &xm, msgpack_sbuffer_write);
		msgpack_pack_map(&xmp, x->nx);
		msgpack_sbuffer_write(&xm, x->xsb.data, x->xsb.size);
		om.extras = xm.data;
		om.extraslen = xm.size;
	}
	om.skey = r->skey[0] ? r->skey : NULL;
	rc = dispatch_queue(txn, &x->cv, &om, msgid);
	msgpack_sbuffer_destroy(&xm);
	if (rc != 0)
		return rc;
	/* an agent's first reply answers the queue entry */
	if (!r->isbot && r->who->agent[0] &&
	    (rc = queue_answered(txn, &x->cv, r->who->agent, msgid,
	    r->ts)) != 0)
		return rc;
	x->cv.waiting_since = 0;
	/* a person answered: the conversation no longer needs attention */
	if (!r->isbot && r->who->agent[0] &&
	    (rc = work_answered(txn, &x->cv, r->who->agent)) != 0)
		return rc;
	return rs_conv_put(txn, &x->cv);
}

/* The steps in the batch, r checked. */
static void
send_submit(struct rclient *cl, struct sendreq *r)
{
	char msgid[R_IDLEN], *p;
	struct sendctx x;
	struct held *h;
	msgpack_packer *pk;
	MDB_txn *txn;
	int rc;

	memset(&x, 0, sizeof(x));
	msgpack_sbuffer_init(&x.xsb);
	msgpack_packer_init(&x.xpk, &x.xsb, msgpack_sbuffer_write);
	if ((txn = store_txn(R->st)) == NULL) {
		bus_caller_refuse(&cl->bc, r->re, "store", "%s",
		    store_error(R->st));
		goto out;
	}
	if (send_key(cl, txn, r) != 0 || send_conv(cl, txn, r, &x, &rc) == -1)
		goto out;
	h = held_new(&cl->bc, r->re);
	if (rc != 0)
		goto fail;
	if (send_allowed(txn, r, &x, h, &rc) == -1) {
		if (rc != 0)
			goto fail;
		held_after(h, R->st);
		goto out;
	}
	if (x.cv.channel == CH_SMS &&
	    valid_utf8_chars(r->text, r->textlen) > R_SMS_MAXCHARS) {
		/* nothing recorded: refused at once */
		bus_caller_refuse(&cl->bc, r->re, "invalid", "send: an SMS "
		    "body is at most 1600 characters");
		held_free(h);
		goto out;
	}
	if ((rc = send_queue(txn, r, &x, msgid)) != 0)
		goto fail;
	pk = held_ok(h, 3);
	mp_kv_str(pk, "conv", x.cv.id);
	mp_kv_str(pk, "msg", msgid);
	mp_kv_bool(pk, "dup", 0);
	if ((p = strdup(msgid)) == NULL)
		fatalx("out of memory");
	held_then(h, dispatch_after, p);
	held_after(h, R->st);
	goto out;
fail:
	held_fail(h, R->st, rc, "queueing an outbound message");
out:
	free(x.expanded);
	free(x.rendered);
	msgpack_sbuffer_destroy(&x.xsb);
}

void
send_request(struct rclient *cl, const msgpack_object *f)
{
	struct sendreq r;

	send_read(f, 0, &r);
	if (send_check(cl, f, &r) == 0)
		send_submit(cl, &r);
	req_free(&r);
}

void
send_as_bot(struct rclient *cl, int64_t re, const char *conv,
    const char *text, size_t len, const char *key)
{
	struct sendreq r;

	req_init(&r, re, 1);
	r.isbot = 1;
	snprintf(r.conv, sizeof(r.conv), "%s", conv);
	snprintf(r.ckey, sizeof(r.ckey), "%s", key);
	r.text = text;
	r.textlen = len;
	if (send_check(cl, NULL, &r) == 0)
		send_submit(cl, &r);
	req_free(&r);
}

void
send_campaign(struct rclient *cl, const msgpack_object *f)
{
	struct sendreq r;
	char campaign[64], owner[64];

	send_read(f, 1, &r);
	r.isbot = 0;
	r.conv[0] = '\0';
	r.file = r.media = NULL;
	if (!mp_strcpy(f, "campaign", campaign, sizeof(campaign)) ||
	    campaign[0] == '\0' || mp_get(f, "key") == NULL) {
		bus_caller_refuse(&cl->bc, r.re, "invalid", "csend: campaign "
		    "and key are required");
		goto out;
	}
	if (send_check(cl, f, &r) != 0)
		goto out;
	camp_lookup(r.ch, r.from, owner, sizeof(owner));
	if (strcmp(owner, campaign) != 0) {
		bus_caller_refuse(&cl->bc, r.re, "invalid", "csend: %s is not "
		    "a sending number of campaign %s", r.from, campaign);
		goto out;
	}
	send_submit(cl, &r);
out:
	req_free(&r);
}
