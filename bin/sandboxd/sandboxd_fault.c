/*
 * sandboxd_fault — fault rules: make the stand-in provider misbehave on
 * purpose so parley's retry, backoff and failure paths can be tested.
 *
 * A rule names an API and optionally a recipient, and what to do to matching
 * requests: answer with an HTTP error and the provider's error body, delay
 * the answer, let the request succeed but end it with a failed status
 * callback, post every webhook several times (duplicates), or post the final
 * status before "sent" (reordering).  Rules are tried in the order they were
 * added; the first live one that matches applies and uses up one of its
 * count (-1: forever).  Used-up rules stay listed, with their hits, until
 * cleared, so a test can see what fired.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "sandboxd.h"

#define SBX_MAX_RULES	1000

struct sbx_rule {
	struct sbx_fault f;
	char		 api[16];
	char		*to;		/* NULL: any recipient */
	long		 count;		/* left; -1 forever */
	long		 hits;
};

struct sbx_faults {
	struct sbx_rule	*r;
	size_t		 n;
	size_t		 live;		/* rules with count != 0 */
	int		 next_id;
};

/* The APIs sandboxd speaks (a rule for another is refused). */
static const char *const apis[] = { "twilio", "whatsapp", "messenger",
    "instagram", "profile", NULL };

struct sbx_faults *
sbx_faults_new(void)
{
	struct sbx_faults *fs;

	if ((fs = calloc(1, sizeof(*fs))) == NULL)
		return NULL;
	if ((fs->r = calloc(SBX_MAX_RULES, sizeof(*fs->r))) == NULL) {
		free(fs);
		return NULL;
	}
	fs->next_id = 1;
	return fs;
}

void
sbx_fault_clear(struct sbx_faults *fs)
{
	size_t i;

	for (i = 0; i < fs->n; i++)
		free(fs->r[i].to);
	fs->n = 0;
	fs->live = 0;
}

void
sbx_faults_free(struct sbx_faults *fs)
{
	if (fs == NULL)
		return;
	sbx_fault_clear(fs);
	free(fs->r);
	free(fs);
}

/* An integer member in [min,max] into *v (absent: unchanged); -1 with why. */
static int
get_int(const json_t *spec, const char *key, long min, long max, long *v,
    char *why, size_t whysz)
{
	json_t *j = json_object_get(spec, key);

	if (j == NULL)
		return 0;
	if (!json_is_integer(j) || json_integer_value(j) < min ||
	    json_integer_value(j) > max) {
		snprintf(why, whysz, "\"%s\" must be an integer from %ld to %ld",
		    key, min, max);
		return -1;
	}
	*v = (long)json_integer_value(j);
	return 0;
}

/* A string member into buf (absent: unchanged); -1 with why. */
static int
get_str(const json_t *spec, const char *key, char *buf, size_t bufsz,
    char *why, size_t whysz)
{
	json_t *j = json_object_get(spec, key);

	if (j == NULL)
		return 0;
	if (!json_is_string(j) || json_string_length(j) >= bufsz ||
	    strlen(json_string_value(j)) != json_string_length(j)) {
		snprintf(why, whysz, "\"%s\" must be a string under %zu bytes",
		    key, bufsz);
		return -1;
	}
	memcpy(buf, json_string_value(j), json_string_length(j) + 1);
	return 0;
}

