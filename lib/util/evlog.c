/*
 * evlog — append-only event log keyed by big-endian sequence numbers, so
 * LMDB's default byte order is also numeric order and appends use MDB_APPEND.
 */
#include <string.h>

#include "evlog.h"

void
evlog_key(uint64_t seq, unsigned char k[8])
{
	int i;

	for (i = 7; i >= 0; i--) {
		k[i] = seq & 0xff;
		seq >>= 8;
	}
}

uint64_t
evlog_seq(const void *key)
{
	const unsigned char *k = key;
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | k[i];
	return v;
}

int
evlog_open(struct evlog *l, MDB_txn *txn, MDB_dbi dbi)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	memset(l, 0, sizeof(*l));
	l->dbi = dbi;
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return rc;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc == 0 && k.mv_size == 8)
		l->last = evlog_seq(k.mv_data);
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	l->committed = l->last;
	return 0;
}

int
evlog_append(struct evlog *l, MDB_txn *txn, const void *rec, size_t len,
    uint64_t *seq)
{
	unsigned char kb[8];
	MDB_val k = { 8, kb }, v = { len, (void *)rec };
	int rc;

	evlog_key(l->last + 1, kb);
	if ((rc = mdb_put(txn, l->dbi, &k, &v, MDB_APPEND)) != 0)
		return rc;
	*seq = ++l->last;
	return 0;
}

void
evlog_settle(struct evlog *l, int committed)
{
	if (committed)
		l->committed = l->last;
	else
		l->last = l->committed;
}

int
evlog_seek(MDB_cursor *cur, uint64_t from, uint64_t *seq, MDB_val *rec)
{
	unsigned char kb[8];
	MDB_val k = { 8, kb };
	int rc;

	evlog_key(from, kb);
	if ((rc = mdb_cursor_get(cur, &k, rec, MDB_SET_RANGE)) != 0)
		return rc;
	*seq = evlog_seq(k.mv_data);
	return 0;
}

int
evlog_next(MDB_cursor *cur, uint64_t *seq, MDB_val *rec)
{
	MDB_val k;
	int rc;

	if ((rc = mdb_cursor_get(cur, &k, rec, MDB_NEXT)) != 0)
		return rc;
	*seq = evlog_seq(k.mv_data);
	return 0;
}

int
evlog_get(struct evlog *l, MDB_txn *txn, uint64_t seq, MDB_val *rec)
{
	unsigned char kb[8];
	MDB_val k = { 8, kb };

	evlog_key(seq, kb);
	return mdb_get(txn, l->dbi, &k, rec);
}
