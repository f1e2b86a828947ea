/*
 * routerd_work — the handlers of what agents (and supervisors, admins) do,
 * each a write answered after the group commit (lib/held):
 *
 *   {t:"status", id, status?, reason?}   an agent's own state (msg status)
 *   {t:"claim", id, conv}                take a waiting or offered one
 *   {t:"close", id, conv, disposition?}
 *   {t:"transfer", id, conv, agent? | campaign?}
 *   {t:"mode", id, conv, mode}           hand to the bot or to agents
 *   {t:"tag", id, conv, add?, remove?}   at most three tags
 *   {t:"attention", id, conv, on}      (and, once every few seconds,
 *                                      the automatic mark: the customer
 *                                      wrote last and no answer came
 *                                      within the response threshold)
 *   {t:"optout", id, contact, channel?, in?, reason?}   consent by hand
 *
 * Each checks who is asking (routerd_auth) and what the conversation
 * allows, then calls down: routerd_queue for everything routing (queues,
 * offers, assignment, agents' live state), routerd_consent for consent,
 * routerd_store for the records and events.  Every change is an event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mp.h"
#include "route.h"
#include "valid.h"
#include "routerd.h"

#define TAGS_MAX	3
#define TAGLEN		(VALID_TAG_MAX * 4 + 1)	/* bytes of one tag + NUL */
#define REASON_MAX	200	/* bytes of an opt-out reason given by hand */

/* The caller's agent name, or a refusal (what: the request). */
static const char *
caller_agent(struct rclient *cl, int64_t re, const char *what)
{
	struct who *w = auth_who(cl);

	if (w->role == RR_NONE) {
		bus_caller_refuse(&cl->bc, re, "denied", "%s: you are not a "
		    "parley agent", what);
		return NULL;
	}
	if (w->agent[0] == '\0') {
		bus_caller_refuse(&cl->bc, re, "denied", "%s: only agents have "
		    "a state; this Unix user is not mapped to an agent", what);
		return NULL;
	}
	return w->agent;
}

/* The conversation named by the frame's "conv", checked against the
 * caller, in the batch's txn; NULL after refusing. */
static MDB_txn *
load_conv(struct rclient *cl, const msgpack_object *f, int64_t re,
    struct conv *cv, const char *what)
{
	char id[R_IDLEN];
	MDB_txn *txn;

	if (!mp_strcpy(f, "conv", id, sizeof(id)) || id[0] == '\0') {
		bus_caller_refuse(&cl->bc, re, "invalid", "%s: conv is required",
		    what);
		return NULL;
	}
	if ((txn = store_txn(R->st)) == NULL) {
		bus_caller_refuse(&cl->bc, re, "store", "%s",
		    store_error(R->st));
		return NULL;
	}
	if (rs_conv_get(txn, id, cv) != 0) {
		bus_caller_refuse(&cl->bc, re, "notfound", "%s: no conversation "
		    "%s", what, id);
		return NULL;
	}
	if (auth_check_conv(cl, re, cv) != 0)
		return NULL;
	return txn;
}

/* ------------------------------------------------------------ status */

/* The state of agent a: {agent, status, kind, reason, since_ts, active}. */
static void
status_tell(struct rclient *cl, int64_t re, const struct agent *a)
{
	struct fbuf fb;

	fbuf_init(&fb);
	bus_answer_begin(&fb, re, 6);
	mp_kv_str(&fb.pk, "agent", a->name);
	mp_kv_str(&fb.pk, "status", a->status);
	mp_kv_str(&fb.pk, "kind", route_status_name(a->kind));
	mp_kv_str(&fb.pk, "reason", a->reason);
	mp_kv_int(&fb.pk, "since_ts", a->since);
	mp_kv_int(&fb.pk, "active", a->active);
	bus_caller_send(&cl->bc, &fb);
	fbuf_free(&fb);
}

/* The kind of status: its own, or that of a catalogue entry (msg
 * statusdef); 0 when neither. */
static int
status_kind(const char *status)
{
	MDB_txn *ct;
	msgpack_unpacked up;
	char k[16] = "";
	int kind;

	if ((kind = route_status_parse(status)) != 0)
		return kind;
	if (camp_rtxn(&ct) == 0) {
		msgpack_unpacked_init(&up);
		if (camp_doc(ct, "statusdefs", status, &up) == 0)
			mp_strcpy(&up.data, "kind", k, sizeof(k));
		msgpack_unpacked_destroy(&up);
		mdb_txn_abort(ct);
	}
	return route_status_parse(k);
}

