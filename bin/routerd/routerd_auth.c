/*
 * routerd_auth — who is calling routerd, and what they may do.
 *
 * The Unix user behind a connection (SO_PEERCRED) is mapped to an agent
 * and a role through campaignd's "agentuser" and "agents" databases, read
 * read-only.  Root and the user the daemons run as are admins (the channel
 * daemons, campaignd, and an operator's shell).  Agents act on conversations
 * of the campaigns they are members of; supervisors see all of their
 * campaigns; admins see everything.  The mapping is read again whenever
 * campaignd has committed since it was last read (its transaction id), so
 * a role change or a deleted agent applies to open connections at once.
 * On the ground floor: it reads campaignd's records through routerd_campaign.
 */
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mp.h"
#include "routerd.h"

struct who *
auth_who(struct rclient *cl)
{
	struct who *w = &cl->who;
	struct passwd *pw;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k, v;
	msgpack_unpacked up;
	char role[16] = "";
	size_t gen = 0;
	uid_t uid;

	/* campaignd's last commit: a role may have changed since */
	if (camp_rtxn(&txn) == 0)
		gen = mdb_txn_id(txn);
	if (w->resolved && w->gen == gen)
		goto done;
	w->resolved = 1;
	w->gen = gen;
	w->role = RR_NONE;
	w->agent[0] = '\0';
	if (cl->bc.c == NULL || bus_peer(cl->bc.c, &uid, NULL, NULL) == -1)
		goto done;
	if (uid == 0 || uid == geteuid()) {
		w->role = RR_ADMIN;
		goto done;
	}
	if (txn == NULL || (pw = getpwuid(uid)) == NULL)
		goto done;
	k.mv_size = strlen(pw->pw_name);
	k.mv_data = pw->pw_name;
	if (camp_dbi("agentuser", &dbi) == 0 &&
	    mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size > 0 &&
	    v.mv_size < sizeof(w->agent)) {
		memcpy(w->agent, v.mv_data, v.mv_size);
		w->agent[v.mv_size] = '\0';
		msgpack_unpacked_init(&up);
		if (camp_doc(txn, "agents", w->agent, &up) == 0)
			mp_strcpy(&up.data, "role", role, sizeof(role));
		msgpack_unpacked_destroy(&up);
		if (strcmp(role, "admin") == 0)
			w->role = RR_ADMIN;
		else if (strcmp(role, "supervisor") == 0)
			w->role = RR_SUPERVISOR;
		else if (role[0])
			w->role = RR_AGENT;
	}
	if (w->role == RR_NONE)
		w->agent[0] = '\0';
done:
	if (txn)
		mdb_txn_abort(txn);
	return w;
}

int
auth_changed(struct rclient *cl)
{
	struct who *w = &cl->who;
	enum rrole role = w->role;
	char agent[sizeof(w->agent)];

	if (!w->resolved)
		return 0;
	memcpy(agent, w->agent, sizeof(agent));
	auth_who(cl);
	return w->role != role || strcmp(w->agent, agent) != 0;
}

int
auth_can_see(const struct who *w, const char *campaign)
{
	if (w->role == RR_ADMIN)
		return 1;
	if (w->role == RR_NONE || w->agent[0] == '\0')
		return 0;
	return camp_member(campaign, w->agent, NULL, NULL);
}

int
auth_can_create(const struct who *w, const char *campaign)
{
	int create = 0;

	if (w->role == RR_ADMIN)
		return 1;
	if (w->role == RR_NONE || w->agent[0] == '\0')
		return 0;
	return camp_member(campaign, w->agent, NULL, &create) && create;
}

int
auth_check_conv(struct rclient *cl, int64_t re, const struct conv *cv)
{
	struct who *w = auth_who(cl);
	char why[200];

	if (auth_can_see(w, cv->campaign))
		return 0;
	if (w->role == RR_NONE)
		snprintf(why, sizeof(why), "you are not a parley agent");
	else
		snprintf(why, sizeof(why), "%s is not a member of campaign %s",
		    w->agent, cv->campaign);
	bus_caller_refuse(&cl->bc, re, "denied", "%s", why);
	return -1;
}
