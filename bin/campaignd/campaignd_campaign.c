/*
 * campaignd_campaign — campaigns: create, show, list, edit, clone,
 * enable/disable, launch, schedule, stop (archive), delete, export, apply.
 *
 * The document's shape is checked by lib/campaign_check (defaults, bounds,
 * canonical order); this module adds what needs the store: names unique,
 * referenced teams, canned responses, templates and dispositions existing,
 * and the address index C->db_addr ("<channel>:<addr>" -> campaign) that
 * routerd reads to route inbound messages.  A provisioned address belongs to
 * one campaign; a reusable one may be listed by several and the index names
 * the oldest active one: a draft, scheduled or archived campaign is not
 * live, so inbound on its addresses goes where it would go without it.
 * Launch and schedule refuse a campaign that could not work, naming every
 * missing item (readiness; `msg campaign check` shows the same list).  The index is recomputed for every address a write
 * touches from a scan of all campaigns, so it cannot drift.
 *
 * Deleting a campaign deletes its conversations: routerd is asked first
 * ({t:"purge"}), and only when it has confirmed are the campaign, its index
 * entries and its members deleted, in one nested transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "campaign_check.h"
#include "log.h"
#include "mp.h"
#include "rec.h"
#include "schedule.h"
#include "valid.h"
#include "str.h"
#include "campaignd.h"

/* Request keys that are not campaign fields. */
static const char *const ctl_keys[] = {
	"t", "id", "kind", "op", "name", "provisioned", "reusable", "rename",
	"new", "at", "yes", "doc", NULL
};

/* The campaign fields of the request (new reference). */
static json_t *
fields_of(struct creq *r)
{
	json_t *f = json_object(), *v;
	const char *k;

	json_object_foreach(r->args, k, v) {
		if (!str_in(ctl_keys, k))
			json_object_set(f, k, v);
	}
	return f;
}

/* Agents see the campaigns they are members of; others see every one. */
static int
can_see(struct creq *r, const char *name)
{
	if (r->role >= ROLE_SUPERVISOR)
		return 1;
	return member_in_effect(r->txn, name, r->who);
}

/* Load campaign r->name for reading or writing; -1 answered. */
static int
load(struct creq *r, const char *name, json_t **doc)
{
	int rc;

	if (name == NULL || *name == '\0') {
		creq_err(r, "invalid", "campaign: a name is required");
		return -1;
	}
	if (strlen(name) > VALID_NAME_MAX) {
		creq_err(r, "notfound", "no campaign named \"%.64s...\"", name);
		return -1;
	}
	if ((rc = cdb_get(r->txn, C->db_campaigns, name, doc)) != 0) {
		if (rc == MDB_NOTFOUND)
			creq_err(r, "notfound", "no campaign named \"%s\"",
			    name);
		else
			creq_err(r, "store", "campaign %s: %s", name,
			    mdb_strerror(rc));
		return -1;
	}
	if (!r->write && !can_see(r, name)) {
		json_decref(*doc);
		*doc = NULL;
		creq_err(r, "denied", "you (%s) are not a member of campaign "
		    "\"%s\"", r->who, name);
		return -1;
	}
	return 0;
}

/* ---- today's hours ---- */

/* The global holidays' dates (new array of strings). */
static json_t *
global_holidays(MDB_txn *txn)
{
	json_t *a = json_array(), *doc;
	MDB_cursor *cur;
	MDB_val k, v;
	msgpack_unpacked up;
	size_t off;
	int rc;

	if (mdb_cursor_open(txn, C->db_holidays, &cur) != 0)
		return a;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		off = 0;
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) ==
		    MSGPACK_UNPACK_SUCCESS &&
		    (doc = rec_to_json(&up.data)) != NULL) {
			if (json_is_string(json_object_get(doc, "date")))
				json_array_append(a, json_object_get(doc,
				    "date"));
			json_decref(doc);
		}
		msgpack_unpacked_destroy(&up);
	}
	mdb_cursor_close(cur);
	return a;
}

/* Add "today" and "open_now" to doc (its own and the global holidays). */
static void
computed(json_t *doc, const json_t *global, long long now)
{
	struct sched s;
	const char **hol;
	const char *tz = rec_str(doc, "timezone", "");
	json_t *own = json_object_get(doc, "holidays"), *e;
	size_t i, nh = 0;
	char today[256], err[256];
	int open;

	hol = calloc(json_array_size(global) + json_array_size(own) + 1,
	    sizeof(*hol));
	if (hol == NULL)
		return;
	json_array_foreach(global, i, e)
		hol[nh++] = json_string_value(e);
	json_array_foreach(own, i, e)
		if (json_is_string(json_object_get(e, "date")))
			hol[nh++] = rec_str(e, "date", "");
	if (sched_from_json(json_object_get(doc, "schedule"), &s, err,
	    sizeof(err)) == -1) {
		snprintf(today, sizeof(today), "?");
		open = 0;
	} else {
		if (sched_today(&s, tz, hol, nh, now, today,
		    sizeof(today)) == -1)
			snprintf(today, sizeof(today), "?");
		open = sched_open_at(&s, tz, hol, nh, now);
	}
	json_object_set_new(doc, "today", json_string(today));
	json_object_set_new(doc, "open_now", json_boolean(open == 1));
	free(hol);
}

