/*
 * store — one LMDB environment per stateful daemon, with group commit.
 *
 * All writes of one event-loop pass share one write transaction
 * (store_txn); a low-priority event commits it (fsync) once the pass's I/O
 * is done, and only then are the callbacks registered with store_after
 * called — the answers that waited on the commit.  A failed write aborts the
 * whole batch (store_fail): every waiter is told, nothing is half-applied.
 * The map grows by doubling up to its limit; past that, writes are refused
 * with a clear error (fail closed, never crash).
 */
#ifndef PARLEY_STORE_H
#define PARLEY_STORE_H

#include <stddef.h>
#include <event2/event.h>
#include <lmdb.h>

struct store;

struct store_db {
	const char	*name;
	unsigned	 flags;		/* MDB_DUPSORT etc.; MDB_CREATE is implied */
	MDB_dbi		*dbi;
};

#define STORE_BATCH_MAX	4096	/* requests per transaction, at most */
#define STORE_MODE	0600	/* data.mdb, lock.mdb; the directory 0700 */

/*
 * Open (creating) dir with the named databases (a NULL-name-terminated
 * array); runs mdb_reader_check.  dir is made 0700 and its files 0600,
 * tightened if an older install left them wider.  NULL with err on failure.
 */
struct store *store_open(struct event_base *, const char *dir,
	    size_t map_size, size_t map_max, const struct store_db *dbs,
	    char *err, size_t errsz);
void	store_close(struct store *);
MDB_env	*store_env(struct store *);

/*
 * The current batch's write transaction, begun if needed and its commit
 * scheduled for the end of this event-loop pass.  NULL when the store
 * refuses writes; store_error() says why.
 */
MDB_txn	*store_txn(struct store *);
const char *store_error(struct store *);
/*
 * Drop the map's pages from the process's resident set (the page cache
 * keeps them; they are read again on use): a long walk over a large
 * environment (campaignd's runs) keeps its RSS bounded this way.
 */
void	store_shed(struct store *);

typedef void (*store_done_cb)(void *arg, int committed);
/* Call cb after the current batch commits (1) or is abandoned (0). */
void	store_after(struct store *, store_done_cb, void *arg);
/* Abandon the current batch because of rc (logged with what). */
void	store_fail(struct store *, int rc, const char *what);
/* Grow the map before the next batch (a request's own transaction hit
 * MDB_MAP_FULL, or will need reserve more bytes, and will be tried again;
 * store_commit ends this batch), doubling until reserve bytes are free,
 * within store_map_max_mb. */
void	store_grow_next(struct store *, size_t reserve);
/* 1 when bytes more fit in the map as it is (or it cannot grow), else 0. */
int	store_room(struct store *, size_t bytes);
/* Commit the current batch now. */
void	store_commit(struct store *);
/* Called after every batch commits or is abandoned, before its store_after
 * callbacks (so derived marks such as the event log's are settled first). */
void	store_on_commit(struct store *, store_done_cb, void *arg);

/* A new map limit (SIGHUP with a changed store_map_max_mb): a store that
 * refused writes as full grows at the next batch when the limit allows. */
void	store_set_max(struct store *, size_t map_max);

/* A short read-only transaction (MDB_NOTLS); end it with mdb_txn_abort. */
int	store_rtxn(struct store *, MDB_txn **);

/*
 * Another daemon's environment, read-only (routerd and statsd read
 * campaignd's), found at sub below the home ($PARLEY_HOME) and opened on
 * first use with the named databases of dbs (their flags unused).  Until the owner has made it every call looks (a stat of
 * data.mdb: the owner makes it, with all its databases, before it answers
 * anyone, so the first read after that sees it); one that is there and
 * fails to open is tried again after 100 ms, said at most every 10 s.
 * Each transaction follows the owner's map growth.
 */
struct store_ro {
	const char		*what;	/* for the log */
	const char		*sub;	/* "db/campaignd" */
	const struct store_db	*dbs;
	MDB_env			*env;
	long long		 next_try, next_say;
	char			 dir[4096];	/* home/sub, made once */
};
/* Open the environment if it is not yet: 0, or -1 when it cannot be. */
int	store_ro_open(struct store_ro *, const char *home);
/* A read-only transaction on the environment, opened if need be; 0, or -1
 * when it cannot be read (yet).  End it with mdb_txn_abort. */
int	store_ro_txn(struct store_ro *, const char *home, MDB_txn **);
/* The id of the owner's last commit (0 while it cannot be read): a change
 * says something there changed. */
size_t	store_ro_gen(struct store_ro *, const char *home);

#endif
