/*
 * routerd_policy — the two checkpoints every message passes: what happens
 * to an inbound message before it is routed, and the one suppression check
 * that guards every outbound path.  Each concern is its own module below
 * this one: routerd_consent (opt-out, opt-in, the blacklist), routerd_hours
 * (schedule, holidays, after hours), routerd_canned (canned responses),
 * routerd_files (file policy); routerd_dispatch queues the automatic
 * replies.  The handlers (routerd_in, routerd_send) call it.
 *
 * Inbound (policy_inbound, after the message is stored in the batch): a
 * blacklisted customer's message is kept but marked blocked; a keyword
 * records the contact's consent, is answered, and is not routed; outside
 * the campaign's schedule the customer gets the after-hours message once
 * per closed period and the conversation waits for the opening.
 *
 * Outbound (policy_outbound, before anything is queued): opted-out and
 * blacklisted contacts are never sent to, WhatsApp and Messenger sends
 * outside the customer service window are refused with what is allowed
 * instead, and "/snippet" canned responses expand.  Every refusal is an
 * event with its reason, so a supervisor can see what was not sent and why.
 *
 * The automatic replies (help text, after-hours message, confirmations) are
 * routerd's own: queued like any outbound message but not subject to
 * policy_outbound, so a STOP confirmation still reaches the customer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mp.h"
#include "window.h"
#include "routerd.h"

/* Append the "refused" event for cv (by w) saying why; always -1, *rc set
 * on a store error. */
static int
refused(MDB_txn *txn, const struct who *w, const struct conv *cv,
    const char *why, int *rc)
{
	msgpack_packer *pk;

	/* a conversation being started has no id until the send is allowed */
	pk = rs_event(7 + (cv->id[0] != '\0'));
	mp_kv_str(pk, "type", "refused");
	if (cv->id[0])
		mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "channel", rs_chan_name(cv->channel));
	mp_kv_str(pk, "contact", cv->contact);
	mp_kv_str(pk, "reason", why);
	mp_kv_str(pk, "by", consent_by(w));
	mp_kv_int(pk, "ts", daemon_now_ms());
	*rc = rs_append(txn, cv->id, NULL);
	log_info("conv=%s send refused: %s", cv->id[0] ? cv->id : "(new)",
	    why);
	return -1;
}

/*
 * Queue text to cv's contact as routerd's own reply ("auto" says why),
 * dispatched after the commit; cv's last-message fields move (the caller
 * puts cv).
 */
static int
auto_reply(MDB_txn *txn, struct conv *cv, const char *text, const char *why)
{
	struct outmsg om;
	char id[R_IDLEN], *p;
	int rc;

	memset(&om, 0, sizeof(om));
	om.text = text;
	om.len = strlen(text);
	om.agent = "parley";
	om.auto_ = why;
	om.ts = daemon_now_ms();
	if ((rc = dispatch_queue(txn, cv, &om, id)) != 0)
		return rc;
	if ((p = strdup(id)) == NULL)
		fatalx("out of memory");
	store_after(R->st, dispatch_after, p);
	return 0;
}

int
policy_inbound(MDB_txn *txn, struct conv *cv, const struct mrec *m, int *rc)
{
	char reason[256], scope[64], ahreply[1024];
	const char *reply = NULL, *why = NULL;
	long long next;
	int bl, kw;

	*rc = 0;
	bl = consent_blacklisted(cv, reason, sizeof(reason), scope,
	    sizeof(scope));
	if ((kw = consent_keyword(txn, cv, m, &reply, &why, rc)) == -1)
		return -1;
	if (bl) {
		if (cv->waiting_since == m->ts)
			cv->waiting_since = 0;
		if ((*rc = consent_blocked(txn, cv, m, reason, scope)) != 0 ||
		    (*rc = rs_conv_put(txn, cv)) != 0)
			return -1;
		return POL_NOROUTE;
	}
	if (kw) {
		/* a keyword is not a customer waiting for an agent */
		if (cv->waiting_since == m->ts)
			cv->waiting_since = 0;
		if (reply && *reply && (*rc = auto_reply(txn, cv, reply,
		    why)) != 0)
			return -1;
		if ((*rc = rs_conv_put(txn, cv)) != 0)
			return -1;
		return POL_NOROUTE;
	}

	/* after hours: for what waits for the agents' queue only (bots
	 * answer at any hour, an agent who has the conversation answers it,
	 * and a conversation that is not routed waits for no opening) */
	if (cv->unrouted[0] || cv->mode == CM_BOT ||
	    cv->rstate == CS_ASSIGNED ||
	    hours_open(cv->campaign, daemon_now_ms(), &next))
		return 0;
	if ((*rc = hours_after(txn, cv, next, ahreply, sizeof(ahreply))) != 0)
		return -1;
	if (ahreply[0] && (*rc = auto_reply(txn, cv, ahreply,
	    "after_hours")) != 0)
		return -1;
	if ((*rc = rs_conv_put(txn, cv)) != 0)
		return -1;
	return POL_CLOSED;
}

int
policy_outbound(MDB_txn *txn, const struct who *w, struct conv *cv,
    const char *text, size_t len, int human, const char *template_name,
    char **out, const char **tag, char *why, size_t whysz, int *rc)
{
	struct window_verdict v;
	char *t;
	int r;

	*out = NULL;
	*tag = NULL;
	*rc = 0;
	why[0] = '\0';
	/* nothing goes in the name of a campaign that is not live */
	if (!camp_live(cv->campaign, why, whysz))
		return refused(txn, w, cv, why, rc);
	if ((r = consent_refuses(txn, cv, why, whysz, rc)) == -1)
		return -1;
	if (r == 1)
		return refused(txn, w, cv, why, rc);
	if (cv->channel != CH_SMS) {
		if (!window_check(rs_chan_name(cv->channel), cv->last_in_ts,
		    daemon_now_ms(), human, template_name != NULL, &v)) {
			snprintf(why, whysz, "%s", v.why);
			return refused(txn, w, cv, why, rc);
		}
		*tag = v.tag;
	}
	if (template_name == NULL && len > 0 && text[0] == '/') {
		if ((t = malloc(len + 1)) == NULL)
			fatalx("out of memory");
		memcpy(t, text, len);
		t[len] = '\0';
		r = canned_expand(w, cv, t, out, why, whysz);
		free(t);
		if (r == -1)
			return refused(txn, w, cv, why, rc);
	}
	return 0;
}

int
policy_file(MDB_txn *txn, const struct who *w, struct conv *cv,
    const msgpack_object *file, const msgpack_object *media, char *why,
    size_t whysz, int *rc)
{
	*rc = 0;
	if (files_check(cv, file, media, why, whysz) == -1)
		return refused(txn, w, cv, why, rc);
	return 0;
}