/* ---- the address index ---- */

/*
 * Every campaign but self that lists an address: a map "<ch>:<addr>" ->
 * [{campaign, mode, created}], with selfdoc's addresses added (if any).
 */
static json_t *
addr_users(MDB_txn *txn, const char *self, const json_t *selfdoc)
{
	json_t *map = json_object(), *doc, *ch, *e, *l;
	MDB_cursor *cur;
	MDB_val k, v;
	msgpack_unpacked up;
	const char *cn;
	char key[128];
	size_t off, i;
	int rc;

	if (mdb_cursor_open(txn, C->db_campaigns, &cur) != 0)
		return map;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 || selfdoc;
	    rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_NEXT) : rc) {
		doc = NULL;
		if (rc != 0) {		/* finally, the document being saved */
			doc = json_incref((json_t *)selfdoc);
			selfdoc = NULL;
		} else if (k.mv_size == strlen(self) &&
		    memcmp(k.mv_data, self, k.mv_size) == 0)
			continue;
		else {
			off = 0;
			msgpack_unpacked_init(&up);
			if (msgpack_unpack_next(&up, v.mv_data, v.mv_size,
			    &off) == MSGPACK_UNPACK_SUCCESS)
				doc = rec_to_json(&up.data);
			msgpack_unpacked_destroy(&up);
		}
		if (doc == NULL)
			continue;
		json_object_foreach(json_object_get(doc, "channels"), cn, ch) {
			json_array_foreach(json_object_get(ch, "addresses"), i,
			    e) {
				snprintf(key, sizeof(key), "%s:%s", cn,
				    rec_str(e, "addr", ""));
				if ((l = json_object_get(map, key)) == NULL) {
					l = json_array();
					json_object_set_new(map, key, l);
				}
				json_array_append_new(l, json_pack(
				    "{s:s,s:s,s:s,s:s}", "campaign", rec_str(doc,
				    "name", ""), "mode", rec_str(e, "mode", ""),
				    "created", rec_str(doc, "created_ts", ""),
				    "state", rec_str(doc, "state", "")));
			}
		}
		json_decref(doc);
	}
	mdb_cursor_close(cur);
	return map;
}

/* Refuse addresses of doc that another campaign holds; -1 answered. */
static int
addr_conflicts(struct creq *r, const json_t *doc, const json_t *users)
{
	json_t *ch, *e, *u;
	const char *cn, *name = rec_str(doc, "name", "");
	char key[128];
	size_t i, j;

	json_object_foreach(json_object_get(doc, "channels"), cn, ch) {
		json_array_foreach(json_object_get(ch, "addresses"), i, e) {
			snprintf(key, sizeof(key), "%s:%s", cn, rec_str(e,
			    "addr", ""));
			json_array_foreach(json_object_get(users, key), j, u) {
				/* a stopped campaign's numbers are released */
				if (strcmp(rec_str(u, "campaign", ""),
				    name) == 0 || strcmp(rec_str(u, "state", ""),
				    "archived") == 0)
					continue;
				if (strcmp(rec_str(u, "mode", ""),
				    "provisioned") == 0) {
					creq_err(r, "inuse", "%s is provisioned "
					    "to campaign %s",
					    rec_str(e, "addr", ""),
					    rec_str(u, "campaign", ""));
					return -1;
				}
				if (strcmp(rec_str(e, "mode", ""),
				    "provisioned") == 0) {
					creq_err(r, "inuse", "%s is already used "
					    "by campaign %s; a provisioned "
					    "address belongs to one campaign",
					    rec_str(e, "addr", ""), rec_str(u,
					    "campaign", ""));
					return -1;
				}
			}
		}
	}
	return 0;
}

/* Collect doc's index keys into set (an object used as a set). */
static void
addr_keys(const json_t *doc, json_t *set)
{
	json_t *ch, *e;
	const char *cn;
	char key[128];
	size_t i;

	json_object_foreach(json_object_get(doc, "channels"), cn, ch) {
		json_array_foreach(json_object_get(ch, "addresses"), i, e) {
			snprintf(key, sizeof(key), "%s:%s", cn, rec_str(e,
			    "addr", ""));
			json_object_set_new(set, key, json_true());
		}
	}
}

/*
 * Point every index entry of old's and new's addresses at its oldest
 * active user, or remove it; users is addr_users() after the write.  A
 * draft, scheduled or archived campaign is not live: inbound on its
 * addresses goes where it would go without it.
 */