void
work_status(struct rclient *cl, const msgpack_object *f)
{
	const char *name;
	char status[64] = "", reason[128] = "", prev[64];
	int64_t re = 0;
	struct agent *a;
	struct held *h;
	msgpack_packer *pk;
	MDB_txn *txn;
	long long now = daemon_now_ms(), prev_ms;
	int kind, rc;

	mp_int(f, "id", &re);
	if ((name = caller_agent(cl, re, "status")) == NULL)
		return;
	a = queue_agent(name, 1);
	if (!mp_strcpy(f, "status", status, sizeof(status)) ||
	    status[0] == '\0') {
		/* no status: tell the current one */
		status_tell(cl, re, a);
		return;
	}
	mp_strcpy(f, "reason", reason, sizeof(reason));
	if ((kind = status_kind(status)) == 0) {
		bus_caller_refuse(&cl->bc, re, "invalid", "status: \"%s\" is not "
		    "available, break, busy, offline or a status of the "
		    "catalogue (msg statusdef list)", status);
		return;
	}
	if ((txn = store_txn(R->st)) == NULL) {
		bus_caller_refuse(&cl->bc, re, "store", "%s",
		    store_error(R->st));
		return;
	}
	snprintf(prev, sizeof(prev), "%s", a->status);
	prev_ms = a->since ? now - a->since : 0;
	snprintf(a->status, sizeof(a->status), "%s", status);
	snprintf(a->reason, sizeof(a->reason), "%s", reason);
	a->kind = kind;
	a->since = now;
	h = held_new(&cl->bc, re);
	pk = held_ok(h, 4);
	mp_kv_str(pk, "agent", a->name);
	mp_kv_str(pk, "status", a->status);
	mp_kv_str(pk, "kind", route_status_name(kind));
	mp_kv_int(pk, "since_ts", now);
	if ((rc = queue_agent_status(txn, a, prev, prev_ms)) != 0)
		held_fail(h, R->st, rc, "changing an agent's status");
	else
		held_after(h, R->st);
}

/* ------------------------------------------------------------- claim */

void
work_claim(struct rclient *cl, const msgpack_object *f)
{
	const char *name;
	char why[160];
	int64_t re = 0;
	struct conv cv;
	struct held *h;
	msgpack_packer *pk;
	MDB_txn *txn;
	int receive = 0, rc;

	mp_int(f, "id", &re);
	if ((name = caller_agent(cl, re, "claim")) == NULL)
		return;
	if ((txn = load_conv(cl, f, re, &cv, "claim")) == NULL)
		return;
	if (cv.status != CV_OPEN) {
		bus_caller_refuse(&cl->bc, re, "invalid", "claim: %s is closed",
		    cv.id);
		return;
	}
	if (cv.mode == CM_BOT) {
		bus_caller_refuse(&cl->bc, re, "invalid", "claim: %s is with "
		    "the bot; msg mode %s agent hands it to agents", cv.id,
		    cv.id);
		return;
	}
	if (cv.rstate == CS_ASSIGNED) {
		if (strcmp(cv.agent, name) == 0)
			bus_caller_refuse(&cl->bc, re, "invalid", "claim: %s is "
			    "already yours", cv.id);
		else
			bus_caller_refuse(&cl->bc, re, "invalid", "claim: %s is "
			    "assigned to %s", cv.id, cv.agent);
		return;
	}
	if (!camp_member(cv.campaign, name, &receive, NULL) || !receive) {
		bus_caller_refuse(&cl->bc, re, "denied", "claim: %s may not "
		    "receive conversations of campaign %s", name, cv.campaign);
		return;
	}
	/* offers held for other conversations count; this one's does not */
	if (queue_capacity(name, &cv, why, sizeof(why)) == -1) {
		bus_caller_refuse(&cl->bc, re, "invalid", "claim: you are %s",
		    why);
		return;
	}
	h = held_new(&cl->bc, re);
	pk = held_ok(h, 2);
	mp_kv_str(pk, "conv", cv.id);
	mp_kv_str(pk, "agent", name);
	if ((rc = queue_assign(txn, &cv, name, "claim")) != 0)
		held_fail(h, R->st, rc, "claiming a conversation");
	else
		held_after(h, R->st);
}

/* ------------------------------------------------------------- close */

/* Close cv (disposition disp) for w: out of the queue, its agent's slot
 * freed, the "close" event.  0 or an mdb error. */
static int
close_conv(MDB_txn *txn, struct conv *cv, const struct who *w,
    const char *disp)
{
	msgpack_packer *pk;
	int rc;

	if ((rc = queue_dequeue(txn, cv)) != 0 ||
	    (rc = queue_release(txn, cv, 1)) != 0)
		return rc;
	cv->status = CV_CLOSED;
	cv->rstate = CS_CLOSED;
	snprintf(cv->disposition, sizeof(cv->disposition), "%s", disp);
	cv->closed_ts = daemon_now_ms();
	cv->waiting_since = 0;
	if ((rc = rs_conv_put(txn, cv)) != 0)
		return rc;
	pk = rs_event(6);
	mp_kv_str(pk, "type", "close");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "agent", cv->agent[0] ? cv->agent : w->agent);
	mp_kv_str(pk, "disposition", disp[0] ? disp : NULL);
	mp_kv_int(pk, "ts", daemon_now_ms());
	return rs_append(txn, cv->id, NULL);
}

