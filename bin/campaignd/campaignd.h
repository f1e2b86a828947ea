/*
 * campaignd — shared declarations: the request being served, the document
 * store, and the kinds of configuration it holds.
 *
 * Configuration is kept as documents: JSON objects on the wire and in msg,
 * msgpack maps in LMDB (so routerd can read them zero-copy).  Each kind
 * (campaign, agent, member, canned, contact, …) is one LMDB database keyed
 * by its name, plus the indexes its module maintains.  Every write request
 * runs in its own nested transaction inside the group-commit batch: a
 * refusal aborts it alone, so a command takes effect entirely or not at all,
 * and it is answered only after the batch is on disk.
 */
#ifndef CAMPAIGND_H
#define CAMPAIGND_H

#include <stdarg.h>
#include <stdint.h>
#include <jansson.h>
#include <lmdb.h>
#include <msgpack.h>

#include "bus.h"
#include "daemon.h"
#include "store.h"

enum role { ROLE_NONE = 0, ROLE_AGENT, ROLE_SUPERVISOR, ROLE_ADMIN };

/* One request from msg: {t:"cfg", id, kind, op, name?, args...}. */
struct creq {
	struct bus_conn		*c;
	int64_t			 re;
	const char		*kind;		/* "campaign" */
	const char		*op;		/* "create" */
	const char		*name;		/* args.name, or NULL */
	json_t			*args;		/* the whole frame as JSON */
	enum role		 role;
	char			 who[80];	/* agent name, or "uid N" */
	MDB_txn			*txn;		/* write: nested txn; read: read txn */
	int			 write;
	int			 done;
	struct bus_caller	*cl;		/* kept while answers wait */
};

/* A kind of document and the operations on it. */
struct ckind {
	const char	*name;		/* "campaign" */
	MDB_dbi		*dbi;
	/* handle op; return 0 when it answered (creq_ok/creq_err) */
	int		(*op)(struct creq *);
};

struct campaignd {
	struct daemon	 d;
	struct store	*st;
	struct bus_server *srv;
	struct bus_conn	*router;	/* routerd, for purges */
	MDB_dbi		 db_campaigns, db_addr, db_agents, db_agentuser,
			 db_teams, db_members, db_canned, db_templates,
			 db_wtemplates, db_dispositions, db_statusdefs, db_qa,
			 db_holidays, db_blacklist, db_bhist, db_contacts,
			 db_cphone, db_cemail, db_cname, db_meta,
			 db_unsolicited,
			 db_lists, db_lmem, db_lrev, db_limp, db_lstage,
			 /* campaign runs (campaignd_run.c) */
			 db_runs, db_rcpt, db_rstate, db_rphone, db_rmsg,
			 db_rdue, db_rcount, db_watier, db_walog;
};

extern struct campaignd *C;

/* Answer: ok with the fields of obj (stolen; NULL for none). */
void	creq_ok(struct creq *, json_t *obj);
/* Answer: refusal with code ("invalid", "notfound", "exists", "denied",
 * "inuse", "store", "unavailable") and a one-line reason. */
