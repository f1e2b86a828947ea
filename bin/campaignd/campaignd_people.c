/*
 * campaignd_people — agents, teams and campaign members.
 *
 * An agent is a person (or a bot) with a Unix login: {name, user, role,
 * teams, created_ts}.  The index agentuser maps the Unix user to the agent
 * name; campaignd.c reads it on every request to learn the caller's role,
 * so it is kept in step with the agents on every add, edit and delete (one
 * Unix user is one agent).  A team is {name, description, created_ts}.  A
 * member is one agent in one campaign, keyed "<campaign>/<agent>" (names
 * cannot contain '/'): {campaign, agent, position, penalty, receive,
 * create}.  Positions of a campaign's members are always 1..n without gaps:
 * every add, remove, reorder and copy renumbers them in the same nested
 * transaction, so a reader never sees a hole or a duplicate.
 *
 * Who may read what (issue 3, Rules): admins write; supervisors read
 * everything; an agent reads its own agent record, the teams, and the
 * member lists of the campaigns it is a member of.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rec.h"
#include "valid.h"
#include "campaignd.h"

#define PENALTY_MAX	1000		/* members' penalty: 0..PENALTY_MAX */
#define MEMBER_PAGE	1000		/* members per list answer */
#define TEAM_DESC_MAX	200		/* characters */

/* ------------------------------------------------------------ helpers */

/* r->name must be a valid name of what; -1 answered. */
static int
need_name(struct creq *r, const char *what)
{
	char err[256];

	if (r->name == NULL || *r->name == '\0') {
		creq_err(r, "invalid", "%s %s: a name is required", r->kind,
		    r->op);
		return -1;
	}
	if (!valid_name(r->name, what, err, sizeof(err))) {
		creq_err(r, "invalid", "%s", err);
		return -1;
	}
	return 0;
}

/* Store a document or answer "store"; -1 answered. */
static int
put_doc(struct creq *r, MDB_dbi dbi, const char *key, const json_t *doc)
{
	int rc;

	if ((rc = cdb_put(r->txn, dbi, key, doc)) != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		return -1;
	}
	return 0;
}

/* Join the strings of arr with ", " into buf (cut at bufsz). */
static const char *
join(json_t *arr, char *buf, size_t bufsz)
{
	size_t i, len = 0;
	json_t *v;

	buf[0] = '\0';
	json_array_foreach(arr, i, v) {
		int n = snprintf(buf + len, bufsz - len, "%s%s", i ? ", " : "",
		    json_string_value(v) ? json_string_value(v) : "?");

		if (n < 0 || (size_t)n >= bufsz - len)
			break;
		len += (size_t)n;
	}
	return buf;
}

/* 1 if the array of strings arr holds s. */
static int
has_str(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	return 0;
}

/* Remove s from the array of strings arr; 1 if it was there. */
static int
drop_str(json_t *arr, const char *s)
{
	size_t i;
	int found = 0;

	for (i = json_array_size(arr); i-- > 0;) {
		json_t *v = json_array_get(arr, i);

		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) {
			json_array_remove(arr, i);
			found = 1;
		}
	}
	return found;
}

static const char *
role_name(enum role role)
{
	switch (role) {
	case ROLE_ADMIN:
		return "admin";
	case ROLE_SUPERVISOR:
		return "supervisor";
	case ROLE_AGENT:
		return "agent";
	default:
		return "none";
	}
}

/* 1 if the caller is an agent (not a bare uid) named name. */
static int
is_self(struct creq *r, const char *name)
{
	return name && strncmp(r->who, "uid ", 4) != 0 &&
	    strcmp(r->who, name) == 0;
}

/* ------------------------------------------------------------ members */

static int
member_key(char *buf, size_t bufsz, const char *campaign, const char *agent)
{
	int n = snprintf(buf, bufsz, "%s/%s", campaign, agent);

	return n < 0 || (size_t)n >= bufsz ? -1 : 0;
}

static json_int_t
mpos(json_t *m)
{
	return json_integer_value(json_object_get(m, "position"));
}

static int
mcmp(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t px = mpos(x), py = mpos(y);

	if (px != py)
		return px < py ? -1 : 1;
	return strcmp(rec_str(x, "agent", ""), rec_str(y, "agent", ""));
}

/*
 * The members of campaign in position order, as a new array in *out.
 * Returns 0 or an LMDB error.
 */
static int
members_load(MDB_txn *txn, const char *campaign, json_t **out)
{
	char prefix[160];
	MDB_cursor *cur;
	MDB_val k, v;
	json_t *arr, **tmp = NULL, *doc;
	size_t pl, n = 0, cap = 0, i;
	int rc;

	*out = NULL;
	if (member_key(prefix, sizeof(prefix), campaign, "") == -1)
		return MDB_BAD_VALSIZE;
	pl = strlen(prefix);
	if ((rc = mdb_cursor_open(txn, C->db_members, &cur)) != 0)
		return rc;
	k.mv_size = pl;
	k.mv_data = prefix;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char key[512];

		if (k.mv_size < pl || memcmp(k.mv_data, prefix, pl) != 0 ||
		    k.mv_size >= sizeof(key))
			break;
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		if ((rc = cdb_get(txn, C->db_members, key, &doc)) != 0)
			break;
		if (n == cap) {
			json_t **nt;

			cap = cap ? cap * 2 : 16;
			if ((nt = realloc(tmp, cap * sizeof(*tmp))) == NULL) {
				json_decref(doc);
				rc = ENOMEM;
				break;
			}
			tmp = nt;
		}
		tmp[n++] = doc;
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	if (rc == 0) {
		if (n > 1)
			qsort(tmp, n, sizeof(*tmp), mcmp);
		arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(arr, tmp[i]);
		*out = arr;
	} else
		for (i = 0; i < n; i++)
			json_decref(tmp[i]);
	free(tmp);
	return rc;
}