void
work_close(struct rclient *cl, const msgpack_object *f)
{
	struct who *w = auth_who(cl);
	char disp[200] = "";
	int64_t re = 0;
	struct conv cv;
	struct camp c;
	struct held *h;
	MDB_txn *txn;
	int rc;

	mp_int(f, "id", &re);
	if ((txn = load_conv(cl, f, re, &cv, "close")) == NULL)
		return;
	if (cv.status == CV_CLOSED) {
		bus_caller_refuse(&cl->bc, re, "invalid", "close: %s is already "
		    "closed", cv.id);
		return;
	}
	if (w->role < RR_SUPERVISOR && cv.agent[0] &&
	    cv.rstate == CS_ASSIGNED && strcmp(cv.agent, w->agent) != 0) {
		bus_caller_refuse(&cl->bc, re, "denied", "close: %s is assigned "
		    "to %s", cv.id, cv.agent);
		return;
	}
	mp_strcpy(f, "disposition", disp, sizeof(disp));
	camp_get(cv.campaign, &c);
	if (disp[0] == '\0' && c.disposition_required) {
		bus_caller_refuse(&cl->bc, re, "invalid", "close: campaign %s "
		    "requires a disposition (--disposition Level/Sub/Leaf)",
		    cv.campaign);
		return;
	}
	if (disp[0] && !camp_has("dispositions", disp)) {
		bus_caller_refuse(&cl->bc, re, "invalid", "close: no "
		    "disposition \"%s\" (msg disposition list)", disp);
		return;
	}
	if (disp[0] && !camp_disposition(cv.campaign, disp)) {
		bus_caller_refuse(&cl->bc, re, "invalid", "close: disposition "
		    "\"%s\" is not assigned to campaign %s (msg disposition "
		    "list --campaign %s)", disp, cv.campaign, cv.campaign);
		return;
	}
	h = held_new(&cl->bc, re);
	mp_kv_str(held_ok(h, 1), "conv", cv.id);
	if ((rc = close_conv(txn, &cv, w, disp)) != 0)
		held_fail(h, R->st, rc, "closing a conversation");
	else
		held_after(h, R->st);
}

/* ---------------------------------------------------------- transfer */

void
work_transfer(struct rclient *cl, const msgpack_object *f)
{
	struct who *w = auth_who(cl);
	char to[64] = "", tocamp[64] = "", from[64];
	int64_t re = 0;
	struct conv cv;
	struct camp c;
	struct agent *a;
	struct held *h;
	msgpack_packer *pk;
	MDB_txn *txn;
	int receive = 0, rc;

	mp_int(f, "id", &re);
	mp_strcpy(f, "agent", to, sizeof(to));
	mp_strcpy(f, "campaign", tocamp, sizeof(tocamp));
	if ((to[0] == '\0') == (tocamp[0] == '\0')) {
		bus_caller_refuse(&cl->bc, re, "invalid", "transfer: say --to "
		    "AGENT or --campaign CAMPAIGN");
		return;
	}
	if ((txn = load_conv(cl, f, re, &cv, "transfer")) == NULL)
		return;
	if (cv.status != CV_OPEN) {
		bus_caller_refuse(&cl->bc, re, "invalid", "transfer: %s is "
		    "closed", cv.id);
		return;
	}
	if (w->role < RR_SUPERVISOR && cv.rstate == CS_ASSIGNED &&
	    strcmp(cv.agent, w->agent) != 0) {
		bus_caller_refuse(&cl->bc, re, "denied", "transfer: %s is "
		    "assigned to %s", cv.id, cv.agent);
		return;
	}
	snprintf(from, sizeof(from), "%s", cv.agent);
	if (to[0]) {
		if (!camp_member(cv.campaign, to, &receive, NULL) || !receive) {
			bus_caller_refuse(&cl->bc, re, "invalid", "transfer: %s "
			    "is not a member of campaign %s who may receive",
			    to, cv.campaign);
			return;
		}
		camp_get(cv.campaign, &c);
		a = queue_agent(to, 1);
		if (a->active >= c.max_interactions &&
		    strcmp(cv.agent, to) != 0) {
			bus_caller_refuse(&cl->bc, re, "invalid", "transfer: %s "
			    "is at capacity (%d of %d conversations)", to,
			    a->active, c.max_interactions);
			return;
		}
		h = held_new(&cl->bc, re);
		mp_kv_str(held_ok(h, 1), "conv", cv.id);
		if ((rc = queue_release(txn, &cv, 0)) != 0)
			goto fail;
		cv.rstate = CS_NEW;
		if ((rc = queue_assign(txn, &cv, to, "transfer")) != 0)
			goto fail;
	} else {
		if (!camp_has("campaigns", tocamp)) {
			bus_caller_refuse(&cl->bc, re, "invalid", "transfer: no "
			    "campaign %s", tocamp);
			return;
		}
		h = held_new(&cl->bc, re);
		mp_kv_str(held_ok(h, 1), "conv", cv.id);
		if ((rc = queue_dequeue(txn, &cv)) != 0 ||
		    (rc = queue_release(txn, &cv, 0)) != 0)
			goto fail;
		snprintf(cv.campaign, sizeof(cv.campaign), "%s", tocamp);
		cv.agent[0] = '\0';
		cv.rstate = CS_NEW;
		cv.mode = CM_AGENT;
		if ((rc = queue_enqueue(txn, &cv)) != 0)
			goto fail;
	}
	pk = rs_event(8);
	mp_kv_str(pk, "type", "transfer");
	mp_kv_str(pk, "conv", cv.id);
	mp_kv_str(pk, "campaign", cv.campaign);
	mp_kv_str(pk, "from", from[0] ? from : NULL);
	mp_kv_str(pk, "to", to[0] ? to : NULL);
	mp_kv_str(pk, "to_campaign", tocamp[0] ? tocamp : NULL);
	mp_kv_str(pk, "by", w->agent[0] ? w->agent : "admin");
	mp_kv_int(pk, "ts", daemon_now_ms());
	if ((rc = rs_append(txn, cv.id, NULL)) != 0)
		goto fail;
	held_after(h, R->st);
	return;
fail:
	held_fail(h, R->st, rc, "transferring a conversation");
}