void	creq_err(struct creq *, const char *code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Begin this request's write (nested txn); -1 answered already. */
int	creq_begin(struct creq *);
/* Require a role; -1 (and answered "denied") when the caller lacks it. */
int	creq_need(struct creq *, enum role);
/* Defer the answer: keeps the request alive (for routerd round trips). */
struct creq *creq_keep(struct creq *);
void	creq_release(struct creq *);

/* Argument helpers on r->args. */
const char *arg_str(struct creq *, const char *key);
json_t	*arg(struct creq *, const char *key);
int	arg_bool(struct creq *, const char *key, int def);

/* Documents: msgpack maps in LMDB, JSON in C. */
/* A stored msgpack value decoded (NULL when unreadable). */
json_t	*cdb_doc(const MDB_val *);
int	cdb_get(MDB_txn *, MDB_dbi, const char *key, json_t **doc);
int	cdb_put(MDB_txn *, MDB_dbi, const char *key, const json_t *doc);
int	cdb_del(MDB_txn *, MDB_dbi, const char *key);
int	cdb_exists(MDB_txn *, MDB_dbi, const char *key);
/* Raw string index entries. */
int	cdb_iput(MDB_txn *, MDB_dbi, const char *key, const char *val);
int	cdb_iget(MDB_txn *, MDB_dbi, const char *key, char *val, size_t valsz);
/*
 * List documents in key order starting after `after` (or from prefix),
 * calling keep(doc, arg) to filter (NULL: all); the answer carries items,
 * more and next.  Answers r itself.
 */
typedef int (*cdb_filter)(struct creq *, json_t *doc, void *arg);
void	cdb_list(struct creq *, MDB_dbi, const char *prefix, cdb_filter,
	    void *arg);
/* Generic get/delete by r->name with a "<kind> not found" reason. */
void	cdb_show(struct creq *, MDB_dbi, const char *what);

/* campaignd_doc.c: an RFC 3339 JSON string for ms since the epoch. */
json_t	*cts(long long ms);

/* The kinds: one module each (campaignd_<kind>.c; agent, team and member
 * in campaignd_people.c, blacklist and contact in campaignd_contact.c,
 * template and wtemplate in campaignd_template.c). */
int	campaign_op(struct creq *);
int	agent_op(struct creq *);
int	team_op(struct creq *);
int	member_op(struct creq *);
int	canned_op(struct creq *);
int	template_op(struct creq *);
int	wtemplate_op(struct creq *);
int	disposition_op(struct creq *);
int	statusdef_op(struct creq *);
int	qa_op(struct creq *);
int	holiday_op(struct creq *);
int	blacklist_op(struct creq *);
int	contact_op(struct creq *);
int	unsolicited_op(struct creq *);
int	list_op(struct creq *);

/*
 * campaignd_people.c: the members of campaign camp (its document) in
 * effect, as a new array in *out: its own members in position order
 * ("via": "personal"), then the agents of its teams who are not members
 * themselves, with their team's defaults ("via": "team T"; penalty,
 * receive, create).  0 or an mdb error.
 */
int	members_effective(MDB_txn *, const json_t *camp, json_t **out);
/* 1 when agent is a member of campaign in effect (its own or a team's). */
int	member_in_effect(MDB_txn *, const char *campaign, const char *agent);
/*
 * campaignd_res.c: what the global resource kinds (campaignd_canned.c,
 * campaignd_template.c, campaignd_disposition.c, campaignd_statusdef.c,
 * campaignd_qa.c) share: argument checks, campaign assignment, listing and
 * deletion with unassignment.
 */
/* Is r's operation op? */
int	res_is_op(struct creq *r, const char *op);
/* Index of string s in array a, or -1. */
int	res_arr_find(json_t *a, const char *s);
/* A required non-empty string argument; NULL (answered) when missing. */
const char	*res_need_str(struct creq *r, const char *key, const char *what);
/* An optional string argument: NULL when absent; -1 answered when not text. */
int	res_opt_str(struct creq *r, const char *key, const char *what,
	    const char **out);
/* Text with no control characters (tabs and line breaks allowed if ml). */
int	res_no_controls(const char *s, int ml);
/* The name of the request, with a reason when missing. */
const char	*res_need_name(struct creq *r, const char *what);
/*
 * The campaign called name, for r: agents only see the campaigns they are
 * members of.  NULL when answered (not found, denied).
 */
json_t	*res_campaign_get(struct creq *r, const char *name);
/*
 * Delete every key of dbi starting with prefix; the rest of each key after
 * the prefix is appended to gone (unless NULL), *count gets how many.
 * 0 or an LMDB error.
 */
int	res_del_prefix(MDB_txn *txn, MDB_dbi dbi, const char *prefix,
	    json_t *gone, long *count);
/* Does key match entry e (equal, or with sub, a path below it)? */
int	res_ref_match(const char *e, const char *key, int sub);
/*
 * Take key (and with sub, the paths below it) out of field of every
 * campaign, appending the names of those that had it to used_by.
 * 0 or an LMDB error.
 */
int	res_unref(MDB_txn *txn, const char *field, const char *key, int sub,
	    json_t *used_by);
/* Delete key from dbi, unassigning it everywhere; answers r. */
void	res_delete(struct creq *r, MDB_dbi dbi, const char *what,
	    const char *field, const char *key);
/*
 * Assign (on) or unassign key to the campaign named by --campaign: its
 * array field.  Assigning needs the resource to exist; assigning twice and
 * unassigning what is not assigned change nothing and say so ("changed":
 * false).  Unassigning never deletes the resource.  Answers r.
 */
void	res_assign(struct creq *r, MDB_dbi dbi, const char *what,
	    const char *label, const char *field, const char *key, int on);
/* list, optionally of what is assigned to --campaign.  Answers r. */
void	res_list(struct creq *r, MDB_dbi dbi, const char *keyfield,
	    const char *field);
/* Put doc under key, answering {doc} or the store's error. */
void	res_put_answer(struct creq *r, MDB_dbi dbi, const char *key,
	    json_t *doc);
/*
 * add/edit of a document keyed by a name: a new name must be valid (as
 * namewhat) and free ("<a_what> named ... exists"), an edit loads the stored
 * one ("no <what> named ..."); fields() fills and checks it; then it is
 * stamped and stored.  Answers r.
 */
void	res_upsert(struct creq *r, MDB_dbi dbi, const char *key,
	    const char *namewhat, const char *a_what, const char *what,
	    int (*fields)(struct creq *, json_t *, int));

/*
 * campaignd_contact.c: what lists and campaigns need of the contact book.
 *
 * contact_names: a stored contact's names as they are read everywhere:
 * first_name and last_name, and name (the two joined); a record written
 * before the split has only name, split at its first space.  In place.
 */
void	contact_names(json_t *contact);
/*
 * Check and normalise a contact given as a row {first_name, last_name,
 * name, phone, email, timezone, tags, fields} in place, without the store;
 * need_name: a name is required (msg contact add), else a phone or an
 * e-mail is enough (a list's contacts).  0, or -1 with a one-line reason.
 */
int	contact_check_row(json_t *row, int need_name, char *err, size_t errsz);
/* The id of the contact with phone (E.164), 0; MDB_NOTFOUND; an error. */
int	contact_by_phone(MDB_txn *, const char *phone, char *id, size_t idsz);
/*
 * Create the contact of row (as for contact_check_row, names not
 * required), or when a contact has its phone (or e-mail) and merge is set,
 * update that one with the row's non-empty values (without merge an
 * existing one is left as it is).  Its id into id, *created 1 when it is
 * new.  0; -1 refused (reason in err); -2 store error (err).
 */
int	contact_upsert(MDB_txn *, json_t *row, int merge, char *id,
	    size_t idsz, int *created, char *err, size_t errsz);

/*
 * campaignd_list.c: contact lists.
 *
 * THE WALK API (for the outbound run).  list_walk calls fn(arg, key,
 * contact) for each contact of list, in a stable order (contact id order,
 * ct_<ULID>: oldest contact first), starting after after_key (NULL or "":
 * from the start), so a walk can be resumed from the last key it handled,
 * in any later transaction.  key is the contact's id ("ct_..."); contact
 * is its document with names split (contact_names), borrowed: valid during
 * the call (json_incref to keep it).  A static list is read through a
 * cursor on its members (lmem, "<list>/<id>"), a segment through a cursor
 * on the whole contact book with the filter evaluated on each contact as
 * it is read, so a walk never holds more than one contact.  A contact
 * deleted from the book leaves every list in the same transaction, so a
 * walk never sees a dangling member.
 * fn returns 0 to go on, or a positive value to stop; list_walk returns 0
 * when it reached the end, fn's value when fn stopped it, or -1 with a
 * reason in err (no such list, a store error).  txn may be a read or a
 * write transaction; the walk writes nothing.  To freeze an audience,
 * copy what the walk gives into the run's own records in batches,
 * remembering the last key.
 */
typedef int (*list_walk_fn)(void *arg, const char *key, json_t *contact);
int	list_walk(MDB_txn *, const char *list, const char *after_key,
	    list_walk_fn fn, void *arg, char *err, size_t errsz);
/* The list document {name, kind "static"|"segment", where, filter,
 * count (static lists), ...}: 0, MDB_NOTFOUND or an error. */
int	list_get(MDB_txn *, const char *name, json_t **doc);
/* Take a contact being deleted out of every static list. */
int	list_forget(MDB_txn *, const char *contact_id);

/*
 * campaignd_outbound.c: an outbound campaign before its run.
 * outbound_store_check: on save, its list and WhatsApp template exist and
 * its rate is within the channel's pacing (<ch>_rate per sender); -1
 * answered.  outbound_readiness: what it lacks, appended to miss, and in
 * *unfilled {count, contacts:[{id, phone, missing}]} the contacts whose
 * placeholders cannot be filled (NULL when not outbound); -1 answered.
 * outbound_preview: ops "preview" (dry 0) and "dryrun" (dry 1), answered
 * after routerd's suppression answers.
 */
int	outbound_store_check(struct creq *, const json_t *doc);
int	outbound_readiness(struct creq *, const json_t *doc, json_t *miss,
	    json_t **unfilled);
void	outbound_preview(struct creq *, int dry);

/* campaignd_campaign.c: arm the timer that launches scheduled campaigns. */
void	campaign_start(void);
/* campaignd_list.c: carry on the apply of list imports a restart cut. */
void	list_start(void);

/*
 * campaignd_run.c: outbound campaign runs.  run_launch starts the run of
 * campaign doc (one with an outbound list) in txn; run_stop ends name's;
 * 0 or an LMDB error.  run_op answers pause, resume, progress and
 * contacts (-1: not one of those).  run_start connects to routerd's event
 * log and starts the runner; run_reload rereads clock_offset_ms.
 */
int	run_launch(MDB_txn *, const json_t *doc, long long now);
int	run_stop(MDB_txn *, const char *name);
int	run_op(struct creq *);
void	run_start(void);
void	run_reload(void);

/* campaignd_doc.c: the caller's role. */
enum role role_of(struct bus_conn *, char *who, size_t whosz);

#endif