int
sbx_fault_add(struct sbx_faults *fs, const json_t *spec, char *why,
    size_t whysz)
{
	static const char *const known[] = { "api", "to", "http", "code",
	    "subcode", "message", "status", "error_code", "delay_ms", "count", "repeat",
	    "reorder", NULL };
	struct sbx_rule r;
	const char *key;
	json_t *v;
	char to[64] = "";
	long http = 0, repeat = 1;
	size_t i;

	memset(&r, 0, sizeof(r));
	r.count = 1;
	if (!json_is_object(spec)) {
		snprintf(why, whysz, "a fault is a JSON object");
		return -1;
	}
	json_object_foreach((json_t *)spec, key, v) {
		for (i = 0; known[i] != NULL && strcmp(known[i], key) != 0; i++)
			;
		if (known[i] == NULL) {
			snprintf(why, whysz, "unknown fault field \"%.40s\"", key);
			return -1;
		}
	}
	if (get_str(spec, "api", r.api, sizeof(r.api), why, whysz) == -1 ||
	    get_str(spec, "to", to, sizeof(to), why, whysz) == -1 ||
	    get_int(spec, "http", 400, 599, &http, why, whysz) == -1 ||
	    get_int(spec, "code", 1, 99999999, &r.f.code, why, whysz) == -1 ||
	    get_int(spec, "subcode", 1, 99999999, &r.f.subcode, why,
	    whysz) == -1 ||
	    get_str(spec, "message", r.f.message, sizeof(r.f.message), why,
	    whysz) == -1 ||
	    get_str(spec, "status", r.f.status, sizeof(r.f.status), why,
	    whysz) == -1 ||
	    get_int(spec, "error_code", 1, 99999999, &r.f.error_code, why,
	    whysz) == -1 ||
	    get_int(spec, "delay_ms", 0, 600000, &r.f.delay_ms, why,
	    whysz) == -1 ||
	    get_int(spec, "count", -1, 100000000, &r.count, why, whysz) == -1 ||
	    get_int(spec, "repeat", 0, 100, &repeat, why, whysz) == -1)
		return -1;
	if ((v = json_object_get(spec, "reorder")) != NULL) {
		if (!json_is_boolean(v)) {
			snprintf(why, whysz, "\"reorder\" must be true or false");
			return -1;
		}
		r.f.reorder = json_is_true(v);
	}
	r.f.http = (int)http;
	r.f.repeat = (int)repeat;
	if (r.api[0] == '\0') {
		snprintf(why, whysz, "\"api\" is required (\"twilio\", "
		    "\"whatsapp\", \"messenger\", \"instagram\" or "
		    "\"profile\")");
		return -1;
	}
	for (i = 0; apis[i] != NULL && strcmp(apis[i], r.api) != 0; i++)
		;
	if (apis[i] == NULL) {
		snprintf(why, whysz, "unknown api \"%s\"", r.api);
		return -1;
	}
	if (r.count == 0) {
		snprintf(why, whysz, "\"count\" must be positive or -1 (forever)");
		return -1;
	}
	/* Messenger's sends have no failed status: an error answers them. */
	if (r.f.status[0] != '\0' && (strcmp(r.api, "messenger") == 0 ||
	    strcmp(r.api, "instagram") == 0 || strcmp(r.api, "profile") == 0)) {
		snprintf(why, whysz, "\"status\" is for twilio and whatsapp; "
		    "Meta answers a Messenger send with its error");
		return -1;
	}
	/* WhatsApp has no "undelivered": a message it cannot deliver fails. */
	if (r.f.status[0] != '\0' && strcmp(r.f.status, "failed") != 0 &&
	    (strcmp(r.api, "twilio") != 0 ||
	    strcmp(r.f.status, "undelivered") != 0)) {
		snprintf(why, whysz, strcmp(r.api, "twilio") == 0 ?
		    "\"status\" must be \"undelivered\" or \"failed\"" :
		    "\"status\" must be \"failed\"");
		return -1;
	}
	if (r.f.status[0] != '\0' && r.f.http != 0) {
		snprintf(why, whysz, "\"status\" and \"http\" exclude each other");
		return -1;
	}
	if (r.f.error_code != 0 && r.f.status[0] == '\0') {
		snprintf(why, whysz, "\"error_code\" needs \"status\"");
		return -1;
	}
	if ((r.f.code != 0 || r.f.subcode != 0 || r.f.message[0] != '\0') &&
	    r.f.http == 0) {
		snprintf(why, whysz, "\"code\", \"subcode\" and \"message\" "
		    "need \"http\"");
		return -1;
	}
	if (r.f.http == 0 && r.f.status[0] == '\0' && r.f.delay_ms == 0 &&
	    r.f.repeat == 1 && !r.f.reorder) {
		snprintf(why, whysz, "the fault does nothing: give http, status, "
		    "delay_ms, repeat or reorder");
		return -1;
	}
	if (fs->n == SBX_MAX_RULES) {
		snprintf(why, whysz, "too many fault rules (%d); DELETE "
		    "/sandbox/faults first", SBX_MAX_RULES);
		return -1;
	}
	if (to[0] != '\0' && (r.to = strdup(to)) == NULL) {
		snprintf(why, whysz, "out of memory");
		return -1;
	}
	r.f.id = fs->next_id++;
	fs->r[fs->n++] = r;
	fs->live++;
	log_info("fault %d added: api=%s to=%s http=%d status=%s delay_ms=%ld "
	    "count=%ld", r.f.id, r.api, r.to ? r.to : "*", r.f.http,
	    r.f.status[0] ? r.f.status : "-", r.f.delay_ms, r.count);
	return r.f.id;
}