/* -------------------------------------------------------------- mode */

/* Hand cv to the bot: out of the queue and off its agent, the event. */
static int
mode_bot(MDB_txn *txn, struct conv *cv, const struct who *w)
{
	msgpack_packer *pk;
	int rc;

	if ((rc = queue_dequeue(txn, cv)) != 0 ||
	    (rc = queue_release(txn, cv, 0)) != 0)
		return rc;
	cv->mode = CM_BOT;
	cv->rstate = CS_BOT;
	cv->agent[0] = '\0';
	if ((rc = rs_conv_put(txn, cv)) != 0)
		return rc;
	pk = rs_event(6);
	mp_kv_str(pk, "type", "mode");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "mode", "bot");
	mp_kv_str(pk, "by", w->agent[0] ? w->agent : "admin");
	mp_kv_int(pk, "ts", daemon_now_ms());
	return rs_append(txn, cv->id, NULL);
}

void
work_mode(struct rclient *cl, const msgpack_object *f)
{
	struct who *w = auth_who(cl);
	char mode[8] = "";
	enum cmode m;
	int64_t re = 0;
	struct conv cv;
	struct held *h;
	msgpack_packer *pk;
	MDB_txn *txn;
	int rc;

	mp_int(f, "id", &re);
	if (!mp_strcpy(f, "mode", mode, sizeof(mode)) ||
	    rs_mode_parse(mode, &m) == -1) {
		bus_caller_refuse(&cl->bc, re, "invalid", "mode: say bot or "
		    "agent");
		return;
	}
	if ((txn = load_conv(cl, f, re, &cv, "mode")) == NULL)
		return;
	if (cv.mode == m) {
		bus_caller_refuse(&cl->bc, re, "invalid", "mode: %s is already "
		    "in %s mode", cv.id, mode);
		return;
	}
	h = held_new(&cl->bc, re);
	pk = held_ok(h, 2);
	mp_kv_str(pk, "conv", cv.id);
	mp_kv_str(pk, "mode", mode);
	if (m == CM_BOT)
		rc = mode_bot(txn, &cv, w);
	else {
		cv.rstate = CS_NEW;
		rc = cv.status == CV_OPEN ? queue_to_agents(txn, &cv, 0,
		    w->agent[0] ? w->agent : "admin") : 0;
		if (rc == 0 && cv.status != CV_OPEN) {
			cv.mode = CM_AGENT;
			rc = rs_conv_put(txn, &cv);
		}
	}
	if (rc != 0)
		held_fail(h, R->st, rc, "changing a conversation's mode");
	else
		held_after(h, R->st);
}

/* -------------------------------------------------------------- tags */

