/*
 * outbound — an outbound campaign's message as one contact gets it, and
 * the contact's sending hours.  Pure logic over JSON shared by campaignd
 * (readiness, preview, the dry run) and the run that sends: the contact's
 * values for placeholders ({first_name}, {last_name}, {name}, {phone},
 * {email}, {timezone}, or a custom field; "{first_name|there}" falls back
 * when empty), WhatsApp template parameters mapped from contact fields, and
 * the allowed hours ("08:00"-"21:00" every day) in the contact's own time
 * zone, else the campaign's.
 */
#ifndef PARLEY_OUTBOUND_H
#define PARLEY_OUTBOUND_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* The contact's value for placeholder name, or NULL (none, or empty). */
const char *outbound_value(const json_t *contact, const char *name);

/*
 * The names of text's placeholders without a fallback that have no value
 * for contact, appended (once each) to missing.  Returns how many.
 */
size_t	outbound_missing(const char *text, const json_t *contact,
	    json_t *missing);

/*
 * text with contact's values: malloc'd, or NULL with a one-line err (a
 * placeholder with no value and no fallback: "no value for {city}").
 */
char	*outbound_render(const char *text, const json_t *contact, char *err,
	    size_t errsz);

/*
 * WhatsApp template parameters: params is an array of placeholder names
 * (or "text|fallback"), values gets a new array of their values.  0, or -1
 * with the names without value appended to missing (may be NULL).
 */
int	outbound_params(const json_t *params, const json_t *contact,
	    json_t **values, json_t *missing);

/* "HH:MM" (00:00-24:00) into minutes from midnight; 0 or -1. */
int	outbound_hhmm(const char *s, int *min);

/*
 * The first instant at or after now_ms (Unix ms) when the local time in tz
 * is within [from, to) minutes (to < from: across midnight); now_ms itself
 * when it is; -1 for a bad zone.
 */
int64_t	outbound_next_open(const char *tz, int from, int to, int64_t now_ms);

#endif