static int
addr_sync(MDB_txn *txn, const json_t *old, const json_t *new,
    const json_t *users)
{
	json_t *set = json_object(), *l, *u, *best;
	const char *key;
	json_t *dummy;
	size_t i;
	int rc = 0;

	if (old)
		addr_keys(old, set);
	if (new)
		addr_keys(new, set);
	json_object_foreach(set, key, dummy) {
		best = NULL;
		l = json_object_get(users, key);
		json_array_foreach(l, i, u) {
			int c;

			if (strcmp(rec_str(u, "state", ""), "active") != 0)
				continue;
			if (best == NULL) {
				best = u;
				continue;
			}
			c = strcmp(rec_str(u, "created", ""),
			    rec_str(best, "created", ""));
			if (c < 0 || (c == 0 &&
			    strcmp(rec_str(u, "campaign", ""),
			    rec_str(best, "campaign", "")) < 0))
				best = u;
		}
		if (best)
			rc = cdb_iput(txn, C->db_addr, key, rec_str(best,
			    "campaign", ""));
		else if ((rc = cdb_del(txn, C->db_addr, key)) == MDB_NOTFOUND)
			rc = 0;
		if (rc != 0)
			break;
	}
	json_decref(set);
	return rc;
}

/* ---- saving ---- */

/* 1 if s is in the string array a. */
static int
listed(const json_t *a, const char *s)
{
	json_t *e;
	size_t i;

	json_array_foreach(a, i, e)
		if (json_is_string(e) && strcmp(json_string_value(e), s) == 0)
			return 1;
	return 0;
}

/*
 * References newly listed in doc (not already in old) must exist: teams,
 * canned responses, templates, dispositions.  Ones deleted since they were
 * assigned stay listed (unavailable) rather than block unrelated edits.
 */
static int
refs_check(struct creq *r, const json_t *old, const json_t *doc)
{
	static const struct {
		const char	*field, *what, *hint;
		int		 slash;
	} refs[] = {
		{ "teams", "team", "msg team add", 0 },
		{ "canned", "canned response", "msg canned add", 1 },
		{ "templates", "template", "msg template add", 0 },
		{ "dispositions", "disposition", "msg disposition add", 0 },
	};
	MDB_dbi dbi[4] = { C->db_teams, C->db_canned, C->db_templates,
	    C->db_dispositions };
	json_t *e;
	size_t i, j;

	for (i = 0; i < 4; i++) {
		json_array_foreach(json_object_get(doc, refs[i].field), j, e) {
			const char *s = json_string_value(e);

			if (old && listed(json_object_get(old, refs[i].field),
			    s))
				continue;
			if (!cdb_exists(r->txn, dbi[i], s)) {
				creq_err(r, "notfound", "no %s named \"%s%s\" "
				    "(%s makes one)", refs[i].what,
				    refs[i].slash ? "/" : "", s, refs[i].hint);
				return -1;
			}
		}
	}
	return 0;
}

/*
 * Store doc (canonical) as campaign name, replacing old (NULL: new), after
 * the store checks; keeps the address index right.  -1 answered.
 */
static int
save(struct creq *r, const json_t *old, json_t *doc)
{
	json_t *users, *fin;
	const char *name = rec_str(doc, "name", "");
	char err[512];
	int rc;

	if ((fin = campaign_check_norm(doc, err, sizeof(err))) == NULL) {
		creq_err(r, "invalid", "%s", err);
		return -1;
	}
	if (refs_check(r, old, fin) == -1 ||
	    outbound_store_check(r, fin) == -1) {
		json_decref(fin);
		return -1;
	}
	users = addr_users(r->txn, name, fin);
	if (addr_conflicts(r, fin, users) == -1) {
		json_decref(users);
		json_decref(fin);
		return -1;
	}
	if ((rc = cdb_put(r->txn, C->db_campaigns, name, fin)) != 0 ||
	    (rc = addr_sync(r->txn, old, fin, users)) != 0) {
		json_decref(users);
		json_decref(fin);
		creq_err(r, "store", "campaign %s: %s", name, mdb_strerror(rc));
		return -1;
	}
	json_decref(users);
	json_object_clear(doc);
	json_object_update(doc, fin);
	json_decref(fin);
	return 0;
}

/* Apply --provisioned / --reusable marks to doc; -1 answered. */
static int
marks(struct creq *r, json_t *doc)
{
	char err[256];

	if ((arg(r, "provisioned") && campaign_check_mark(doc,
	    arg(r, "provisioned"), "provisioned", err, sizeof(err)) == -1) ||
	    (arg(r, "reusable") && campaign_check_mark(doc, arg(r,
	    "reusable"), "reusable", err, sizeof(err)) == -1)) {
		creq_err(r, "invalid", "%s", err);
		return -1;
	}
	return 0;
}

/* Refuse lifecycle fields among request fields; -1 answered. */
static int
no_lifecycle(struct creq *r, json_t *f)
{
	const char *k;
	json_t *v;

	json_object_foreach(f, k, v) {
		if (campaign_check_lifecycle(k)) {
			creq_err(r, "invalid", "%s cannot be set: the state "
			    "changes with launch, schedule and stop", k);
			return -1;
		}
	}
	return 0;
}

static void
answer_doc(struct creq *r, json_t *doc)
{
	creq_ok(r, json_pack("{s:O}", "doc", doc));
}

/* ---- readiness ---- */

/*
 * What campaign doc lacks to work, one item each (new array of strings,
 * empty when it is ready): an enabled channel with an address; when
 * agent-operated, a member (its own or one of its teams' agents) who may
 * receive conversations; when bot-operated, a member for msg bot to run
 * as.  -1 (answered) on a store error.
 */
