/*
 * campaign_check — the shape of a campaign document, checked and put in its
 * one canonical form: every field present (absent ones take the defaults),
 * keys in a fixed order, numbers in their bounds, schedule and holidays
 * normalised.  Pure logic over JSON, so campaignd, its unit tests and any
 * future tool agree on what a valid campaign is and on its exported form;
 * what needs the store (do the teams exist, is a number provisioned to
 * another campaign) stays in campaignd.
 *
 * A canonical document is a fixed point: campaign_check_norm of it gives an
 * equal document, which is what makes `msg campaign apply` idempotent.
 */
#ifndef PARLEY_CAMPAIGN_CHECK_H
#define PARLEY_CAMPAIGN_CHECK_H

#include <stddef.h>
#include <jansson.h>

/* Lifecycle states, in lifecycle order; NULL-ended. */
extern const char *const campaign_states[];

/*
 * Check a campaign document (absent fields take their defaults; unknown
 * fields are refused, except the computed "today", "open_now" and
 * "members", which are dropped) and return it in canonical form (new
 * reference).  Address entries may be plain strings (mode "reusable"),
 * holidays "YYYY-MM-DD" or
 * "YYYY-MM-DD=Name".  NULL with a one-line reason in err.
 */
json_t	*campaign_check_norm(const json_t *in, char *err, size_t errsz);

/*
 * Apply a partial document (an edit) to base in place: objects merge field
 * by field, everything else (arrays, the schedule) is replaced.  Addresses
 * given as plain strings keep the mode base has for them.  0, or -1 with a
 * reason in err when patch is not an object.
 */
int	campaign_check_merge(json_t *base, const json_t *patch, char *err,
	    size_t errsz);

/*
 * Set mode ("reusable" or "provisioned") on each address in addrs (an array
 * of strings) wherever doc (canonical) lists it.  0, or -1 with a reason
 * naming an address the campaign does not have.
 */
int	campaign_check_mark(json_t *doc, const json_t *addrs, const char *mode,
	    char *err, size_t errsz);

/*
 * The configuration of a canonical document: a copy without the lifecycle
 * fields (state and the *_ts / scheduled_for times), in canonical order.
 * What `msg campaign export` prints and what apply compares.
 */
json_t	*campaign_check_config(const json_t *doc);

/* 1 if key is a lifecycle field (state, created_ts, ...). */
int	campaign_check_lifecycle(const char *key);

#endif
