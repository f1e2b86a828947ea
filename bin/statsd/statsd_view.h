/*
 * statsd_view — the figures as people see them: JSON Lines entities for
 * stats.sock, /api/stats, /events and msg(1), and Prometheus text for
 * /metrics, computed from the fold at a given "now".  Nothing here changes
 * the fold.
 *
 * An entity is one JSON object with "type": campaign, agent, waiting,
 * channel or system, keyed by its name (a waiting customer by "conv"); one
 * that went away is sent once more as {"type","key...","gone":true}.  A
 * batch ends with {"type":"sync","seq","ts"}.  view_batch sends only what
 * changed since the previous batch (the times that merely run on, such as
 * "longest_wait" and "on_hold", do not count as a change: clients add the
 * time passed since the sync's "ts").
 */
#ifndef STATSD_VIEW_H
#define STATSD_VIEW_H

#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "htab.h"
#include "statsd_fold.h"

/* What the daemon knows beside the fold (the "system" entity). */
struct view_sys {
	uint64_t	log_seq;	/* routerd's newest sequence seen */
	uint64_t	commits;	/* statsd's own */
	double		commit_ms;	/* its last commit */
	size_t		map_used, map_size;
	unsigned	subscribers;	/* stats.sock and /events clients */
	int		following;	/* subscribed to routerd now */
	double		rebuild_s;	/* the last rebuild, 0 if none */
	/* the channel daemons' addresses and their token state, as their
	 * chstatus answers say ([{channel, addr, active, reason?, since?}]);
	 * NULL when none answered */
	json_t		*tokens;
	/* bus_transport = nats: this shard's name, on every entity line
	 * ("shard"), so that a wallboard merging shards tells them apart;
	 * NULL on one host */
	const char	*shard;
};

struct view {
	struct htab	last;		/* entity key -> its last line */
};

typedef void (*view_sink)(const char *line, size_t len, void *arg);

void	view_init(struct view *);
void	view_free(struct view *);
/* Forget what was sent (no client is left): the next batch sends all. */
void	view_reset(struct view *);
/* Every entity, then sync (a new client's snapshot); the cache is untouched. */
void	view_snapshot(struct view *, struct fold *, const struct view_sys *,
	    int64_t now, view_sink, void *);
/* What changed since the last batch, then sync when anything was sent or
 * heartbeat is set; returns the lines sent (sync included). */
size_t	view_batch(struct view *, struct fold *, const struct view_sys *,
	    int64_t now, int heartbeat, view_sink, void *);
/* The entities as one JSON document {"ts","seq","campaigns":[..],
 * "agents":[..],"waiting":[..],"channels":[..],"system":{..}} (/api/stats). */
json_t	*view_doc(struct fold *, const struct view_sys *, int64_t now);
/* Prometheus text format 0.0.4 (metrics.md §5) into fp. */
void	view_metrics(struct fold *, const struct view_sys *, int64_t now,
	    FILE *fp);
/* An entity's key: "<type>|<name>" (a waiting customer by conv, a channel
 * "channel|<channel>|<addr>"), into buf. */
const char *view_key(json_t *, char *buf, size_t sz);
/* The line saying the entity of key went away, with "shard" when given. */
void	view_gone(const char *key, const char *shard, view_sink, void *);
/* Seconds with millisecond precision, as on the wire. */
json_t	*view_secs(int64_t ms);

#endif
