/*
 * campaignd — owner of campaign configuration and the global resources
 * (agents, teams, members, canned responses, templates, dispositions, agent
 * statuses, quality models, holidays, blacklist, contacts, contact lists).
 *
 * It answers msg's {t:"cfg"} requests on campaignd.sock: the caller's role
 * comes from SO_PEERCRED (root and campaignd's own user are admins; other
 * Unix users are whatever agent maps to them), writes need the admin role,
 * every write is validated and applied whole in a nested transaction of the
 * group-commit batch, and answered after the fsync.  routerd reads the same
 * LMDB environment read-only.
 *
 * This file holds main and the wiring: the table of kinds and the dispatch
 * of a frame to its kind.  The request and document helpers every kind uses
 * are in campaignd_doc.c; each kind has its module, as msg has its command
 * files: campaignd_campaign.c (campaigns and scheduled launches),
 * campaignd_people.c (agents, teams, members), campaignd_canned.c,
 * campaignd_template.c (templates and WhatsApp templates),
 * campaignd_disposition.c, campaignd_statusdef.c, campaignd_qa.c (with what
 * these five share in campaignd_res.c), campaignd_holiday.c and
 * campaignd_contact.c (contacts and the blacklist), campaignd_list.c
 * (contact lists and segments).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "conf.h"
#include "frame.h"
#include "log.h"
#include "mp.h"
#include "proto.h"
#include "rec.h"
#include "campaignd.h"

struct campaignd *C;

static const struct ckind kinds[] = {
	{ "campaign", NULL, campaign_op },
	{ "agent", NULL, agent_op },
	{ "team", NULL, team_op },
	{ "member", NULL, member_op },
	{ "canned", NULL, canned_op },
	{ "template", NULL, template_op },
	{ "wtemplate", NULL, wtemplate_op },
	{ "disposition", NULL, disposition_op },
	{ "statusdef", NULL, statusdef_op },
	{ "qa", NULL, qa_op },
	{ "holiday", NULL, holiday_op },
	{ "blacklist", NULL, blacklist_op },
	{ "contact", NULL, contact_op },
	{ "unsolicited", NULL, unsolicited_op },
	{ "list", NULL, list_op },
};

/* clients: a bus_caller each, held while answers wait on it */

static void
on_up(struct bus_conn *c, void *arg)
{
	if (bus_caller_attach(c, sizeof(struct bus_caller)) == NULL)
		bus_drop(c, "out of memory");
}

static void
on_down(struct bus_conn *c, void *arg)
{
	struct bus_caller *cl = bus_data(c);

	if (cl != NULL)
		bus_caller_detach(cl);
}

/* dispatch */

static void
on_frame(struct bus_conn *c, const msgpack_object *f, void *arg)
{
	struct bus_caller *cl = bus_data(c);
	struct creq r;
	const struct ckind *k = NULL;
	int64_t id;
	size_t i;
	int rc;

	if (cl == NULL)
		return;
	if (!mp_int(f, "id", &id)) {
		bus_drop(c, "request without id");
		return;
	}
	if (!bus_check_peer(c, f))
		return;
	if (proto_type(f) == PT_PING) {
		struct fbuf fb;

		fbuf_init(&fb);
		bus_answer_begin(&fb, id, 0);
		bus_send(c, &fb);
		fbuf_free(&fb);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.c = c;
	r.cl = cl;
	r.re = id;
	if (proto_type(f) != PT_CFG) {
		bus_answer_err(c, id, "unknown", "unknown request type");
		return;
	}
	if ((r.args = rec_to_json(f)) == NULL) {
		bus_answer_err(c, id, "invalid", "unreadable request");
		return;
	}
	r.kind = json_string_value(json_object_get(r.args, "kind"));
	r.op = json_string_value(json_object_get(r.args, "op"));
	r.name = json_string_value(json_object_get(r.args, "name"));
	for (i = 0; r.kind && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].name, r.kind) == 0)
			k = &kinds[i];
	if (k == NULL || r.op == NULL) {
		bus_answer_err(c, id, "invalid", k ? "op is required" :
		    "unknown kind");
		json_decref(r.args);
		return;
	}
	r.role = role_of(c, r.who, sizeof(r.who));
	if (r.role == ROLE_NONE) {
		bus_answer_err(c, id, "denied", "you are not a parley agent; "
		    "an admin adds you with msg agent add");
		json_decref(r.args);
		return;
	}
	/* reads run in a read transaction; writes switch with creq_begin */
	if ((rc = store_rtxn(C->st, &r.txn)) != 0) {
		bus_answer_err(c, id, "store", mdb_strerror(rc));
		json_decref(r.args);
		return;
	}
	k->op(&r);
	if (!r.done)
		creq_err(&r, "invalid", "%s: unknown operation \"%s\"",
		    r.kind, r.op);
	if (r.txn)
		mdb_txn_abort(r.txn);
	json_decref(r.args);
}

