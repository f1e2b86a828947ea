/*
 * statsd — what statsd's modules share: the daemon's state and the calls
 * between its floors (statsd.c wires them; see statsd(8)).
 */
#ifndef STATSD_H
#define STATSD_H

#include <stdint.h>
#include <lmdb.h>

#include "bus.h"
#include "daemon.h"
#include "store.h"
#include "statsd_fold.h"
#include "statsd_view.h"

struct httpd;

struct statsd {
	struct daemon		 d;
	struct store		*st;
	MDB_dbi			 db_meta, db_roll;
	struct fold		*fold;
	struct view		 view;
	struct view_sys		 sys;
	struct bus_conn		*router;	/* routerd.sock, subscribed */
	struct bus_server	*srv;		/* statsd.sock */
	struct httpd		*http;
	int64_t			 clock_offset;	/* clock_offset_ms */
	int			 dirty;		/* folded since the last commit */
	long			 commit_ms;	/* statsd_commit_ms */
	char			 tz[64];	/* stats_timezone */
};
extern struct statsd	*S;

/* statsd.c */
/* Now by statsd's clock (the wall clock plus clock_offset_ms). */
int64_t	statsd_now(void);
/* Fold one event read from the log (live or replayed). */
void	statsd_fold_one(uint64_t seq, const msgpack_object *r);

/* statsd_camp.c: campaignd's configuration, read-only */
void	camp_cfg(void *arg, const char *campaign, struct fold_cfg *);
/* The Unix user behind uid: 2 admin, 1 supervisor, 0 agent or unknown. */
int	camp_role(uid_t uid);
/* campaignd's last commit id (0 before it can be read): roles may have
 * changed when it moves. */
size_t	camp_gen(void);

/* statsd_store.c: rollups and the cursor in db/statsd */
/* Load the saved fold state; 0 (also when there is none) or -1. */
int	store_state_load(struct fold *);
/* Write dirty rollups, the state and the cursor in the current batch. */
int	store_state_save(struct fold *, int64_t keep_hours);
/* roll_load for the fold. */
int	store_roll_load(void *arg, struct fold_roll *);
/* Empty both databases (a rebuild starts from nothing). */
int	store_wipe(void);
/* Print every stored record as JSON Lines (statsd -p); an exit code. */
int	store_print(FILE *);
/* Rows of a report (statsd.sock "report"): see msg-report(1). */
struct json_t;
struct json_t *store_report(int64_t from, int64_t to, const char *by,
	    const char *campaign, const char *agent, const char *channel,
	    const char *tz, char *err, size_t errsz);
/* Replay routerd's log from sequence 1 (read-only, straight from its
 * LMDB environment) into f; the events folded, or -1 with err. */
long long store_replay(struct fold *, uint64_t from, char *err, size_t errsz);

/* statsd_sock.c: stats.sock (JSON Lines) */
int	sock_listen(char *err, size_t errsz);
/* Send a batch of lines (changes, then sync) to every client. */
void	sock_broadcast(const char *, size_t);
unsigned sock_clients(void);
/* Close the subscriptions of users no longer supervisors or admins. */
void	sock_recheck(void);
void	sock_stop(void);

/* statsd_http.c: the wallboard, /events, /api/stats, /metrics */
int	http_start(char *err, size_t errsz);
/* The same batch as one server-sent event group with id. */
void	http_broadcast(uint64_t id, const char *, size_t);
unsigned http_clients(void);
/* statsd_http_users read again (SIGHUP); -1 with err, the old kept. */
int	http_reload(char *err, size_t errsz);
/* End the streams of peers no longer allowed. */
void	http_recheck(void);
void	http_stop(void);

/* statsd.c: lines gathered for one batch (a view_sink: each line and a
 * newline appended to a struct lines). */
struct lines {
	char	*b;
	size_t	 len, cap;
};
void	lines_add(const char *, size_t, void *);
/* A batch of other shards' lines out to /events clients. */
void	statsd_http_batch(const char *, size_t);

/* statsd_shards.c: the wallboard over shards (bus_transport = nats) */
/* Publish this shard's entities and follow the others' (named shard). */
void	shards_start(const char *shard);
int	shards_on(void);
/* This shard's batch of lines (changes, then sync) to the other shards. */
void	shards_publish(const char *, size_t);
/* Once a second: snapshots asked for, shards gone silent. */
void	shards_tick(void);
/* The other shards' entities: each line to sink (an /events snapshot). */
void	shards_lines(view_sink, void *);
/* ... and into /api/stats's "campaigns", "agents" and "waiting". */
void	shards_doc(struct json_t *doc);
void	shards_stop(void);

#endif