/* Pack "a,b,c" as an array of strings. */
static void
pack_tags(msgpack_packer *pk, const char *tags)
{
	const char *p, *e;
	uint32_t n = 0;

	for (p = tags; *p; p = *e ? e + 1 : e) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if (e > p)
			n++;
	}
	msgpack_pack_array(pk, n);
	for (p = tags; *p; p = *e ? e + 1 : e) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if (e > p)
			mp_pack_strn(pk, p, (size_t)(e - p));
	}
}

/* The caller, or NULL after refusing someone who is not an agent. */
static struct who *
caller(struct rclient *cl, int64_t re, const char *what)
{
	struct who *w = auth_who(cl);

	if (w->role == RR_NONE) {
		bus_caller_refuse(&cl->bc, re, "denied", "%s: you are not a "
		    "parley agent", what);
		return NULL;
	}
	return w;
}

/* Find conv for a write; 0, or -1 after refusing (answered). */
static int
load_for_write(struct rclient *cl, int64_t re, const char *what,
    MDB_txn *txn, const char *id, struct conv *cv)
{
	int rc;

	if ((rc = rs_conv_get(txn, id, cv)) == MDB_NOTFOUND) {
		bus_caller_refuse(&cl->bc, re, "notfound", "%s: no "
		    "conversation %.64s", what, id);
		return -1;
	}
	if (rc != 0) {
		log_warnx("conv=%s cannot be read: %s", id, mdb_strerror(rc));
		bus_caller_refuse(&cl->bc, re, "store", "%s: %s", what,
		    mdb_strerror(rc));
		return -1;
	}
	return auth_check_conv(cl, re, cv);
}

/* Index of tag t in list, or -1. */
static int
tag_find(char list[][TAGLEN], int n, const char *t)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], t) == 0)
			return i;
	return -1;
}

/*
 * Read the add/remove arrays of f into add[]/del[]: each a valid tag.
 * 0, or -1 with why.
 */
