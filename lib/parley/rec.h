/*
 * rec — records on pipes (JSON Lines, DESIGN §5) and their msgpack form.
 *
 * Stored event records are msgpack maps whose "ts" (and any "*_ts") is
 * milliseconds since the epoch; on pipes they are RFC 3339 UTC with
 * milliseconds.  An event line is the record with "seq" first.
 */
#ifndef PARLEY_REC_H
#define PARLEY_REC_H

#include <stdint.h>
#include <jansson.h>
#include <msgpack.h>

/* msgpack object -> new JSON value (bin becomes base64 text); NULL on error. */
json_t	*rec_to_json(const msgpack_object *);
/*
 * Like rec_to_json, for a record shown on a pipe: integers under "ts" and
 * "*_ts" keys (in maps at any depth) become RFC 3339 text.  NULL on error.
 */
json_t	*rec_record_json(const msgpack_object *);
/* Pack a JSON value as msgpack; -1 on an unsupported value. */
int	rec_pack_json(msgpack_packer *, const json_t *);
/*
 * One JSON line (no newline) for event seq with record r: "seq" first, then
 * r's keys in order, times as in rec_record_json; malloc'd, NULL if r is not
 * a map.
 */
char	*rec_event_line(uint64_t seq, const msgpack_object *r);
/*
 * The string under key in JSON object o, or def when o has no such key or
 * it holds something else (o may be NULL).
 */
const char *rec_str(const json_t *o, const char *key, const char *def);
/* Like rec_str, but an empty string is def too. */
const char *rec_str_nonempty(const json_t *o, const char *key,
	    const char *def);
/*
 * The string under key for input that must be typed right: NULL when the
 * key is absent or null, the string when it is one, and NULL with *bad set
 * to 1 when it holds anything else.
 */
const char *rec_str_typed(const json_t *o, const char *key, int *bad);
/* RFC 3339 UTC with milliseconds: "2026-11-21T10:00:00.123Z". */
void	rec_ts_format(int64_t ms, char buf[32]);
/* Parse RFC 3339 (Z or offset, optional fraction); -1 if malformed. */
int	rec_ts_parse(const char *, int64_t *ms);
/*
 * Days from 1970-01-01 to the proleptic Gregorian date y-m-d, negative
 * before it (H. Hinnant's days_from_civil): no time zone, no table.
 */
int64_t	rec_days_from_civil(int64_t y, int m, int d);

#endif