json_t *
sbx_fault_list(const struct sbx_faults *fs)
{
	const struct sbx_rule *r;
	json_t *a, *o;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < fs->n; i++) {
		r = &fs->r[i];
		o = json_pack("{s:i, s:s, s:I, s:I}", "id", r->f.id, "api", r->api,
		    "count", (json_int_t)r->count, "hits", (json_int_t)r->hits);
		if (o == NULL)
			continue;
		if (r->to != NULL)
			json_object_set_new(o, "to", sbx_json_str(r->to));
		if (r->f.http != 0)
			json_object_set_new(o, "http", json_integer(r->f.http));
		if (r->f.code != 0)
			json_object_set_new(o, "code", json_integer(r->f.code));
		if (r->f.subcode != 0)
			json_object_set_new(o, "subcode",
			    json_integer(r->f.subcode));
		if (r->f.message[0] != '\0')
			json_object_set_new(o, "message",
			    sbx_json_str(r->f.message));
		if (r->f.status[0] != '\0')
			json_object_set_new(o, "status", json_string(r->f.status));
		if (r->f.error_code != 0)
			json_object_set_new(o, "error_code",
			    json_integer(r->f.error_code));
		if (r->f.delay_ms != 0)
			json_object_set_new(o, "delay_ms",
			    json_integer(r->f.delay_ms));
		if (r->f.repeat != 1)
			json_object_set_new(o, "repeat", json_integer(r->f.repeat));
		if (r->f.reorder)
			json_object_set_new(o, "reorder", json_true());
		json_array_append_new(a, o);
	}
	return a;
}

/* A rule's recipient is to; WhatsApp numbers compare with or without '+'. */
static int
same_to(const char *api, const char *rule, const char *to)
{
	if (strcmp(api, "whatsapp") == 0) {
		rule += *rule == '+';
		to += *to == '+';
	}
	return strcmp(rule, to) == 0;
}

int
sbx_fault_match(struct sbx_faults *fs, const char *api, const char *to,
    struct sbx_fault *f)
{
	struct sbx_rule *r;
	size_t i;

	if (fs->live == 0)
		return 0;
	for (i = 0; i < fs->n; i++) {
		r = &fs->r[i];
		if (r->count == 0 || strcmp(r->api, api) != 0)
			continue;
		if (r->to != NULL && (to == NULL || !same_to(api, r->to, to)))
			continue;
		if (r->count > 0 && --r->count == 0)
			fs->live--;
		r->hits++;
		*f = r->f;
		log_info("fault %d applied: api=%s to=%s", r->f.id, api,
		    to ? to : "-");
		return 1;
	}
	return 0;
}