static int
tag_args(const msgpack_object *f, const char *key,
    char out[][TAGLEN], int *nout, int max, char *why,
    size_t whysz)
{
	const msgpack_object *a = mp_get(f, key), *o;
	char err[160], t[TAGLEN];
	uint32_t i;

	*nout = 0;
	if (a == NULL || a->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (a->type != MSGPACK_OBJECT_ARRAY) {
		snprintf(why, whysz, "%s must be a list of tags", key);
		return -1;
	}
	for (i = 0; i < a->via.array.size; i++) {
		o = &a->via.array.ptr[i];
		if (o->type != MSGPACK_OBJECT_STR) {
			snprintf(why, whysz, "%s must be a list of tags", key);
			return -1;
		}
		if (o->via.str.size >= sizeof(t)) {
			snprintf(why, whysz, "tag \"%.30s...\" is longer than "
			    "%d characters", o->via.str.ptr, VALID_TAG_MAX);
			return -1;
		}
		memcpy(t, o->via.str.ptr, o->via.str.size);
		t[o->via.str.size] = '\0';
		if (strlen(t) != o->via.str.size || !valid_tag(t, err,
		    sizeof(err))) {
			snprintf(why, whysz, "%s", err);
			return -1;
		}
		if (tag_find(out, *nout, t) != -1)
			continue;
		if (*nout == max) {
			snprintf(why, whysz, "a conversation has at most %d "
			    "tags", TAGS_MAX);
			return -1;
		}
		memcpy(out[(*nout)++], t, strlen(t) + 1);
	}
	return 0;
}

/*
 * {t:"tag", id, conv, add:[..], remove:[..]} -> {ok, tags:[..]}
 * Removes first, then adds; more than TAGS_MAX tags is refused with the
 * current ones named.  A change appends a "tag" event.
 */
void
work_tag(struct rclient *cl, const msgpack_object *f)
{
	char id[R_IDLEN], why[600], newtags[sizeof(((struct conv *)0)->tags)];
	char add[8][TAGLEN], del[8][TAGLEN],
	    cur[TAGS_MAX + 8][TAGLEN];
	int nadd, ndel, ncur = 0, nnew = 0, i, rc, j;
	int64_t re = 0;
	struct conv cv;
	struct who *w;
	struct held *h;
	msgpack_packer *pk;
	MDB_txn *txn;
	char *p, *save, buf[sizeof(newtags)], list[TAGS_MAX * (TAGLEN + 2)];
	size_t len;

	mp_int(f, "id", &re);
	if ((w = caller(cl, re, "tag")) == NULL)
		return;
	if (!mp_strcpy(f, "conv", id, sizeof(id)) || id[0] == '\0') {
		bus_caller_refuse(&cl->bc, re, "invalid", "tag: conv is "
		    "required");
		return;
	}
	if (tag_args(f, "add", add, &nadd, 8, why, sizeof(why)) == -1 ||
	    tag_args(f, "remove", del, &ndel, 8, why, sizeof(why)) == -1) {
		bus_caller_refuse(&cl->bc, re, "invalid", "tag: %s", why);
		return;
	}
	if ((txn = store_txn(R->st)) == NULL) {
		bus_caller_refuse(&cl->bc, re, "store", "tag: %s",
		    store_error(R->st));
		return;
	}
	if (load_for_write(cl, re, "tag", txn, id, &cv) == -1)
		return;
	snprintf(buf, sizeof(buf), "%s", cv.tags);
	for (p = strtok_r(buf, ",", &save); p && ncur < TAGS_MAX + 8;
	    p = strtok_r(NULL, ",", &save))
		if (tag_find(cur, ncur, p) == -1)
			snprintf(cur[ncur++], sizeof(cur[0]), "%s", p);
	/* the new list: current minus removed, then added ones not there */
	for (i = 0; i < ncur; i++) {
		if (tag_find(del, ndel, cur[i]) != -1)
			continue;
		if (i != nnew)
			memcpy(cur[nnew], cur[i], sizeof(cur[0]));
		nnew++;
	}
	for (i = 0; i < nadd; i++) {
		if (tag_find(cur, nnew, add[i]) != -1)
			continue;
		if (nnew == TAGS_MAX) {
			list[0] = '\0';
			for (j = 0; j < nnew; j++) {
				if (j)
					strcat(list, ", ");
				strcat(list, cur[j]);
			}
			bus_caller_refuse(&cl->bc, re, "invalid", "tag: a "
			    "conversation has at most %d tags (it has %s); "
			    "remove one first", TAGS_MAX, list);
			return;
		}
		memcpy(cur[nnew++], add[i], sizeof(cur[0]));
	}
	for (len = 0, i = 0; i < nnew; i++)
		len += strlen(cur[i]) + (i > 0);
	if (len >= sizeof(newtags)) {
		bus_caller_refuse(&cl->bc, re, "invalid", "tag: these tags are "
		    "too long together (%zu bytes, at most %zu)", len,
		    sizeof(newtags) - 1);
		return;
	}
	newtags[0] = '\0';
	for (i = 0; i < nnew; i++) {
		if (i)
			strcat(newtags, ",");
		strcat(newtags, cur[i]);
	}
	h = held_new(&cl->bc, re);
	pk = held_ok(h, 1);
	mp_pack_cstr(pk, "tags");
	pack_tags(pk, newtags);
	if (strcmp(newtags, cv.tags) == 0) {
		/* nothing changes: answer with the tags, no event */
		held_after(h, R->st);
		return;
	}
	pk = rs_event(8);
	mp_kv_str(pk, "type", "tag");
	mp_kv_str(pk, "conv", cv.id);
	mp_kv_str(pk, "campaign", cv.campaign);
	mp_pack_cstr(pk, "tags");
	pack_tags(pk, newtags);
	mp_pack_cstr(pk, "add");
	msgpack_pack_array(pk, nadd);
	for (i = 0; i < nadd; i++)
		mp_pack_cstr(pk, add[i]);
	mp_pack_cstr(pk, "remove");
	msgpack_pack_array(pk, ndel);
	for (i = 0; i < ndel; i++)
		mp_pack_cstr(pk, del[i]);
	mp_kv_str(pk, "by", w->agent[0] ? w->agent : NULL);
	mp_kv_int(pk, "ts", daemon_now_ms());
	if ((rc = rs_append(txn, cv.id, NULL)) != 0)
		goto fail;
	snprintf(cv.tags, sizeof(cv.tags), "%s", newtags);
	if ((rc = rs_conv_put(txn, &cv)) != 0)
		goto fail;
	held_after(h, R->st);
	return;
fail:
	held_fail(h, R->st, rc, "tagging a conversation");
}

/* --------------------------------------------------------- attention */

/* Append cv's "attention" event (on, by: who or NULL for routerd itself,
 * reason or NULL) and set its mark; the caller puts cv.  0 or rc. */
static int
attention_set(MDB_txn *txn, struct conv *cv, int on, const char *by,
    const char *reason)
{
	msgpack_packer *pk;

	pk = rs_event(5 + (by != NULL) + (reason != NULL));
	mp_kv_str(pk, "type", "attention");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_bool(pk, "on", on);
	if (by != NULL)
		mp_kv_str(pk, "by", by);
	if (reason != NULL)
		mp_kv_str(pk, "reason", reason);
	mp_kv_int(pk, "ts", daemon_now_ms());
	cv->attention = on != 0;
	return rs_append(txn, cv->id, NULL);
}

int
work_answered(MDB_txn *txn, struct conv *cv, const char *agent)
{
	if (!cv->attention)
		return 0;
	return attention_set(txn, cv, 0, agent, "answered");
}

#define ATTN_EVERY_MS	100	/* how often unanswered ones are looked for */
#define ATTN_BATCH	256	/* marked in one pass at most (2,560 a second) */

/*
 * Was cv's attention marked or unmarked (by anyone) since its customer
 * began waiting?  Then that stands: someone who said "does not need
 * attention" is not overruled until the customer is answered.
 */
static int
attn_decided(MDB_txn *txn, const struct conv *cv)
{
	struct rs_cursor c;
	msgpack_unpacked up;
	uint64_t seq;
	MDB_val rec;
	int64_t ts;
	size_t off;
	int rc, n = 0, found = 0;

	if (rs_convev_open(txn, cv->id, &c) != 0)
		return 1;
	for (rc = rs_convev_last(&c, &seq); rc == 0 && n < 200 && !found;
	    rc = rs_convev_prev(&c, &seq), n++) {
		if (rs_event_get(txn, seq, &rec) != 0)
			break;
		off = 0;
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, rec.mv_data, rec.mv_size, &off) ==
		    MSGPACK_UNPACK_SUCCESS) {
			if (mp_int(&up.data, "ts", &ts) &&
			    ts < cv->waiting_since)
				rc = -1;	/* before the wait: done */
			else if (mp_get(&up.data, "type") &&
			    mp_streq(mp_get(&up.data, "type"), "attention"))
				found = 1;
		}
		msgpack_unpacked_destroy(&up);
		if (rc == -1)
			break;
	}
	rs_cursor_close(&c);
	return found;
}