static int
readiness(struct creq *r, const json_t *doc, json_t **out, json_t **unfilled)
{
	const char *name = rec_str(doc, "name", "");
	json_t *miss = json_array(), *ch, *mem, *m, *unf;
	const char *cn;
	size_t i;
	int chans = 0, recv = 0, rc;

	json_object_foreach(json_object_get(doc, "channels"), cn, ch) {
		if (json_is_true(json_object_get(ch, "enabled")) &&
		    json_array_size(json_object_get(ch, "addresses")) > 0)
			chans++;
	}
	if (chans == 0)
		json_array_append_new(miss, json_sprintf("no enabled channel "
		    "with an address (msg campaign edit %s --sms NUMBER)",
		    name));
	if ((rc = members_effective(r->txn, doc, &mem)) != 0) {
		json_decref(miss);
		creq_err(r, "store", "campaign %s: %s", name,
		    mdb_strerror(rc));
		return -1;
	}
	json_array_foreach(mem, i, m)
		if (json_is_true(json_object_get(m, "receive")))
			recv++;
	if (strcmp(rec_str(doc, "operator", "agent"), "bot") == 0) {
		if (json_array_size(mem) == 0)
			json_array_append_new(miss, json_sprintf("no bot: it is "
			    "bot-operated and has no member for msg bot to run "
			    "as (msg member add %s AGENT)", name));
	} else if (recv == 0)
		json_array_append_new(miss, json_sprintf("no member who may "
		    "receive conversations: it is agent-operated (msg member "
		    "add %s AGENT, or msg campaign edit %s --teams TEAM)",
		    name, name));
	json_decref(mem);
	if (outbound_readiness(r, doc, miss, &unf) == -1) {
		json_decref(miss);
		return -1;
	}
	if (unfilled)
		*unfilled = unf;
	else
		json_decref(unf);
	*out = miss;
	return 0;
}

/* Refuse op on doc unless it is ready, naming every missing item; -1
 * answered. */
static int
ready_or_refuse(struct creq *r, const json_t *doc)
{
	json_t *miss, *e;
	char buf[2048] = "";
	size_t i, n;

	if (readiness(r, doc, &miss, NULL) == -1)
		return -1;
	if (json_array_size(miss) == 0) {
		json_decref(miss);
		return 0;
	}
	json_array_foreach(miss, i, e) {
		n = strlen(buf);
		snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? "; " : "",
		    json_string_value(e));
	}
	creq_err(r, "notready", "campaign %s cannot be %s: %s",
	    rec_str(doc, "name", ""), strcmp(r->op, "schedule") == 0 ?
	    "scheduled" : "launched", buf);
	json_decref(miss);
	return -1;
}

/* ---- scheduled launches ---- */

#define LAUNCH_POLL_MS	60000	/* re-scan at least this often */

static struct event	*launch_ev;

static void launch_arm(long long at_ms);

