/*
 * campaignd_statusdef — agent statuses (msg statusdef): the names and labels
 * of the states an agent may set (available, break, ...).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rec.h"
#include "valid.h"
#include "str.h"
#include "campaignd.h"

#define STATUS_LABEL_MAX	64

/* --------------------------------------------------------- statusdef */

static const char *const status_kinds[] = { "available", "break", "busy",
	"offline", NULL };

/* Apply --kind and --label to doc; -1 answered. */
static int
status_fields(struct creq *r, json_t *doc, int add)
{
	const char *kind, *label;
	char err[256];

	if (res_opt_str(r, "status_kind", "--kind", &kind) == -1 ||
	    res_opt_str(r, "label", "--label", &label) == -1)
		return -1;
	if (add && (kind == NULL || label == NULL)) {
		creq_err(r, "invalid", "%s is required", kind == NULL ?
		    "--kind available|break|busy|offline" : "--label");
		return -1;
	}
	if (!add && kind == NULL && label == NULL) {
		creq_err(r, "invalid", "nothing to change: give --kind or "
		    "--label");
		return -1;
	}
	if (kind && !str_in(status_kinds, kind)) {
		creq_err(r, "invalid", "status kind \"%.40s\" is not one of "
		    "available, break, busy, offline", kind);
		return -1;
	}
	if (label && (*label == '\0' || !res_no_controls(label, 0) ||
	    !valid_text(label, STATUS_LABEL_MAX, "label", err, sizeof(err)))) {
		creq_err(r, "invalid", "label must be one line of 1 to %d "
		    "characters", STATUS_LABEL_MAX);
		return -1;
	}
	if (kind)
		json_object_set_new(doc, "kind", json_string(kind));
	if (label)
		json_object_set_new(doc, "label", json_string(label));
	return 0;
}

int
statusdef_op(struct creq *r)
{
	const char *key;

	if (res_is_op(r, "list")) {
		if (creq_need(r, ROLE_AGENT) == 0)
			cdb_list(r, C->db_statusdefs, NULL, NULL, NULL);
		return 0;
	}
	if ((key = res_need_name(r, "statusdef")) == NULL)
		return 0;
	if (res_is_op(r, "show")) {
		if (creq_need(r, ROLE_AGENT) == 0)
			cdb_show(r, C->db_statusdefs, "agent status");
		return 0;
	}
	if (res_is_op(r, "add") || res_is_op(r, "edit")) {
		res_upsert(r, C->db_statusdefs, key, "status name",
		    "an agent status", "agent status", status_fields);
		return 0;
	}
	if (res_is_op(r, "delete"))
		res_delete(r, C->db_statusdefs, "agent status", NULL, key);
	return 0;
}