/* Fill the index: every conversation that may come to need attention. */
static int
attn_fill(const char *id, const MDB_val *rec, void *arg)
{
	struct conv cv;

	if (rs_conv_decode(rec, &cv) == 0)
		attn_note(&cv);
	return 0;
}

/*
 * Mark the conversations whose customer has waited past the campaign's
 * response threshold (every ATTN_EVERY_MS).  Only what routerd_attn's index
 * says is due is looked at: each is checked in the batch, marked when due
 * and not decided by someone since the wait began, noted again when its
 * wait (or threshold) is not over yet, else left.  The index is filled by
 * one walk of the store at start, and again after an abandoned batch.
 */
void
work_attention_tick(void)
{
	static long long last;
	static char ids[ATTN_BATCH][R_IDLEN];
	struct conv cv;
	struct camp c;
	MDB_txn *txn;
	char why[96];
	long long now, thr;
	size_t i, n;
	int rc = 0;

	now = daemon_now_ms();
	if (now - last < ATTN_EVERY_MS)
		return;
	last = now;
	if (!attn_loaded()) {
		if (store_rtxn(R->st, &txn) != 0)
			return;
		attn_reset(1);
		rc = rs_convs_walk(txn, "", attn_fill, NULL);
		mdb_txn_abort(txn);
		if (rc != 0) {
			attn_reset(0);
			return;
		}
		log_debug("attention index: %zu conversations waiting",
		    attn_count());
	}
	if ((n = attn_take(now, ids, ATTN_BATCH)) == 0)
		return;
	if ((txn = store_txn(R->st)) == NULL) {
		attn_reset(0);		/* taken out: filled again later */
		return;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (rs_conv_get(txn, ids[i], &cv) != 0 ||
		    !attn_candidate(&cv))
			continue;	/* gone, answered, marked: a put notes it */
		camp_get(cv.campaign, &c);
		thr = (long long)c.response_threshold_s * 1000;
		if (now - cv.waiting_since < thr) {
			attn_note(&cv);		/* a later wait: not yet */
			continue;
		}
		if (attn_decided(txn, &cv))
			continue;	/* until the customer waits anew */
		snprintf(why, sizeof(why), "no answer within %lld s",
		    thr / 1000);
		if ((rc = attention_set(txn, &cv, 1, NULL, why)) == 0)
			rc = rs_conv_put(txn, &cv);
	}
	if (rc != 0)
		store_fail(R->st, rc, "marking conversations needing attention");
}

