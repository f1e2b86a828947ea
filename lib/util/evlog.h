/*
 * evlog — the event log: records appended under a 64-bit big-endian
 * sequence number in one LMDB database, read back from any sequence.  The
 * log is the truth; everything else is derived from it.
 */
#ifndef PARLEY_EVLOG_H
#define PARLEY_EVLOG_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

struct evlog {
	MDB_dbi		dbi;
	uint64_t	last;		/* last appended (maybe uncommitted) */
	uint64_t	committed;	/* last committed */
};

/* Find the last sequence in dbi; 0 or an mdb error. */
int	evlog_open(struct evlog *, MDB_txn *, MDB_dbi);
/* Append rec under the next sequence (returned in *seq); 0 or mdb error. */
int	evlog_append(struct evlog *, MDB_txn *, const void *rec, size_t len,
	    uint64_t *seq);
/* After the batch: committed (1) moves the mark, abandoned (0) rewinds. */
void	evlog_settle(struct evlog *, int committed);
void	evlog_key(uint64_t seq, unsigned char key[8]);
uint64_t evlog_seq(const void *key);
/*
 * Position cursor at the first event >= seq; 0 and (*seq,*rec) set, or
 * MDB_NOTFOUND.  Then evlog_next.
 */
int	evlog_seek(MDB_cursor *, uint64_t from, uint64_t *seq, MDB_val *rec);
int	evlog_next(MDB_cursor *, uint64_t *seq, MDB_val *rec);
/* The record at seq. */
int	evlog_get(struct evlog *, MDB_txn *, uint64_t seq, MDB_val *rec);

#endif
