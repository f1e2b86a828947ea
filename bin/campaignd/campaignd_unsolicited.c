/*
 * campaignd_unsolicited — a reusable number's unsolicited-message
 * settings: who receives what arrives on the number when no active
 * campaign owns it.  One document per number, keyed "<channel>:<addr>":
 *
 *   {channel, addr, campaign?, teams: [..], agents: [..], updated_ts}
 *
 * routerd reads them (db "unsolicited") when its address index names no
 * active campaign: the conversation goes to the campaign named, when it is
 * live; else, with teams or agents, to the number's own queue, offered to
 * those agents (routerd's "@<channel>:<addr>"); else to "default".
 *
 *   set     admin; replaces the settings (campaign, teams, agents), each
 *           checked to exist; a number some campaign provisions has none
 *   show, list   any role
 *   delete  admin
 */
#include <stdio.h>
#include <string.h>

#include "valid.h"
#include "campaignd.h"

#define UNSOL_MAX	50	/* teams, agents of one number */

/* "<channel>:<addr>" checked: a channel parley speaks, an address. */
static int
key_check(struct creq *r, const char *key, char *ch, size_t chsz)
{
	static const char *const chans[] = { "sms", "whatsapp", "messenger",
	    "instagram", NULL };
	const char *c = strchr(key, ':');
	size_t i;

	if (c == NULL || c == key || c[1] == '\0' || strlen(key) > 150 ||
	    (size_t)(c - key) >= chsz) {
		creq_err(r, "invalid", "unsolicited: the number is "
		    "CHANNEL:ADDRESS, e.g. sms:+15551234567");
		return -1;
	}
	memcpy(ch, key, (size_t)(c - key));
	ch[c - key] = '\0';
	for (i = 0; chans[i] && strcmp(chans[i], ch) != 0; i++)
		;
	if (chans[i] == NULL) {
		creq_err(r, "invalid", "unsolicited: channel must be sms, "
		    "whatsapp, messenger or instagram");
		return -1;
	}
	return 0;
}

/* A list argument of names that must exist in dbi; a new array, or NULL
 * (answered). */
static json_t *
names_arg(struct creq *r, const char *key, MDB_dbi dbi, const char *what)
{
	json_t *v = arg(r, key), *out = json_array(), *e;
	size_t i;

	if (v == NULL || json_is_null(v))
		return out;
	if (!json_is_array(v) || json_array_size(v) > UNSOL_MAX) {
		creq_err(r, "invalid", "%ss: a list of at most %d names", what,
		    UNSOL_MAX);
		json_decref(out);
		return NULL;
	}
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || !cdb_exists(r->txn, dbi,
		    json_string_value(e))) {
			creq_err(r, "notfound", "no %s named \"%s\"", what,
			    json_is_string(e) ? json_string_value(e) : "?");
			json_decref(out);
			return NULL;
		}
		if (res_arr_find(out, json_string_value(e)) == -1)
			json_array_append(out, e);
	}
	return out;
}

/* Does some campaign provision key's number? */
static int
provisioned(struct creq *r, const char *ch, const char *addr, char *by,
    size_t bysz)
{
	MDB_cursor *cur;
	MDB_val k, v;
	json_t *doc, *e;
	size_t i;
	int rc, yes = 0;

	if (mdb_cursor_open(r->txn, C->db_campaigns, &cur) != 0)
		return 0;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !yes;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char name[128];

		if (k.mv_size >= sizeof(name))
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		if (cdb_get(r->txn, C->db_campaigns, name, &doc) != 0)
			continue;
		json_array_foreach(json_object_get(json_object_get(
		    json_object_get(doc, "channels"), ch), "addresses"), i, e)
			if (json_is_string(json_object_get(e, "addr")) &&
			    strcmp(json_string_value(json_object_get(e,
			    "addr")), addr) == 0 &&
			    json_is_string(json_object_get(e, "mode")) &&
			    strcmp(json_string_value(json_object_get(e,
			    "mode")), "provisioned") == 0 &&
			    json_is_string(json_object_get(doc, "state")) &&
			    strcmp(json_string_value(json_object_get(doc,
			    "state")), "archived") != 0) {
				snprintf(by, bysz, "%s", name);
				yes = 1;
			}
		json_decref(doc);
	}
	mdb_cursor_close(cur);
	return yes;
}

int
unsolicited_op(struct creq *r)
{
	char ch[16], by[128];
	const char *camp;
	json_t *doc, *teams, *agents;
	int rc;

	if (strcmp(r->op, "list") == 0) {
		if (creq_need(r, ROLE_AGENT) == 0)
			cdb_list(r, C->db_unsolicited, NULL, NULL, NULL);
		return 0;
	}
	if (strcmp(r->op, "show") == 0) {
		if (creq_need(r, ROLE_AGENT) == 0)
			cdb_show(r, C->db_unsolicited, "unsolicited setting");
		return 0;
	}
	if (r->name == NULL || key_check(r, r->name, ch, sizeof(ch)) == -1) {
		if (r->name == NULL)
			creq_err(r, "invalid", "unsolicited: the number is "
			    "required");
		return 0;
	}
	if (strcmp(r->op, "delete") == 0) {
		if (creq_begin(r) == -1)
			return 0;
		if ((rc = cdb_del(r->txn, C->db_unsolicited, r->name)) != 0) {
			creq_err(r, rc == MDB_NOTFOUND ? "notfound" : "store",
			    "no unsolicited settings for %s", r->name);
			return 0;
		}
		creq_ok(r, json_pack("{s:s}", "deleted", r->name));
		return 0;
	}
	if (strcmp(r->op, "set") != 0) {
		creq_err(r, "invalid", "unsolicited: op is set, show, list or "
		    "delete");
		return 0;
	}
	if (creq_begin(r) == -1)
		return 0;
	if (provisioned(r, ch, r->name + strlen(ch) + 1, by, sizeof(by))) {
		creq_err(r, "invalid", "%s is provisioned by campaign %s: "
		    "unsolicited settings are for reusable numbers", r->name,
		    by);
		return 0;
	}
	if (res_opt_str(r, "campaign", "campaign", &camp) == -1)
		return 0;
	if (camp != NULL && *camp != '\0' &&
	    !cdb_exists(r->txn, C->db_campaigns, camp)) {
		creq_err(r, "notfound", "no campaign named \"%s\"", camp);
		return 0;
	}
	if ((teams = names_arg(r, "teams", C->db_teams, "team")) == NULL)
		return 0;
	if ((agents = names_arg(r, "agents", C->db_agents, "agent")) == NULL) {
		json_decref(teams);
		return 0;
	}
	doc = json_pack("{s:s,s:s,s:o,s:o,s:o}", "channel", ch, "addr",
	    r->name + strlen(ch) + 1, "teams", teams, "agents", agents,
	    "updated_ts", cts(daemon_now_ms()));
	if (camp != NULL && *camp != '\0')
		json_object_set_new(doc, "campaign", json_string(camp));
	if ((rc = cdb_put(r->txn, C->db_unsolicited, r->name, doc)) != 0)
		creq_err(r, "store", "%s", mdb_strerror(rc));
	else
		creq_ok(r, json_pack("{s:O}", "doc", doc));
	json_decref(doc);
	return 0;
}