static const struct bus_handlers handlers = {
	.frame = on_frame,
	.up = on_up,
	.down = on_down,
};

static const struct bus_handlers router_handlers = { 0 };

static void
on_term(struct daemon *d)
{
	bus_server_stop(C->srv);
	store_commit(C->st);
	daemon_stop(d);
}

/* SIGHUP: a raised store_map_max_mb lets writes through again. */
static void
on_hup(struct daemon *d)
{
	char err[512];
	long long mmax;

	if (conf_int(d->conf, "store_map_max_mb", 1, 1 << 24, &mmax, err,
	    sizeof(err)) == -1) {
		log_warnx("reload: %s; the previous value stays", err);
		return;
	}
	store_set_max(C->st, (size_t)mmax << 20);
	run_reload();
}

int
main(int argc, char *argv[])
{
	static struct campaignd c;
	char path[4096], err[1024];
	long long msz, mmax;
	struct store_db dbs[] = {
		{ "campaigns", 0, &c.db_campaigns },
		{ "addr", 0, &c.db_addr },
		{ "agents", 0, &c.db_agents },
		{ "agentuser", 0, &c.db_agentuser },
		{ "teams", 0, &c.db_teams },
		{ "members", 0, &c.db_members },
		{ "canned", 0, &c.db_canned },
		{ "templates", 0, &c.db_templates },
		{ "wtemplates", 0, &c.db_wtemplates },
		{ "dispositions", 0, &c.db_dispositions },
		{ "statusdefs", 0, &c.db_statusdefs },
		{ "qa", 0, &c.db_qa },
		{ "holidays", 0, &c.db_holidays },
		{ "blacklist", 0, &c.db_blacklist },
		{ "bhist", 0, &c.db_bhist },
		{ "contacts", 0, &c.db_contacts },
		{ "cphone", MDB_DUPSORT, &c.db_cphone },
		{ "cemail", MDB_DUPSORT, &c.db_cemail },
		{ "cname", MDB_DUPSORT, &c.db_cname },
		{ "meta", 0, &c.db_meta },
		{ "unsolicited", 0, &c.db_unsolicited },
		{ "lists", 0, &c.db_lists },
		{ "lmem", 0, &c.db_lmem },
		{ "lrev", MDB_DUPSORT, &c.db_lrev },
		{ "limp", 0, &c.db_limp },
		{ "lstage", 0, &c.db_lstage },
		{ "runs", 0, &c.db_runs },
		{ "rcpt", 0, &c.db_rcpt },
		{ "rstate", 0, &c.db_rstate },
		{ "rphone", 0, &c.db_rphone },
		{ "rmsg", 0, &c.db_rmsg },
		{ "rdue", 0, &c.db_rdue },
		{ "rcount", 0, &c.db_rcount },
		{ "watier", 0, &c.db_watier },
		{ "walog", 0, &c.db_walog },
		{ NULL, 0, NULL },
	};

	C = &c;
	daemon_init(&c.d, "campaignd", argc, argv);
	if (conf_int(c.d.conf, "store_map_size_mb", 1, 1 << 20, &msz, err,
	    sizeof(err)) == -1 ||
	    conf_int(c.d.conf, "store_map_max_mb", 1, 1 << 24, &mmax, err,
	    sizeof(err)) == -1)
		log_exit(EX_CONFIG, "%s", err);
	if (c.d.check_only)
		daemon_checked(&c.d);
	daemon_path(&c.d, "db/campaignd", path, sizeof(path));
	if ((c.st = store_open(c.d.base, path, (size_t)msz << 20,
	    (size_t)mmax << 20, dbs, err, sizeof(err))) == NULL)
		log_exit(EX_TEMP, "%s", err);
	campaign_start();
	list_start();
	daemon_path(&c.d, "run/campaignd.sock", path, sizeof(path));
	if ((c.srv = bus_listen(c.d.base, path, &handlers, NULL, err,
	    sizeof(err))) == NULL)
		log_exit(EX_TEMP, "%s", err);
	bus_server_limit(c.srv, &c.d.bus);
	daemon_path(&c.d, "run/routerd.sock", path, sizeof(path));
	c.router = bus_client(c.d.base, path, "campaignd", &router_handlers,
	    NULL);
	run_start();
	c.d.on_term = on_term;
	c.d.on_hup = on_hup;
	log_info("serving");
	daemon_ready(&c.d);
	return daemon_run(&c.d);
}
