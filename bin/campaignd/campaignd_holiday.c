/*
 * campaignd_holiday — global holidays: a date and a name.  The name is the
 * key and never changes; the date may be edited.  Every campaign is closed
 * on a global holiday (campaigns add their own in their documents).
 *
 * This module is also the smallest example of a kind: validate, then write
 * in the request's own nested transaction, then creq_ok.
 */
#include <string.h>

#include "valid.h"
#include "campaignd.h"

/* Check and normalise {name, date}; 0 or -1 (answered). */
static int
holiday_check(struct creq *r, json_t *doc)
{
	char err[256];
	const char *date = json_string_value(json_object_get(doc, "date"));
	int y, m, d;

	if (date == NULL || !valid_date(date, &y, &m, &d)) {
		creq_err(r, "invalid", "holiday date must be YYYY-MM-DD, a "
		    "real calendar date");
		return -1;
	}
	if (!valid_text(json_string_value(json_object_get(doc, "name")), 80,
	    "holiday name", err, sizeof(err))) {
		creq_err(r, "invalid", "%s", err);
		return -1;
	}
	return 0;
}

int
holiday_op(struct creq *r)
{
	json_t *doc, *old;
	int rc;

	if (strcmp(r->op, "list") == 0) {
		if (creq_need(r, ROLE_AGENT) == 0)
			cdb_list(r, C->db_holidays, NULL, NULL, NULL);
		return 0;
	}
	if (strcmp(r->op, "show") == 0) {
		if (creq_need(r, ROLE_AGENT) == 0)
			cdb_show(r, C->db_holidays, "holiday");
		return 0;
	}
	if (r->name == NULL || *r->name == '\0') {
		creq_err(r, "invalid", "holiday: a name is required");
		return 0;
	}
	if (strcmp(r->op, "add") == 0) {
		if (creq_begin(r) == -1)
			return 0;
		doc = json_pack("{s:s,s:O*}", "name", r->name, "date",
		    arg(r, "date"));
		if (holiday_check(r, doc) == -1)
			goto out;
		if (cdb_exists(r->txn, C->db_holidays, r->name)) {
			creq_err(r, "exists", "a holiday named \"%s\" exists",
			    r->name);
			goto out;
		}
		json_object_set_new(doc, "created_ts", cts(daemon_now_ms()));
		if ((rc = cdb_put(r->txn, C->db_holidays, r->name, doc)) != 0) {
			creq_err(r, "store", "%s", mdb_strerror(rc));
			goto out;
		}
		creq_ok(r, json_pack("{s:O}", "doc", doc));
	out:
		json_decref(doc);
		return 0;
	}
	if (strcmp(r->op, "edit") == 0) {
		if (creq_begin(r) == -1)
			return 0;
		if (cdb_get(r->txn, C->db_holidays, r->name, &old) != 0) {
			creq_err(r, "notfound", "no holiday named \"%s\"",
			    r->name);
			return 0;
		}
		if (arg(r, "date"))
			json_object_set(old, "date", arg(r, "date"));
		if (holiday_check(r, old) == 0) {
			json_object_set_new(old, "updated_ts",
			    cts(daemon_now_ms()));
			if ((rc = cdb_put(r->txn, C->db_holidays, r->name,
			    old)) != 0)
				creq_err(r, "store", "%s", mdb_strerror(rc));
			else
				creq_ok(r, json_pack("{s:O}", "doc", old));
		}
		json_decref(old);
		return 0;
	}
	if (strcmp(r->op, "delete") == 0) {
		if (creq_begin(r) == -1)
			return 0;
		if ((rc = cdb_del(r->txn, C->db_holidays, r->name)) != 0) {
			creq_err(r, rc == MDB_NOTFOUND ? "notfound" : "store",
			    "no holiday named \"%s\"", r->name);
			return 0;
		}
		creq_ok(r, json_pack("{s:s}", "deleted", r->name));
		return 0;
	}
	return 0;
}