/* {t:"attention", id, conv, on:bool} -> {ok}; a change appends an event. */
void
work_attention(struct rclient *cl, const msgpack_object *f)
{
	char id[R_IDLEN];
	int64_t re = 0;
	int on, rc;
	struct conv cv;
	struct who *w;
	struct held *h;
	MDB_txn *txn;

	mp_int(f, "id", &re);
	if ((w = caller(cl, re, "attention")) == NULL)
		return;
	if (!mp_strcpy(f, "conv", id, sizeof(id)) || id[0] == '\0') {
		bus_caller_refuse(&cl->bc, re, "invalid", "attention: conv is "
		    "required");
		return;
	}
	if (!mp_bool(f, "on", &on)) {
		bus_caller_refuse(&cl->bc, re, "invalid", "attention: on must "
		    "be true or false");
		return;
	}
	if ((txn = store_txn(R->st)) == NULL) {
		bus_caller_refuse(&cl->bc, re, "store", "attention: %s",
		    store_error(R->st));
		return;
	}
	if (load_for_write(cl, re, "attention", txn, id, &cv) == -1)
		return;
	h = held_new(&cl->bc, re);
	if ((cv.attention != 0) == (on != 0)) {
		held_after(h, R->st);
		return;
	}
	if ((rc = attention_set(txn, &cv, on, w->agent[0] ? w->agent :
	    "admin", NULL)) != 0)
		goto fail;
	if ((rc = rs_conv_put(txn, &cv)) != 0)
		goto fail;
	held_after(h, R->st);
	return;
fail:
	held_fail(h, R->st, rc, "setting attention");
}

/* ------------------------------------------------------------ optout */

/*
 * {t:"optout", id, contact, channel?, in?, reason?} -> {contact, channel,
 * optout, conv}: record a contact's consent by hand (routerd_consent).
 * Admins and supervisors may; an agent only for a contact who has a
 * conversation in one of the agent's campaigns.
 */
void
work_optout(struct rclient *cl, const msgpack_object *f)
{
	char contact[R_ADDRLEN], norm[R_ADDRLEN], channel[16] = "sms",
	    reason[REASON_MAX + 1] = "", campaign[64] = "*",
	    conv[R_IDLEN] = "";
	struct who *w = auth_who(cl);
	struct held *h;
	msgpack_packer *pk;
	enum chan ch;
	const char *s;
	size_t n;
	int64_t re = 0;
	int optin = 0, rc = 0, found;
	MDB_txn *txn;

	mp_int(f, "id", &re);
	if (w == NULL || w->role == RR_NONE) {
		bus_caller_refuse(&cl->bc, re, "denied", "optout: you are not a "
		    "parley agent");
		return;
	}
	if (!mp_str(f, "contact", &s, &n) || n == 0 ||
	    n >= sizeof(contact) || memchr(s, '\0', n) || memchr(s, '|', n)) {
		bus_caller_refuse(&cl->bc, re, "invalid", "optout: contact is "
		    "required (a phone number, e-mail address or channel id)");
		return;
	}
	memcpy(contact, s, n);
	contact[n] = '\0';
	if (mp_get(f, "channel") && !mp_strcpy(f, "channel", channel,
	    sizeof(channel)))
		channel[0] = '\0';
	if (rs_chan_parse(channel, &ch) == -1) {
		bus_caller_refuse(&cl->bc, re, "invalid", "optout: channel must "
		    "be sms, whatsapp, messenger or instagram");
		return;
	}
	if (mp_get(f, "in") && !mp_bool(f, "in", &optin)) {
		bus_caller_refuse(&cl->bc, re, "invalid", "optout: in must be "
		    "true or false");
		return;
	}
	if (mp_get(f, "reason") && (!mp_str(f, "reason", &s, &n) ||
	    n > REASON_MAX || memchr(s, '\0', n) || memchr(s, '\n', n))) {
		bus_caller_refuse(&cl->bc, re, "invalid", "optout: reason is one "
		    "line of at most 200 bytes");
		return;
	}
	mp_strcpy(f, "reason", reason, sizeof(reason));
	if (ch == CH_SMS && !valid_e164(contact)) {
		bus_caller_refuse(&cl->bc, re, "invalid", "optout: an sms "
		    "contact is an E.164 number (+ and 8 to 15 digits)");
		return;
	}
	valid_contact_key(contact, norm, sizeof(norm));
	if ((txn = store_txn(R->st)) == NULL) {
		bus_caller_refuse(&cl->bc, re, "store", "%s",
		    store_error(R->st));
		return;
	}
	h = held_new(&cl->bc, re);
	found = consent_find_conv(txn, w, ch, norm, conv, campaign,
	    sizeof(campaign), &rc);
	if (found == -1)
		goto fail;
	if (!found && w->role == RR_AGENT) {
		bus_caller_refuse(&cl->bc, re, "denied", "optout: you have no "
		    "conversation with this contact in your campaigns");
		held_free(h);
		return;
	}
	if ((rc = consent_record(txn, conv, campaign, ch, norm, !optin, NULL,
	    consent_by(w), reason)) != 0)
		goto fail;
	pk = held_ok(h, 4);
	mp_kv_str(pk, "contact", norm);
	mp_kv_str(pk, "channel", rs_chan_name(ch));
	mp_kv_bool(pk, "optout", !optin);
	mp_kv_str(pk, "conv", conv[0] ? conv : NULL);
	held_after(h, R->st);
	return;
fail:
	held_fail(h, R->st, rc, "recording a consent");
}