/* Give the members of arr positions 1..n, storing those that moved. */
static int
members_renumber(MDB_txn *txn, json_t *arr)
{
	char key[160];
	size_t i;
	json_t *m;
	int rc;

	json_array_foreach(arr, i, m) {
		if (mpos(m) == (json_int_t)i + 1)
			continue;
		json_object_set_new(m, "position", json_integer((json_int_t)i +
		    1));
		if (member_key(key, sizeof(key), rec_str(m, "campaign", ""),
		    rec_str(m, "agent", "")) == -1)
			return MDB_BAD_VALSIZE;
		if ((rc = cdb_put(txn, C->db_members, key, m)) != 0)
			return rc;
	}
	return 0;
}

/* Renumber one campaign's members after a removal. */
static int
members_close_gaps(MDB_txn *txn, const char *campaign)
{
	json_t *arr;
	int rc;

	if ((rc = members_load(txn, campaign, &arr)) != 0)
		return rc;
	rc = members_renumber(txn, arr);
	json_decref(arr);
	return rc;
}

/* Index of agent in arr, or -1. */
static int
members_find(json_t *arr, const char *agent)
{
	size_t i;
	json_t *m;

	json_array_foreach(arr, i, m)
		if (strcmp(rec_str(m, "agent", ""), agent) == 0)
			return (int)i;
	return -1;
}

static int team_agents(MDB_txn *, json_t **);

/*
 * A team's member defaults on doc (a copy of a team member): penalty,
 * receive and create from the team document, 0/yes/yes when it has none.
 */
static void
team_defaults(MDB_txn *txn, const char *team, json_t *doc)
{
	json_t *t = NULL, *v;

	json_object_set_new(doc, "penalty", json_integer(0));
	json_object_set_new(doc, "receive", json_true());
	json_object_set_new(doc, "create", json_true());
	if (cdb_get(txn, C->db_teams, team, &t) != 0)
		return;
	if (json_is_integer(v = json_object_get(t, "penalty")))
		json_object_set(doc, "penalty", v);
	if (json_is_boolean(v = json_object_get(t, "receive")))
		json_object_set(doc, "receive", v);
	if (json_is_boolean(v = json_object_get(t, "create")))
		json_object_set(doc, "create", v);
	json_decref(t);
}

int
member_in_effect(MDB_txn *txn, const char *campaign, const char *agent)
{
	json_t *cdoc = NULL, *mem = NULL;
	char key[160];
	int in;

	if (member_key(key, sizeof(key), campaign, agent) == -1)
		return 0;
	if (cdb_exists(txn, C->db_members, key))
		return 1;
	if (cdb_get(txn, C->db_campaigns, campaign, &cdoc) != 0)
		return 0;
	in = members_effective(txn, cdoc, &mem) == 0 &&
	    members_find(mem, agent) >= 0;
	json_decref(mem);
	json_decref(cdoc);
	return in;
}

int
members_effective(MDB_txn *txn, const json_t *camp, json_t **out)
{
	const char *name = rec_str(camp, "name", "");
	json_t *arr, *map = NULL, *t, *agents, *a, *m;
	json_int_t pos;
	size_t i, j;
	int rc;

	*out = NULL;
	if ((rc = members_load(txn, name, &arr)) != 0)
		return rc;
	json_array_foreach(arr, i, m)
		json_object_set_new(m, "via", json_string("personal"));
	pos = (json_int_t)json_array_size(arr);
	if (json_array_size(json_object_get(camp, "teams")) > 0 &&
	    (rc = team_agents(txn, &map)) != 0) {
		json_decref(arr);
		return rc;
	}
	/* the agents of its teams, in the campaign's team order */
	json_array_foreach(json_object_get(camp, "teams"), i, t) {
		if (!json_is_string(t))
			continue;
		agents = json_object_get(map, json_string_value(t));
		json_array_foreach(agents, j, a) {
			if (members_find(arr, json_string_value(a)) >= 0)
				continue;	/* a personal membership wins */
			m = json_pack("{s:s,s:O,s:I}", "campaign", name, "agent",
			    a, "position", ++pos);
			team_defaults(txn, json_string_value(t), m);
			json_object_set_new(m, "via", json_sprintf("team %s",
			    json_string_value(t)));
			json_array_append_new(arr, m);
		}
	}
	json_decref(map);
	*out = arr;
	return 0;
}

/*
 * The campaigns agent is a member of, as a new array of names (key order).
 * Only the keys are read.
 */
