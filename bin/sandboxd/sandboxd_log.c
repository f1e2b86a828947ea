/*
 * sandboxd_log — the record of everything sandboxd received on a provider
 * API and every webhook it posted, served as JSON Lines by
 * GET /sandbox/received.
 *
 * Entries are serialised once, when recorded, and kept in a ring bounded by
 * count and bytes; the oldest go first.  Serials ("n") are consecutive, so
 * the entry for a given n is found by arithmetic, never by a scan: a reader
 * that polls with since=<last n + 1> costs only what it reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "rec.h"
#include "sandboxd.h"

struct sbx_entry {
	char		*line;		/* JSON, no newline */
	size_t		 len;
	char		 api[12];
	char		 kind[12];
};

struct sbx_log {
	struct sbx_entry *ring;
	size_t		  cap;		/* entries */
	size_t		  head;		/* index of the oldest */
	size_t		  count;
	size_t		  bytes, max_bytes;
	uint64_t	  next;		/* n of the next entry */
};

struct sbx_log *
sbx_log_new(size_t max_entries, size_t max_bytes)
{
	struct sbx_log *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	if ((l->ring = calloc(max_entries, sizeof(*l->ring))) == NULL) {
		free(l);
		return NULL;
	}
	l->cap = max_entries;
	l->max_bytes = max_bytes;
	l->next = 1;
	return l;
}

static void
drop_oldest(struct sbx_log *l)
{
	struct sbx_entry *e = &l->ring[l->head];

	l->bytes -= e->len;
	free(e->line);
	e->line = NULL;
	l->head = (l->head + 1) % l->cap;
	l->count--;
}

void
sbx_log_free(struct sbx_log *l)
{
	if (l == NULL)
		return;
	while (l->count > 0)
		drop_oldest(l);
	free(l->ring);
	free(l);
}

static void
copy_tag(char *dst, size_t sz, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= sz)
		n = sz - 1;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

uint64_t
sbx_log_add(struct sbx_log *l, const char *kind, const char *api,
    const char *fields, size_t flen)
{
	struct sbx_entry *e;
	char ts[32], head[160], *line = NULL;
	size_t len = 0;
	int hl;
	uint64_t n = l->next++;

	/* kind and api are our own short literals: no escaping needed. */
	rec_ts_format(daemon_now_ms(), ts);
	hl = snprintf(head, sizeof(head), "{\"n\":%llu,\"ts\":\"%s\",\"kind\":\"%s\"%s%s%s",
	    (unsigned long long)n, ts, kind, api ? ",\"api\":\"" : "",
	    api ? api : "", api ? "\"" : "");
	if (hl < 0 || (size_t)hl >= sizeof(head) ||
	    (line = malloc((size_t)hl + flen + 3)) == NULL) {
		/* Kept as an empty slot so serials stay consecutive. */
		log_warnx("received log: cannot record entry %llu",
		    (unsigned long long)n);
	} else {
		memcpy(line, head, (size_t)hl);
		len = (size_t)hl;
		if (flen > 0) {
			line[len++] = ',';
			memcpy(line + len, fields, flen);
			len += flen;
		}
		line[len++] = '}';
		line[len] = '\0';
	}
	while (l->count > 0 &&
	    (l->count == l->cap || l->bytes + len > l->max_bytes))
		drop_oldest(l);
	e = &l->ring[(l->head + l->count) % l->cap];
	e->line = line;
	e->len = len;
	copy_tag(e->api, sizeof(e->api), api);
	copy_tag(e->kind, sizeof(e->kind), kind);
	l->bytes += len;
	l->count++;
	return n;
}

void
sbx_log_jw(struct sbx_log *l, const char *kind, const char *api,
    struct sbx_jw *jw)
{
	sbx_log_add(l, kind, api, jw->oom ? "" : jw->buf,
	    jw->oom ? 0 : jw->len);
	sbx_jw_free(jw);
}

void
sbx_log_dump(struct sbx_log *l, uint64_t since, const char *api,
    const char *kind, size_t limit, struct evbuffer *out)
{
	uint64_t first = l->next - l->count;
	size_t i, sent = 0;
	struct sbx_entry *e;

	if (since < first)
		since = first;
	for (i = (size_t)(since - first); i < l->count; i++) {
		e = &l->ring[(l->head + i) % l->cap];
		if (e->line == NULL)
			continue;
		if (api != NULL && strcmp(api, e->api) != 0)
			continue;
		if (kind != NULL && strcmp(kind, e->kind) != 0)
			continue;
		if (evbuffer_add(out, e->line, e->len) == -1 ||
		    evbuffer_add(out, "\n", 1) == -1) {
			log_warnx("received log: out of memory answering a read");
			return;
		}
		if (limit > 0 && ++sent >= limit)
			return;
	}
}

uint64_t
sbx_log_clear(struct sbx_log *l)
{
	while (l->count > 0)
		drop_oldest(l);
	l->head = 0;
	return l->next;
}

size_t
sbx_log_count(const struct sbx_log *l)
{
	return l->count;
}

uint64_t
sbx_log_next(const struct sbx_log *l)
{
	return l->next;
}