/* Launch one due campaign in its own nested transaction; 0 or an error. */
static int
launch_one(MDB_txn *parent, const char *name, long long now)
{
	MDB_txn *txn;
	json_t *doc;
	int rc;

	if ((rc = mdb_txn_begin(store_env(C->st), parent, 0, &txn)) != 0)
		return rc;
	if ((rc = cdb_get(txn, C->db_campaigns, name, &doc)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	if (strcmp(rec_str(doc, "state", ""), "scheduled") == 0) {
		json_t *users;

		json_object_set_new(doc, "state", json_string("active"));
		json_object_set_new(doc, "launched_ts", cts(now));
		json_object_set_new(doc, "updated_ts", cts(now));
		json_object_del(doc, "scheduled_for");
		/* live now: its addresses' index entries may point at it */
		users = addr_users(txn, name, doc);
		if ((rc = cdb_put(txn, C->db_campaigns, name, doc)) == 0)
			rc = addr_sync(txn, doc, doc, users);
		if (rc == 0)
			rc = run_launch(txn, doc, now);
		json_decref(users);
	}
	json_decref(doc);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

/*
 * Launch every scheduled campaign whose time has come, then wait for the
 * next one (or LAUNCH_POLL_MS).  The store is the truth: after a restart
 * the first pass finds what fell due meanwhile.
 */
static void
launch_due(evutil_socket_t fd, short what, void *arg)
{
	MDB_txn *rtxn, *parent;
	MDB_cursor *cur;
	MDB_val k, v;
	msgpack_unpacked up;
	json_t *doc, *due = json_array(), *e;
	long long now = daemon_now_ms(), next = now + LAUNCH_POLL_MS;
	int64_t at;
	size_t off, i;
	int rc;

	if (store_rtxn(C->st, &rtxn) != 0)
		goto out;
	if (mdb_cursor_open(rtxn, C->db_campaigns, &cur) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			off = 0;
			doc = NULL;
			msgpack_unpacked_init(&up);
			if (msgpack_unpack_next(&up, v.mv_data, v.mv_size,
			    &off) == MSGPACK_UNPACK_SUCCESS)
				doc = rec_to_json(&up.data);
			msgpack_unpacked_destroy(&up);
			if (doc && strcmp(rec_str(doc, "state", ""),
			    "scheduled") == 0 &&
			    rec_ts_parse(rec_str(doc, "scheduled_for", ""),
			    &at) == 0) {
				if (at <= now)
					json_array_append_new(due, json_string(
					    rec_str(doc, "name", "")));
				else if (at < next)
					next = at;
			}
			json_decref(doc);
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(rtxn);
	if (json_array_size(due) > 0 && (parent = store_txn(C->st)) != NULL) {
		json_array_foreach(due, i, e) {
			if ((rc = launch_one(parent, json_string_value(e),
			    now)) != 0)
				log_warnx("campaign %s: scheduled launch: %s",
				    json_string_value(e), mdb_strerror(rc));
			else
				log_info("campaign %s launched as scheduled",
				    json_string_value(e));
		}
	}
out:
	json_decref(due);
	launch_arm(next);
}

/* Run launch_due at at_ms, unless it is already due to run sooner. */
static void
launch_arm(long long at_ms)
{
	static long long armed;
	long long now = daemon_now_ms(), d;
	struct timeval tv;

	if (launch_ev == NULL &&
	    (launch_ev = evtimer_new(C->d.base, launch_due, NULL)) == NULL) {
		log_warnx("scheduled launches: cannot make a timer");
		return;
	}
	if (evtimer_pending(launch_ev, NULL) && armed <= at_ms)
		return;
	d = at_ms > now ? at_ms - now : 0;
	tv.tv_sec = d / 1000;
	tv.tv_usec = (d % 1000) * 1000;
	armed = at_ms;
	/* as lib/bus's reconnect timer: a launch never armed is never run */
	if (evtimer_add(launch_ev, &tv) == -1)
		fatalx("scheduled launches: cannot arm the timer");
}

/*
 * Start launching scheduled campaigns when their time comes (main calls
 * this once the store is open; the first request does it otherwise).
 */
void
campaign_start(void)
{
	if (launch_ev == NULL)
		launch_arm(daemon_now_ms());
}

/* ---- operations ---- */

static void
op_create(struct creq *r)
{
	json_t *f = NULL, *doc = NULL;
	char err[512];

	if (creq_begin(r) == -1)
		return;
	if (r->name == NULL) {
		creq_err(r, "invalid", "campaign create: a name is required");
		return;
	}
	f = fields_of(r);
	json_object_set_new(f, "name", json_string(r->name));
	if (no_lifecycle(r, f) == -1)
		goto out;
	if ((doc = campaign_check_norm(f, err, sizeof(err))) == NULL) {
		creq_err(r, "invalid", "%s", err);
		goto out;
	}
	if (cdb_exists(r->txn, C->db_campaigns, r->name)) {
		creq_err(r, "exists", "a campaign named \"%s\" exists",
		    r->name);
		goto out;
	}
	if (marks(r, doc) == -1)
		goto out;
	json_object_set_new(doc, "state", json_string("draft"));
	json_object_set_new(doc, "created_ts", cts(daemon_now_ms()));
	json_object_set_new(doc, "updated_ts", cts(daemon_now_ms()));
	if (save(r, NULL, doc) == 0)
		answer_doc(r, doc);
out:
	json_decref(f);
	json_decref(doc);
}

static void
op_edit(struct creq *r)
{
	json_t *old = NULL, *doc = NULL, *f = NULL, *fin;
	char err[512];

	if (creq_begin(r) == -1)
		return;
	if (arg(r, "rename")) {
		creq_err(r, "invalid", "a campaign's name never changes; "
		    "msg campaign clone %s NEW copies it under a new name",
		    r->name ? r->name : "NAME");
		return;
	}
	if (load(r, r->name, &old) == -1)
		return;
	f = fields_of(r);
	if (no_lifecycle(r, f) == -1)
		goto out;
	if (json_object_size(f) == 0 && !arg(r, "provisioned") &&
	    !arg(r, "reusable")) {
		creq_err(r, "invalid", "nothing to change: give the fields to "
		    "edit (see msg-campaign(1))");
		goto out;
	}
	if (strcmp(rec_str(old, "state", ""), "archived") == 0) {
		creq_err(r, "invalid", "campaign %s is archived; clone it to "
		    "start again", r->name);
		goto out;
	}
	doc = json_deep_copy(old);
	if (campaign_check_merge(doc, f, err, sizeof(err)) == -1 ||
	    (fin = campaign_check_norm(doc, err, sizeof(err))) == NULL) {
		creq_err(r, "invalid", "%s", err);
		goto out;
	}
	json_decref(doc);
	doc = fin;
	if (marks(r, doc) == -1)
		goto out;
	json_object_set_new(doc, "updated_ts", cts(daemon_now_ms()));
	if (save(r, old, doc) == 0)
		answer_doc(r, doc);
out:
	json_decref(old);
	json_decref(doc);
	json_decref(f);
}

/* Remove provisioned addresses (single-use: never copied). */
static void
drop_provisioned(json_t *doc)
{
	json_t *ch, *a, *e;
	const char *cn;
	size_t i;

	json_object_foreach(json_object_get(doc, "channels"), cn, ch) {
		a = json_object_get(ch, "addresses");
		for (i = 0; i < json_array_size(a);) {
			e = json_array_get(a, i);
			if (strcmp(rec_str(e, "mode", ""), "provisioned") == 0)
				json_array_remove(a, i);
			else
				i++;
		}
	}
}

static void
op_clone(struct creq *r)
{
	json_t *src = NULL, *doc = NULL;
	const char *new = arg_str(r, "new");
	char err[256];

	if (creq_begin(r) == -1)
		return;
	if (load(r, r->name, &src) == -1)
		return;
	if (new == NULL || !valid_name(new, "campaign name", err,
	    sizeof(err))) {
		creq_err(r, "invalid", "%s", new ? err :
		    "campaign clone: the new name is required");
		goto out;
	}
	if (cdb_exists(r->txn, C->db_campaigns, new)) {
		creq_err(r, "exists", "a campaign named \"%s\" exists", new);
		goto out;
	}
	doc = campaign_check_config(src);
	json_object_set_new(doc, "name", json_string(new));
	drop_provisioned(doc);
	if (arg_str(r, "title"))
		json_object_set_new(doc, "title", json_string(arg_str(r,
		    "title")));
	json_object_set_new(doc, "state", json_string("draft"));
	json_object_set_new(doc, "created_ts", cts(daemon_now_ms()));
	json_object_set_new(doc, "updated_ts", cts(daemon_now_ms()));
	if (save(r, NULL, doc) == 0)
		answer_doc(r, doc);
out:
	json_decref(src);
	json_decref(doc);
}

/* enable, disable, launch, schedule, stop. */
static void
op_life(struct creq *r)
{
	json_t *doc = NULL;
	const char *op = r->op, *state, *at;
	long long now = daemon_now_ms();
	int64_t when;

	if (creq_begin(r) == -1)
		return;
	if (load(r, r->name, &doc) == -1)
		return;
	state = rec_str(doc, "state", "");
	if (strcmp(state, "archived") == 0 && strcmp(op, "disable") != 0) {
		creq_err(r, "invalid", "campaign %s is archived; clone it to "
		    "start again", r->name);
		goto out;
	}
	if (strcmp(op, "enable") == 0 || strcmp(op, "disable") == 0)
		json_object_set_new(doc, "enabled", json_boolean(op[0] == 'e'));
	else if (strcmp(op, "launch") == 0) {
		if (strcmp(state, "active") == 0) {
			creq_err(r, "invalid", "campaign %s is already active",
			    r->name);
			goto out;
		}
		if (ready_or_refuse(r, doc) == -1)
			goto out;
		json_object_set_new(doc, "state", json_string("active"));
		json_object_set_new(doc, "launched_ts", cts(now));
		json_object_del(doc, "scheduled_for");
		if (run_launch(r->txn, doc, now) != 0) {
			creq_err(r, "store", "campaign %s: its run could not "
			    "start", r->name);
			goto out;
		}
	} else if (strcmp(op, "schedule") == 0) {
		if ((at = arg_str(r, "at")) == NULL ||
		    rec_ts_parse(at, &when) == -1) {
			creq_err(r, "invalid", "campaign schedule needs --at "
			    "with an RFC 3339 time, e.g. 2026-12-01T09:00:00Z");
			goto out;
		}
		if (when <= now) {
			creq_err(r, "invalid", "%s is not in the future", at);
			goto out;
		}
		if (strcmp(state, "active") == 0) {
			creq_err(r, "invalid", "campaign %s is active; stop it "
			    "or clone it to schedule a new run", r->name);
			goto out;
		}
		if (ready_or_refuse(r, doc) == -1)
			goto out;
		json_object_set_new(doc, "state", json_string("scheduled"));
		json_object_set_new(doc, "scheduled_for", cts(when));
		launch_arm(when);
	} else {		/* stop */
		json_object_set_new(doc, "state", json_string("archived"));
		json_object_set_new(doc, "enabled", json_false());
		json_object_del(doc, "scheduled_for");
		if (run_stop(r->txn, r->name) != 0) {
			creq_err(r, "store", "campaign %s: its run could not "
			    "end", r->name);
			goto out;
		}
	}
	json_object_set_new(doc, "updated_ts", cts(now));
	if (save(r, doc, doc) == 0)
		answer_doc(r, doc);
out:
	json_decref(doc);
}

static void
op_show(struct creq *r, int export)
{
	json_t *doc = NULL, *out, *global;

	if (creq_need(r, ROLE_AGENT) == -1 || load(r, r->name, &doc) == -1)
		return;
	if (export)
		out = campaign_check_config(doc);
	else {
		out = json_incref(doc);
		global = global_holidays(r->txn);
		computed(out, global, daemon_now_ms());
		json_decref(global);
	}
	answer_doc(r, out);
	json_decref(out);
	json_decref(doc);
}

/* {op:"check", name}: the readiness list, without launching. */
static void
op_check(struct creq *r)
{
	json_t *doc = NULL, *miss, *unf = NULL, *ans;

	if (creq_need(r, ROLE_AGENT) == -1 || load(r, r->name, &doc) == -1)
		return;
	if (readiness(r, doc, &miss, &unf) == 0) {
		ans = json_pack("{s:s,s:s,s:b,s:o}", "name", r->name,
		    "state", rec_str(doc, "state", ""), "ready",
		    json_array_size(miss) == 0, "missing", miss);
		/* an outbound campaign: the contacts it could not fill */
		if (unf)
			json_object_set_new(ans, "unfilled", unf);
		creq_ok(r, ans);
	}
	json_decref(doc);
}

struct lfilter {
	const char	*search, *state, *tag, *folder;
	int		 enabled, open;		/* -1: either */
	json_t		*global;
	long long	 now;
};

static int
list_keep(struct creq *r, json_t *doc, void *arg)
{
	struct lfilter *lf = arg;
	const char *name = rec_str(doc, "name", "");
	json_t *mem;

	if (!can_see(r, name))
		return 0;
	if (lf->search && strcasestr(name, lf->search) == NULL &&
	    strcasestr(rec_str(doc, "title", ""), lf->search) == NULL)
		return 0;
	if (lf->state && strcmp(rec_str(doc, "state", ""), lf->state) != 0)
		return 0;
	if (lf->folder && strcmp(rec_str(doc, "folder", ""), lf->folder) != 0)
		return 0;
	if (lf->tag && !listed(json_object_get(doc, "tags"), lf->tag))
		return 0;
	if (lf->enabled != -1 &&
	    json_is_true(json_object_get(doc, "enabled")) != lf->enabled)
		return 0;
	computed(doc, lf->global, lf->now);
	if (lf->open != -1 &&
	    json_is_true(json_object_get(doc, "open_now")) != lf->open)
		return 0;
	if (members_effective(r->txn, doc, &mem) == 0) {
		json_object_set_new(doc, "members", json_integer(
		    (json_int_t)json_array_size(mem)));
		json_decref(mem);
	}
	return 1;
}

static void
op_list(struct creq *r)
{
	struct lfilter lf;

	if (creq_need(r, ROLE_AGENT) == -1)
		return;
	memset(&lf, 0, sizeof(lf));
	lf.search = arg_str(r, "search");
	lf.state = arg_str(r, "state");
	lf.tag = arg_str(r, "tag");
	lf.folder = arg_str(r, "folder");
	lf.enabled = json_is_boolean(arg(r, "enabled")) ?
	    arg_bool(r, "enabled", 0) : -1;
	lf.open = json_is_boolean(arg(r, "open_now")) ?
	    arg_bool(r, "open_now", 0) : -1;
	if (lf.state && !str_in(campaign_states, lf.state)) {
		creq_err(r, "invalid", "unknown state \"%.40s\": use draft, "
		    "scheduled, active or archived", lf.state);
		return;
	}
	lf.global = global_holidays(r->txn);
	lf.now = daemon_now_ms();
	cdb_list(r, C->db_campaigns, NULL, list_keep, &lf);
	json_decref(lf.global);
}

static void
op_apply(struct creq *r)
{
	json_t *in = arg(r, "doc"), *f = NULL, *doc = NULL, *old = NULL,
	    *a = NULL, *b = NULL;
	const char *k, *res;
	json_t *v;
	void *tmp;
	char err[512], name[VALID_NAME_MAX + 1];
	int rc;

	if (creq_begin(r) == -1)
		return;
	if (!json_is_object(in)) {
		creq_err(r, "invalid", "campaign apply: the document must be "
		    "a JSON object");
		return;
	}
	f = json_deep_copy(in);
	json_object_foreach_safe(f, tmp, k, v) {
		if (campaign_check_lifecycle(k))
			json_object_del(f, k);
	}
	if ((doc = campaign_check_norm(f, err, sizeof(err))) == NULL) {
		creq_err(r, "invalid", "%s", err);
		goto out;
	}
	/* a copy: save() rebuilds doc */
	snprintf(name, sizeof(name), "%s", rec_str(doc, "name", ""));
	rc = cdb_get(r->txn, C->db_campaigns, name, &old);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		creq_err(r, "store", "campaign %s: %s", name, mdb_strerror(rc));
		goto out;
	}
	if (old) {
		a = campaign_check_config(old);
		b = campaign_check_config(doc);
		if (json_equal(a, b)) {
			creq_ok(r, json_pack("{s:s,s:s}", "result",
			    "unchanged", "name", name));
			goto out;
		}
		if (strcmp(rec_str(old, "state", ""), "archived") == 0) {
			creq_err(r, "invalid", "campaign %s is archived; clone "
			    "it to start again", name);
			goto out;
		}
		json_object_foreach(old, k, v) {
			if (campaign_check_lifecycle(k))
				json_object_set(doc, k, v);
		}
		res = "updated";
	} else {
		json_object_set_new(doc, "state", json_string("draft"));
		json_object_set_new(doc, "created_ts", cts(daemon_now_ms()));
		res = "created";
	}
	json_object_set_new(doc, "updated_ts", cts(daemon_now_ms()));
	if (save(r, old, doc) == 0)
		creq_ok(r, json_pack("{s:s,s:s,s:O}", "result", res, "name",
		    name, "doc", doc));
out:
	json_decref(f);
	json_decref(doc);
	json_decref(old);
	json_decref(a);
	json_decref(b);
}

/* ---- delete ---- */

/* Delete every members entry of campaign name ("<name>/..."). */
static int
members_del(MDB_txn *txn, const char *name)
{
	MDB_cursor *cur;
	MDB_val k, v;
	char prefix[256];
	size_t pl;
	int rc;

	pl = (size_t)snprintf(prefix, sizeof(prefix), "%s/", name);
	if ((rc = mdb_cursor_open(txn, C->db_members, &cur)) != 0)
		return rc;
	/* seek again after each delete: the cursor may sit past the end */
	for (;;) {
		k.mv_size = pl;
		k.mv_data = prefix;
		if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0)
			break;
		if (k.mv_size < pl || memcmp(k.mv_data, prefix, pl) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

/* routerd answered the purge: now delete the campaign itself. */
static void
purged(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	struct creq *k = arg;
	const msgpack_object *e;
	json_t *old = NULL, *users;
	char why[256] = "";
	int64_t convs = 0, events = 0;
	int rc;

	if (ans == NULL) {
		creq_err(k, "unavailable", "routerd went away before it "
		    "confirmed; nothing was deleted");
		goto out;
	}
	if ((e = mp_get(ans, "err")) != NULL) {
		mp_strcpy(e, "msg", why, sizeof(why));
		creq_err(k, "unavailable", "routerd could not delete the "
		    "conversations (%s); the campaign was not deleted", why);
		goto out;
	}
	mp_int(ans, "convs", &convs);
	mp_int(ans, "events", &events);
	if (creq_begin(k) == -1)
		goto out;
	if ((rc = cdb_get(k->txn, C->db_campaigns, k->name, &old)) != 0) {
		creq_err(k, rc == MDB_NOTFOUND ? "notfound" : "store",
		    "campaign %s: %s", k->name, rc == MDB_NOTFOUND ?
		    "deleted meanwhile" : mdb_strerror(rc));
		goto out;
	}
	users = addr_users(k->txn, k->name, NULL);
	if ((rc = cdb_del(k->txn, C->db_campaigns, k->name)) != 0 ||
	    (rc = addr_sync(k->txn, old, NULL, users)) != 0 ||
	    (rc = members_del(k->txn, k->name)) != 0) {
		json_decref(users);
		creq_err(k, "store", "campaign %s: %s", k->name,
		    mdb_strerror(rc));
		goto out;
	}
	json_decref(users);
	log_info("campaign %s deleted by %s with %lld conversations",
	    k->name, k->who, (long long)convs);
	creq_ok(k, json_pack("{s:s,s:I,s:I}", "deleted", k->name, "convs",
	    (json_int_t)convs, "events", (json_int_t)events));
out:
	json_decref(old);
	creq_release(k);
}

static void
op_delete(struct creq *r)
{
	json_t *doc = NULL;
	struct creq *k;
	struct fbuf fb;
	int64_t id;

	if (creq_need(r, ROLE_ADMIN) == -1 || load(r, r->name, &doc) == -1)
		return;
	json_decref(doc);
	if (!bus_is_up(C->router)) {
		creq_err(r, "unavailable", "routerd is not reachable; nothing "
		    "was deleted");
		return;
	}
	k = creq_keep(r);
	id = bus_next_id(C->router);
	fbuf_init(&fb);
	fbuf_begin(&fb, 3);
	mp_kv_str(&fb.pk, "t", "purge");
	mp_kv_int(&fb.pk, "id", id);
	mp_kv_str(&fb.pk, "campaign", k->name);
	if (bus_request(C->router, &fb, id, purged, k) == -1) {
		creq_err(k, "unavailable", "routerd is not reachable; nothing "
		    "was deleted");
		creq_release(k);
	}
	fbuf_free(&fb);
}

int
campaign_op(struct creq *r)
{
	const char *op = r->op;

	campaign_start();
	if (strcmp(op, "list") == 0)
		op_list(r);
	else if (strcmp(op, "show") == 0)
		op_show(r, 0);
	else if (strcmp(op, "export") == 0)
		op_show(r, 1);
	else if (strcmp(op, "check") == 0)
		op_check(r);
	else if (strcmp(op, "preview") == 0)
		outbound_preview(r, 0);
	else if (strcmp(op, "dryrun") == 0)
		outbound_preview(r, 1);
	else if (strcmp(op, "create") == 0)
		op_create(r);
	else if (strcmp(op, "edit") == 0)
		op_edit(r);
	else if (strcmp(op, "clone") == 0)
		op_clone(r);
	else if (strcmp(op, "enable") == 0 || strcmp(op, "disable") == 0 ||
	    strcmp(op, "launch") == 0 || strcmp(op, "schedule") == 0 ||
	    strcmp(op, "stop") == 0)
		op_life(r);
	else if (strcmp(op, "apply") == 0)
		op_apply(r);
	else if (strcmp(op, "delete") == 0)
		op_delete(r);
	else
		run_op(r);
	return 0;
}