static int
agent_campaigns(MDB_txn *txn, const char *agent, json_t **out)
{
	MDB_cursor *cur;
	MDB_val k, v;
	json_t *arr = json_array();
	size_t al = strlen(agent);
	int rc;

	*out = NULL;
	if ((rc = mdb_cursor_open(txn, C->db_members, &cur)) != 0) {
		json_decref(arr);
		return rc;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const char *p = k.mv_data;

		if (k.mv_size > al + 1 && p[k.mv_size - al - 1] == '/' &&
		    memcmp(p + k.mv_size - al, agent, al) == 0)
			json_array_append_new(arr, json_stringn(p,
			    k.mv_size - al - 1));
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

/* ------------------------------------------------------------- agents */

static int
valid_role(const char *s)
{
	return s && (strcmp(s, "agent") == 0 || strcmp(s, "supervisor") == 0 ||
	    strcmp(s, "admin") == 0);
}

/*
 * Check a Unix user for agent self (NULL: a new agent): it exists and no
 * other agent has it.  -1 answered.
 */
static int
user_check(struct creq *r, const char *user, const char *self)
{
	char other[128];

	if (user == NULL || *user == '\0') {
		creq_err(r, "invalid", "agent %s needs --user UNIXUSER", r->op);
		return -1;
	}
	if (strlen(user) > 64 || !valid_utf8(user, strlen(user)) ||
	    getpwnam(user) == NULL) {
		creq_err(r, "invalid", "no Unix user named \"%.64s\"", user);
		return -1;
	}
	if (cdb_iget(r->txn, C->db_agentuser, user, other, sizeof(other)) ==
	    0 && (self == NULL || strcmp(other, self) != 0)) {
		creq_err(r, "exists", "Unix user %s is already agent %s", user,
		    other);
		return -1;
	}
	return 0;
}

/* Validate the teams arg into a new array of unique existing teams. */
static int
teams_check(struct creq *r, json_t *teams, json_t **out)
{
	char err[256];
	size_t i;
	json_t *v, *arr;

	*out = NULL;
	if (!json_is_array(teams)) {
		creq_err(r, "invalid", "teams must be a list of team names");
		return -1;
	}
	arr = json_array();
	json_array_foreach(teams, i, v) {
		const char *t = json_string_value(v);

		if (t == NULL || !valid_name(t, "team name", err,
		    sizeof(err))) {
			creq_err(r, "invalid", "%s", t ? err :
			    "teams must be a list of team names");
			json_decref(arr);
			return -1;
		}
		if (!cdb_exists(r->txn, C->db_teams, t)) {
			creq_err(r, "notfound", "no team named \"%s\"", t);
			json_decref(arr);
			return -1;
		}
		if (!has_str(arr, t))
			json_array_append_new(arr, json_string(t));
	}
	*out = arr;
	return 0;
}

static void
agent_add(struct creq *r)
{
	const char *user = arg_str(r, "user"), *role = arg_str(r, "role");
	json_t *doc = NULL, *teams = NULL;

	if (creq_begin(r) == -1 || need_name(r, "agent name") == -1)
		return;
	if (cdb_exists(r->txn, C->db_agents, r->name)) {
		creq_err(r, "exists", "an agent named \"%s\" exists", r->name);
		return;
	}
	if (role == NULL && arg(r, "role") == NULL)
		role = "agent";
	if (!valid_role(role)) {
		creq_err(r, "invalid", "role must be agent, supervisor or "
		    "admin");
		return;
	}
	if (user_check(r, user, NULL) == -1)
		return;
	if (arg(r, "teams") && teams_check(r, arg(r, "teams"), &teams) == -1)
		return;
	doc = json_pack("{s:s,s:s,s:s,s:o,s:o}", "name", r->name, "user", user,
	    "role", role, "teams", teams ? teams : json_array(), "created_ts",
	    cts(daemon_now_ms()));
	if (put_doc(r, C->db_agents, r->name, doc) == 0) {
		int rc = cdb_iput(r->txn, C->db_agentuser, user, r->name);

		if (rc != 0)
			creq_err(r, "store", "%s", mdb_strerror(rc));
		else
			creq_ok(r, json_pack("{s:O}", "doc", doc));
	}
	json_decref(doc);
}

static void
agent_edit(struct creq *r)
{
	const char *user = arg_str(r, "user"), *role = arg_str(r, "role");
	const char *old_user;
	json_t *doc = NULL, *teams = NULL;
	char mapped[128];
	int rc;

	if (creq_begin(r) == -1 || need_name(r, "agent name") == -1)
		return;
	if (cdb_get(r->txn, C->db_agents, r->name, &doc) != 0) {
		creq_err(r, "notfound", "no agent named \"%s\"", r->name);
		return;
	}
	if (!arg(r, "user") && !arg(r, "role") && !arg(r, "teams")) {
		creq_err(r, "invalid", "agent edit: nothing to change (give "
		    "--user, --role or --teams; the name cannot change)");
		goto out;
	}
	if (arg(r, "role")) {
		if (!valid_role(role)) {
			creq_err(r, "invalid", "role must be agent, supervisor "
			    "or admin");
			goto out;
		}
		json_object_set_new(doc, "role", json_string(role));
	}
	if (arg(r, "teams")) {
		if (teams_check(r, arg(r, "teams"), &teams) == -1)
			goto out;
		json_object_set_new(doc, "teams", teams);
	}
	old_user = json_string_value(json_object_get(doc, "user"));
	if (arg(r, "user") && (old_user == NULL || user == NULL ||
	    strcmp(old_user, user) != 0)) {
		if (user_check(r, user, r->name) == -1)
			goto out;
		/* the old login no longer maps to this agent */
		if (old_user && cdb_iget(r->txn, C->db_agentuser, old_user,
		    mapped, sizeof(mapped)) == 0 && strcmp(mapped, r->name) ==
		    0 && (rc = cdb_del(r->txn, C->db_agentuser, old_user)) !=
		    0) {
			creq_err(r, "store", "%s", mdb_strerror(rc));
			goto out;
		}
		if ((rc = cdb_iput(r->txn, C->db_agentuser, user, r->name)) !=
		    0) {
			creq_err(r, "store", "%s", mdb_strerror(rc));
			goto out;
		}
		json_object_set_new(doc, "user", json_string(user));
	}
	json_object_set_new(doc, "updated_ts", cts(daemon_now_ms()));
	if (put_doc(r, C->db_agents, r->name, doc) == 0)
		creq_ok(r, json_pack("{s:O}", "doc", doc));
out:
	json_decref(doc);
}

static void
agent_delete(struct creq *r)
{
	json_t *doc = NULL, *camps = NULL;
	const char *user;
	char mapped[128], key[160], list[400];
	size_t i;
	json_t *c;
	int rc;

	if (creq_begin(r) == -1 || need_name(r, "agent name") == -1)
		return;
	if (cdb_get(r->txn, C->db_agents, r->name, &doc) != 0) {
		creq_err(r, "notfound", "no agent named \"%s\"", r->name);
		return;
	}
	if ((rc = agent_campaigns(r->txn, r->name, &camps)) != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		goto out;
	}
	if (json_array_size(camps) > 0 && !arg_bool(r, "force", 0)) {
		creq_err(r, "inuse", "agent %s is a member of %s; remove it "
		    "from them first, or delete it with --force", r->name,
		    join(camps, list, sizeof(list)));
		goto out;
	}
	json_array_foreach(camps, i, c) {
		const char *cn = json_string_value(c);

		rc = MDB_BAD_VALSIZE;
		if (member_key(key, sizeof(key), cn, r->name) == -1 ||
		    (rc = cdb_del(r->txn, C->db_members, key)) != 0 ||
		    (rc = members_close_gaps(r->txn, cn)) != 0) {
			creq_err(r, "store", "%s", mdb_strerror(rc));
			goto out;
		}
	}
	user = json_string_value(json_object_get(doc, "user"));
	if (user && cdb_iget(r->txn, C->db_agentuser, user, mapped,
	    sizeof(mapped)) == 0 && strcmp(mapped, r->name) == 0 &&
	    (rc = cdb_del(r->txn, C->db_agentuser, user)) != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		goto out;
	}
	if ((rc = cdb_del(r->txn, C->db_agents, r->name)) != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		goto out;
	}
	creq_ok(r, json_pack("{s:s,s:O}", "deleted", r->name, "used_by",
	    camps));
out:
	json_decref(camps);
	json_decref(doc);
}

static void
agent_show(struct creq *r)
{
	json_t *doc, *camps;
	int rc;

	if (need_name(r, "agent name") == -1)
		return;
	if (r->role < ROLE_SUPERVISOR && !is_self(r, r->name)) {
		creq_err(r, "denied", "agent show of another agent needs the "
		    "supervisor role (you are %s)", r->who);
		return;
	}
	if (cdb_get(r->txn, C->db_agents, r->name, &doc) != 0) {
		creq_err(r, "notfound", "no agent named \"%s\"", r->name);
		return;
	}
	if ((rc = agent_campaigns(r->txn, r->name, &camps)) != 0) {
		json_decref(doc);
		creq_err(r, "store", "%s", mdb_strerror(rc));
		return;
	}
	json_object_set_new(doc, "campaigns", camps);
	creq_ok(r, json_pack("{s:o}", "doc", doc));
}

struct agent_filter {
	const char	*role, *team, *search, *self;
};

static int
agent_keep(struct creq *r, json_t *doc, void *arg)
{
	struct agent_filter *f = arg;
	const char *name = json_string_value(json_object_get(doc, "name"));
	const char *user = json_string_value(json_object_get(doc, "user"));
	const char *role = json_string_value(json_object_get(doc, "role"));

	if (name == NULL)
		return 0;
	if (f->self && strcmp(f->self, name) != 0)
		return 0;
	if (f->role && (role == NULL || strcmp(f->role, role) != 0))
		return 0;
	if (f->team && !has_str(json_object_get(doc, "teams"), f->team))
		return 0;
	if (f->search && *f->search && strcasestr(name, f->search) == NULL &&
	    (user == NULL || strcasestr(user, f->search) == NULL))
		return 0;
	return 1;
}

static void
agent_list(struct creq *r)
{
	struct agent_filter f;

	memset(&f, 0, sizeof(f));
	f.role = arg_str(r, "role");
	f.team = arg_str(r, "team");
	f.search = arg_str(r, "search");
	if (f.role && !valid_role(f.role)) {
		creq_err(r, "invalid", "role must be agent, supervisor or "
		    "admin");
		return;
	}
	if (r->role < ROLE_SUPERVISOR) {
		/* an agent sees its own record only */
		if (!is_self(r, r->who)) {
			creq_err(r, "denied", "agent list needs the supervisor "
			    "role (you are %s)", r->who);
			return;
		}
		f.self = r->who;
	}
	cdb_list(r, C->db_agents, NULL, agent_keep, &f);
}

static void
agent_whoami(struct creq *r)
{
	json_t *ans, *doc = NULL;
	int self = strncmp(r->who, "uid ", 4) != 0;

	ans = json_pack("{s:s,s:s}", "who", r->who, "role",
	    role_name(r->role));
	json_object_set_new(ans, "agent", self ? json_string(r->who) :
	    json_null());
	if (self && cdb_get(r->txn, C->db_agents, r->who, &doc) == 0) {
		json_object_set(ans, "user", json_object_get(doc, "user"));
		json_object_set(ans, "teams", json_object_get(doc, "teams"));
		json_decref(doc);
	}
	creq_ok(r, ans);
}

int
agent_op(struct creq *r)
{
	if (strcmp(r->op, "whoami") == 0)
		agent_whoami(r);
	else if (strcmp(r->op, "list") == 0)
		agent_list(r);
	else if (strcmp(r->op, "show") == 0)
		agent_show(r);
	else if (strcmp(r->op, "add") == 0)
		agent_add(r);
	else if (strcmp(r->op, "edit") == 0)
		agent_edit(r);
	else if (strcmp(r->op, "delete") == 0)
		agent_delete(r);
	return 0;
}

/* -------------------------------------------------------------- teams */

static int arg_range(struct creq *, const char *, json_int_t, json_int_t,
    json_int_t *);
static int arg_yesno(struct creq *, const char *, json_t *);

/* The member defaults a team gives its agents in the campaigns it works:
 * --penalty, --receive, --create into doc; -1 answered. */
static int
team_member_defaults(struct creq *r, json_t *doc, int *changed)
{
	json_int_t pen = -1;

	if (arg_range(r, "penalty", 0, PENALTY_MAX, &pen) == -1 ||
	    arg_yesno(r, "receive", doc) == -1 ||
	    arg_yesno(r, "create", doc) == -1)
		return -1;
	if (pen >= 0)
		json_object_set_new(doc, "penalty", json_integer(pen));
	*changed = pen >= 0 || arg(r, "receive") || arg(r, "create");
	return 0;
}

/* The description arg, checked; -1 answered.  Absent: *out NULL. */
static int
team_desc(struct creq *r, const char **out)
{
	char err[256];
	json_t *d = arg(r, "description");

	*out = NULL;
	if (d == NULL)
		return 0;
	if (!json_is_string(d) || !valid_text(json_string_value(d),
	    TEAM_DESC_MAX, "team description", err, sizeof(err))) {
		creq_err(r, "invalid", "%s", json_is_string(d) ? err :
		    "team description must be text");
		return -1;
	}
	*out = json_string_value(d);
	return 0;
}

/* team name -> [agents], for show and list. */
static int
team_agents(MDB_txn *txn, json_t **out)
{
	MDB_cursor *cur;
	MDB_val k, v;
	json_t *map = json_object();
	int rc;

	*out = NULL;
	if ((rc = mdb_cursor_open(txn, C->db_agents, &cur)) != 0) {
		json_decref(map);
		return rc;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char key[512];
		json_t *doc, *t, *a;
		size_t i;

		if (k.mv_size >= sizeof(key))
			continue;
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		if (cdb_get(txn, C->db_agents, key, &doc) != 0)
			continue;
		json_array_foreach(json_object_get(doc, "teams"), i, t) {
			if (!json_is_string(t))
				continue;
			if ((a = json_object_get(map, json_string_value(t))) ==
			    NULL) {
				a = json_array();
				json_object_set_new(map, json_string_value(t),
				    a);
			}
			json_array_append_new(a, json_string(key));
		}
		json_decref(doc);
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		json_decref(map);
		return rc;
	}
	*out = map;
	return 0;
}

static int
team_keep(struct creq *r, json_t *doc, void *arg)
{
	json_t *map = arg, *a;

	a = json_object_get(map, rec_str(doc, "name", ""));
	json_object_set_new(doc, "agents", a ? json_incref(a) : json_array());
	return 1;
}

/*
 * Names of the documents in dbi whose array field holds name, as a new
 * array; with strip, name is removed from them and they are stored again.
 */
static int
strip_refs(struct creq *r, MDB_dbi dbi, const char *field, const char *name,
    int strip, json_t **out)
{
	MDB_cursor *cur;
	MDB_val k, v;
	json_t *hits = json_array(), *h;
	size_t i;
	int rc;

	*out = NULL;
	if ((rc = mdb_cursor_open(r->txn, dbi, &cur)) != 0) {
		json_decref(hits);
		return rc;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char key[512];
		json_t *doc;

		if (k.mv_size >= sizeof(key))
			continue;
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		if (cdb_get(r->txn, dbi, key, &doc) != 0)
			continue;
		if (has_str(json_object_get(doc, field), name))
			json_array_append_new(hits, json_string(key));
		json_decref(doc);
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		json_decref(hits);
		return rc;
	}
	/* change them after the walk: no writes under an open cursor */
	json_array_foreach(hits, i, h) {
		json_t *doc;

		if (!strip)
			break;
		if ((rc = cdb_get(r->txn, dbi, json_string_value(h), &doc)) !=
		    0)
			break;
		drop_str(json_object_get(doc, field), name);
		json_object_set_new(doc, "updated_ts", cts(daemon_now_ms()));
		rc = cdb_put(r->txn, dbi, json_string_value(h), doc);
		json_decref(doc);
		if (rc != 0)
			break;
	}
	if (rc != 0) {
		json_decref(hits);
		return rc;
	}
	*out = hits;
	return 0;
}

static void
team_delete(struct creq *r)
{
	json_t *camps = NULL, *agents = NULL;
	int rc;

	if (creq_begin(r) == -1 || need_name(r, "team name") == -1)
		return;
	if (!cdb_exists(r->txn, C->db_teams, r->name)) {
		creq_err(r, "notfound", "no team named \"%s\"", r->name);
		return;
	}
	/* unavailable at once: no campaign or agent keeps a dangling name */
	if ((rc = strip_refs(r, C->db_campaigns, "teams", r->name, 1,
	    &camps)) != 0 ||
	    (rc = strip_refs(r, C->db_agents, "teams", r->name, 1,
	    &agents)) != 0 ||
	    (rc = cdb_del(r->txn, C->db_teams, r->name)) != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		goto out;
	}
	creq_ok(r, json_pack("{s:s,s:O,s:O}", "deleted", r->name, "used_by",
	    camps, "agents", agents));
out:
	json_decref(camps);
	json_decref(agents);
}

int
team_op(struct creq *r)
{
	json_t *doc = NULL, *map = NULL;
	const char *desc;
	int rc;

	if (strcmp(r->op, "list") == 0 || strcmp(r->op, "show") == 0) {
		if (creq_need(r, ROLE_AGENT) == -1)
			return 0;
		if ((rc = team_agents(r->txn, &map)) != 0) {
			creq_err(r, "store", "%s", mdb_strerror(rc));
			return 0;
		}
		if (strcmp(r->op, "list") == 0)
			cdb_list(r, C->db_teams, NULL, team_keep, map);
		else if (need_name(r, "team name") == 0) {
			if (cdb_get(r->txn, C->db_teams, r->name, &doc) != 0)
				creq_err(r, "notfound", "no team named \"%s\"",
				    r->name);
			else {
				team_keep(r, doc, map);
				creq_ok(r, json_pack("{s:o}", "doc", doc));
			}
		}
		json_decref(map);
		return 0;
	}
	if (strcmp(r->op, "add") == 0) {
		if (creq_begin(r) == -1 || need_name(r, "team name") == -1 ||
		    team_desc(r, &desc) == -1)
			return 0;
		if (cdb_exists(r->txn, C->db_teams, r->name)) {
			creq_err(r, "exists", "a team named \"%s\" exists",
			    r->name);
			return 0;
		}
		doc = json_pack("{s:s,s:s,s:I,s:b,s:b,s:o}", "name", r->name,
		    "description", desc ? desc : "", "penalty", (json_int_t)0,
		    "receive", 1, "create", 1, "created_ts",
		    cts(daemon_now_ms()));
		if (team_member_defaults(r, doc, &rc) == 0 &&
		    put_doc(r, C->db_teams, r->name, doc) == 0)
			creq_ok(r, json_pack("{s:O}", "doc", doc));
		json_decref(doc);
		return 0;
	}
	if (strcmp(r->op, "edit") == 0) {
		if (creq_begin(r) == -1 || need_name(r, "team name") == -1 ||
		    team_desc(r, &desc) == -1)
			return 0;
		if (cdb_get(r->txn, C->db_teams, r->name, &doc) != 0) {
			creq_err(r, "notfound", "no team named \"%s\"",
			    r->name);
			return 0;
		}
		if (team_member_defaults(r, doc, &rc) == -1)
			;	/* answered */
		else if (desc == NULL && !rc)
			creq_err(r, "invalid", "team edit: nothing to change "
			    "(give --description, --penalty, --receive or "
			    "--create; the name cannot change)");
		else {
			if (desc)
				json_object_set_new(doc, "description",
				    json_string(desc));
			json_object_set_new(doc, "updated_ts",
			    cts(daemon_now_ms()));
			if (put_doc(r, C->db_teams, r->name, doc) == 0)
				creq_ok(r, json_pack("{s:O}", "doc", doc));
		}
		json_decref(doc);
		return 0;
	}
	if (strcmp(r->op, "delete") == 0)
		team_delete(r);
	return 0;
}

/* ------------------------------------------------------------ members */

/* A campaign name arg that names an existing campaign; NULL answered. */
static const char *
arg_campaign(struct creq *r, const char *key)
{
	const char *c = arg_str(r, key);
	char err[256];

	if (c == NULL || *c == '\0') {
		creq_err(r, "invalid", "member %s needs a campaign", r->op);
		return NULL;
	}
	if (!valid_name(c, "campaign name", err, sizeof(err))) {
		creq_err(r, "invalid", "%s", err);
		return NULL;
	}
	if (!cdb_exists(r->txn, C->db_campaigns, c)) {
		creq_err(r, "notfound", "no campaign named \"%s\"", c);
		return NULL;
	}
	return c;
}

/* The agent arg, which must name an agent; NULL answered. */
static const char *
arg_agent(struct creq *r)
{
	const char *a = arg_str(r, "agent");
	char err[256];

	if (a == NULL || *a == '\0') {
		creq_err(r, "invalid", "member %s needs an agent", r->op);
		return NULL;
	}
	if (!valid_name(a, "agent name", err, sizeof(err))) {
		creq_err(r, "invalid", "%s", err);
		return NULL;
	}
	if (!cdb_exists(r->txn, C->db_agents, a)) {
		creq_err(r, "notfound", "%s is not an agent", a);
		return NULL;
	}
	return a;
}

/*
 * Optional integer arg in lo..hi into *out (unchanged when absent); -1
 * answered.
 */
static int
arg_range(struct creq *r, const char *key, json_int_t lo, json_int_t hi,
    json_int_t *out)
{
	json_t *v = arg(r, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi) {
		creq_err(r, "invalid", "%s must be a whole number from %lld "
		    "to %lld", key, (long long)lo, (long long)hi);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

/* Optional boolean arg; -1 answered. */
static int
arg_yesno(struct creq *r, const char *key, json_t *doc)
{
	json_t *v = arg(r, key);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		creq_err(r, "invalid", "%s must be yes or no", key);
		return -1;
	}
	json_object_set(doc, key, v);
	return 0;
}

/* Move arr[from] to index to and store the new positions. */
static int
members_move(MDB_txn *txn, json_t *arr, size_t from, size_t to)
{
	json_t *m = json_incref(json_array_get(arr, from));

	json_array_remove(arr, from);
	json_array_insert_new(arr, to, m);
	return members_renumber(txn, arr);
}

static void
member_add(struct creq *r)
{
	const char *camp, *agent;
	json_t *arr = NULL, *doc = NULL;
	json_int_t pos, pen = 0;
	int rc;

	if (creq_begin(r) == -1 || (camp = arg_campaign(r, "campaign")) ==
	    NULL || (agent = arg_agent(r)) == NULL)
		return;
	if ((rc = members_load(r->txn, camp, &arr)) != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		return;
	}
	if (members_find(arr, agent) >= 0) {
		creq_err(r, "exists", "%s is already a member of %s", agent,
		    camp);
		goto out;
	}
	pos = (json_int_t)json_array_size(arr) + 1;
	doc = json_pack("{s:s,s:s,s:I,s:I,s:b,s:b}", "campaign", camp, "agent",
	    agent, "position", pos, "penalty", (json_int_t)0, "receive", 1,
	    "create", 1);
	if (arg_range(r, "position", 1, pos, &pos) == -1 ||
	    arg_range(r, "penalty", 0, PENALTY_MAX, &pen) == -1 ||
	    arg_yesno(r, "receive", doc) == -1 ||
	    arg_yesno(r, "create", doc) == -1)
		goto out;
	json_object_set_new(doc, "penalty", json_integer(pen));
	/* insert at pos: the ones from there on move down by one */
	json_object_set_new(doc, "position", json_integer(0));
	json_array_insert(arr, (size_t)pos - 1, doc);
	if ((rc = members_renumber(r->txn, arr)) != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		goto out;
	}
	creq_ok(r, json_pack("{s:O}", "doc", doc));
out:
	json_decref(doc);
	json_decref(arr);
}

/* Load camp's members and find agent in them; -1 answered. */
static int
member_locate(struct creq *r, const char **camp, const char **agent,
    json_t **arr, int *idx)
{
	int rc;

	*arr = NULL;
	if ((*camp = arg_campaign(r, "campaign")) == NULL ||
	    (*agent = arg_agent(r)) == NULL)
		return -1;
	if ((rc = members_load(r->txn, *camp, arr)) != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		return -1;
	}
	if ((*idx = members_find(*arr, *agent)) < 0) {
		creq_err(r, "notfound", "%s is not a member of %s", *agent,
		    *camp);
		json_decref(*arr);
		*arr = NULL;
		return -1;
	}
	return 0;
}

static void
member_remove(struct creq *r)
{
	const char *camp, *agent;
	json_t *arr;
	char key[160];
	int idx, rc = MDB_BAD_VALSIZE;

	if (creq_begin(r) == -1 ||
	    member_locate(r, &camp, &agent, &arr, &idx) == -1)
		return;
	json_array_remove(arr, (size_t)idx);
	if (member_key(key, sizeof(key), camp, agent) == -1 ||
	    (rc = cdb_del(r->txn, C->db_members, key)) != 0 ||
	    (rc = members_renumber(r->txn, arr)) != 0)
		creq_err(r, "store", "%s", mdb_strerror(rc));
	else
		creq_ok(r, json_pack("{s:s,s:s}", "removed", agent, "campaign",
		    camp));
	json_decref(arr);
}

/* edit and reorder: the same change, reorder needs a position. */
static void
member_edit(struct creq *r, int reorder)
{
	const char *camp, *agent;
	json_t *arr, *m;
	json_int_t pos, pen;
	char key[160];
	int idx, rc = MDB_BAD_VALSIZE;

	if (creq_begin(r) == -1 ||
	    member_locate(r, &camp, &agent, &arr, &idx) == -1)
		return;
	m = json_array_get(arr, (size_t)idx);
	pos = mpos(m);
	pen = json_integer_value(json_object_get(m, "penalty"));
	if (reorder && arg(r, "position") == NULL) {
		creq_err(r, "invalid", "member reorder needs --position N");
		goto out;
	}
	if (!reorder && !arg(r, "position") && !arg(r, "penalty") &&
	    !arg(r, "receive") && !arg(r, "create")) {
		creq_err(r, "invalid", "member edit: nothing to change (give "
		    "--penalty, --receive, --create or --position)");
		goto out;
	}
	if (arg_range(r, "position", 1, (json_int_t)json_array_size(arr),
	    &pos) == -1 ||
	    arg_range(r, "penalty", 0, PENALTY_MAX, &pen) == -1 ||
	    arg_yesno(r, "receive", m) == -1 ||
	    arg_yesno(r, "create", m) == -1)
		goto out;
	json_object_set_new(m, "penalty", json_integer(pen));
	if (member_key(key, sizeof(key), camp, agent) == -1 ||
	    (rc = cdb_put(r->txn, C->db_members, key, m)) != 0 ||
	    (rc = members_move(r->txn, arr, (size_t)idx, (size_t)pos - 1)) !=
	    0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		goto out;
	}
	creq_ok(r, json_pack("{s:O}", "doc", json_array_get(arr, (size_t)pos -
	    1)));
out:
	json_decref(arr);
}

static void
member_copy(struct creq *r)
{
	const char *from, *to;
	json_t *src = NULL, *dst = NULL, *m, *doc;
	json_int_t n;
	char key[160];
	size_t i;
	int rc = 0, copied = 0, kept = 0;

	if (creq_begin(r) == -1 || (from = arg_campaign(r, "from")) == NULL ||
	    (to = arg_campaign(r, "to")) == NULL)
		return;
	if (strcmp(from, to) == 0) {
		creq_err(r, "invalid", "cannot copy the members of %s to "
		    "itself", from);
		return;
	}
	if ((rc = members_load(r->txn, from, &src)) != 0 ||
	    (rc = members_load(r->txn, to, &dst)) != 0) {
		creq_err(r, "store", "%s", mdb_strerror(rc));
		goto out;
	}
	n = (json_int_t)json_array_size(dst);
	json_array_foreach(src, i, m) {
		const char *agent = json_string_value(json_object_get(m,
		    "agent"));

		if (agent == NULL)
			continue;
		if (members_find(dst, agent) >= 0) {
			kept++;		/* already there: its settings stay */
			continue;
		}
		doc = json_deep_copy(m);
		json_object_set_new(doc, "campaign", json_string(to));
		json_object_set_new(doc, "position", json_integer(++n));
		if (member_key(key, sizeof(key), to, agent) == -1)
			rc = MDB_BAD_VALSIZE;
		else
			rc = cdb_put(r->txn, C->db_members, key, doc);
		json_decref(doc);
		if (rc != 0) {
			creq_err(r, "store", "%s", mdb_strerror(rc));
			goto out;
		}
		copied++;
	}
	creq_ok(r, json_pack("{s:s,s:s,s:i,s:i}", "from", from, "to", to,
	    "copied", copied, "kept", kept));
out:
	json_decref(src);
	json_decref(dst);
}

static void
member_list(struct creq *r)
{
	const char *camp, *after = arg_str(r, "after");
	json_t *arr = NULL, *items, *m, *ans, *ag, *cdoc = NULL;
	json_int_t from = 0;
	char key[160];
	size_t i;
	int rc, more = 0;

	if ((camp = arg_campaign(r, "campaign")) == NULL)
		return;
	if (r->role < ROLE_SUPERVISOR && (!is_self(r, r->who) ||
	    !member_in_effect(r->txn, camp, r->who))) {
		creq_err(r, "denied", "member list of %s needs the supervisor "
		    "role or membership of %s (you are %s)", camp, camp,
		    r->who);
		return;
	}
	if (after && *after)
		from = strtoll(after, NULL, 10);
	/* the members in effect: its own, then its teams' agents */
	if ((rc = cdb_get(r->txn, C->db_campaigns, camp, &cdoc)) != 0 ||
	    (rc = members_effective(r->txn, cdoc, &arr)) != 0) {
		json_decref(cdoc);
		creq_err(r, "store", "%s", mdb_strerror(rc));
		return;
	}
	json_decref(cdoc);
	items = json_array();
	json_array_foreach(arr, i, m) {
		if (mpos(m) <= from)
			continue;
		if (json_array_size(items) >= MEMBER_PAGE) {
			more = 1;
			break;
		}
		if (cdb_get(r->txn, C->db_agents, rec_str(m, "agent", ""),
		    &ag) == 0) {
			json_object_set(m, "role", json_object_get(ag, "role"));
			json_decref(ag);
		}
		json_array_append(items, m);
	}
	ans = json_pack("{s:o,s:b}", "items", items, "more", more);
	if (more) {
		snprintf(key, sizeof(key), "%lld", (long long)mpos(
		    json_array_get(items, json_array_size(items) - 1)));
		json_object_set_new(ans, "next", json_string(key));
	}
	json_decref(arr);
	creq_ok(r, ans);
}

int
member_op(struct creq *r)
{
	if (strcmp(r->op, "list") == 0)
		member_list(r);
	else if (strcmp(r->op, "add") == 0)
		member_add(r);
	else if (strcmp(r->op, "remove") == 0)
		member_remove(r);
	else if (strcmp(r->op, "edit") == 0)
		member_edit(r, 0);
	else if (strcmp(r->op, "reorder") == 0)
		member_edit(r, 1);
	else if (strcmp(r->op, "copy") == 0)
		member_copy(r);
	return 0;
}
