/*
 * routerd_store — routerd's ground floor: its LMDB databases, the records
 * kept in them, the event-log append, and every key format.
 *
 * Every other module reads and writes routerd's environment through the
 * functions here, inside the group-commit batch (store_txn) or a short read
 * transaction (store_rtxn): conversations ("convs", and "convkey" to find
 * one by channel, our address and the customer's), messages ("msgs"), the
 * event log ("events", indexed per conversation in "convev"), the outbound
 * messages without a result ("pending"), provider ids, statuses seen, send
 * keys and what a message carries ("ids": "p:", "s:", "k:", "x:"), statuses
 * that came early ("orphan"), the campaign queues ("queue"), agents' state
 * ("agents"), consent ("consent") and the bot's answered marks ("bot":
 * "a:").  Nothing here knows a rule; it calls only lib/.
 *
 * The enums of routerd.h are strings in the records: converted here, and
 * nowhere else read back from a string.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "log.h"
#include "mp.h"
#include "ulid.h"
#include "route.h"
#include "provcode.h"
#include "routerd.h"

static struct {
	MDB_dbi	events, convs, convkey, convev, msgs, ids, pending, orphan,
		queue, agents, consent, bot;
} db;

/* The event being packed (rs_event), and a second buffer for the records
 * put beside it, so a caller may put a record while holding an event. */
static msgpack_sbuffer	evbuf, putbuf;
static msgpack_packer	evpk, putpk;

struct store *
rs_open(struct event_base *base, const char *dir, size_t map_size,
    size_t map_max, struct evlog *log, char *err, size_t errsz)
{
	struct store_db dbs[] = {
		{ "events", 0, &db.events },
		{ "convs", 0, &db.convs },
		{ "convkey", 0, &db.convkey },
		{ "convev", MDB_DUPSORT | MDB_DUPFIXED, &db.convev },
		{ "msgs", 0, &db.msgs },
		{ "ids", 0, &db.ids },
		{ "pending", 0, &db.pending },
		{ "orphan", MDB_DUPSORT, &db.orphan },
		{ "queue", 0, &db.queue },
		{ "agents", 0, &db.agents },
		{ "consent", 0, &db.consent },
		{ "bot", 0, &db.bot },
		{ NULL, 0, NULL },
	};
	struct store *st;
	MDB_txn *txn;
	int rc;

	msgpack_sbuffer_init(&evbuf);
	msgpack_sbuffer_init(&putbuf);
	msgpack_packer_init(&evpk, &evbuf, msgpack_sbuffer_write);
	msgpack_packer_init(&putpk, &putbuf, msgpack_sbuffer_write);
	if ((st = store_open(base, dir, map_size, map_max, dbs, err,
	    errsz)) == NULL)
		return NULL;
	if ((rc = store_rtxn(st, &txn)) != 0) {
		snprintf(err, errsz, "store: %s", mdb_strerror(rc));
		goto fail;
	}
	rc = evlog_open(log, txn, db.events);
	mdb_txn_abort(txn);
	if (rc != 0) {
		snprintf(err, errsz, "event log: %s", mdb_strerror(rc));
		goto fail;
	}
	return st;
fail:
	store_close(st);
	return NULL;
}

/* ------------------------------------------------------------- names */

static const char *const chan_names[CH_N] = { "sms", "whatsapp",
	"messenger", "instagram" };
static const char *const mode_names[] = { "agent", "bot" };
static const char *const state_names[] = { "new", "waiting", "offered",
	"assigned", "bot", "closed" };
static const char *const status_names[] = { "open", "closed" };

const char *
rs_chan_name(enum chan c)
{
	return (unsigned)c < CH_N ? chan_names[c] : "unknown";
}

int
rs_chan_parse(const char *s, enum chan *c)
{
	int i;

	for (i = 0; i < CH_N; i++)
		if (strcmp(s, chan_names[i]) == 0) {
			*c = (enum chan)i;
			return 0;
		}
	return -1;
}

const char *
rs_mode_name(enum cmode m)
{
	return m == CM_BOT ? mode_names[1] : mode_names[0];
}

int
rs_mode_parse(const char *s, enum cmode *m)
{
	if (strcmp(s, "agent") == 0)
		*m = CM_AGENT;
	else if (strcmp(s, "bot") == 0)
		*m = CM_BOT;
	else
		return -1;
	return 0;
}

const char *
rs_state_name(enum cstate s)
{
	return (unsigned)s <= CS_CLOSED ? state_names[s] : "new";
}

static enum cstate
state_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (strcmp(s, state_names[i]) == 0)
			return (enum cstate)i;
	return CS_NEW;
}

const char *
rs_status_name(enum cstatus s)
{
	return s == CV_CLOSED ? status_names[1] : status_names[0];
}

void
rs_preview(char *dst, size_t dstsz, const char *s, size_t n)
{
	if (n >= dstsz) {
		n = dstsz - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* ------------------------------------------------------- small helpers */

static int
get_str(MDB_txn *txn, MDB_dbi dbi, const char *key, char *out, size_t outsz)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc;

	if ((rc = mdb_get(txn, dbi, &k, &v)) != 0)
		return rc;
	if (v.mv_size >= outsz)
		return MDB_BAD_VALSIZE;
	memcpy(out, v.mv_data, v.mv_size);
	out[v.mv_size] = '\0';
	return 0;
}

static int
put_str(MDB_txn *txn, MDB_dbi dbi, const char *key, const char *val)
{
	MDB_val k = { strlen(key), (void *)key }, v = { strlen(val),
	    (void *)val };

	return mdb_put(txn, dbi, &k, &v, 0);
}

/* Delete key from dbi; a key not there is no error. */
static int
del_key(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t keylen)
{
	MDB_val k = { keylen, (void *)key };
	int rc;

	rc = mdb_del(txn, dbi, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Start a record to put (not an event) of nkeys entries. */
static msgpack_packer *
put_begin(uint32_t nkeys)
{
	putbuf.size = 0;
	msgpack_pack_map(&putpk, nkeys);
	return &putpk;
}

static int
put_rec(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t keylen)
{
	MDB_val k = { keylen, (void *)key }, v = { putbuf.size, putbuf.data };

	return mdb_put(txn, dbi, &k, &v, 0);
}

/* ---------------------------------------------------------- the log */

msgpack_packer *
rs_event(uint32_t nkeys)
{
	evbuf.size = 0;
	msgpack_pack_map(&evpk, nkeys);
	return &evpk;
}

int
rs_append(MDB_txn *txn, const char *conv, uint64_t *seqp)
{
	const char *why;
	uint64_t seq;
	unsigned char kb[8];
	MDB_val k = { strlen(conv), (void *)conv }, v = { 8, kb };
	int rc;

	/* a record that is not exactly one map is our bug, never stored */
	if (frame_prescan(evbuf.data, evbuf.size, &why) == -1)
		fatalx("record for %s is malformed: %s", conv, why);
	if ((rc = evlog_append(&R->log, txn, evbuf.data, evbuf.size,
	    &seq)) != 0)
		return rc;
	if (k.mv_size > 0) {
		evlog_key(seq, kb);
		if ((rc = mdb_put(txn, db.convev, &k, &v, 0)) != 0)
			return rc;
	}
	if (seqp)
		*seqp = seq;
	return 0;
}

int
rs_event_get(MDB_txn *txn, uint64_t seq, MDB_val *rec)
{
	return evlog_get(&R->log, txn, seq, rec);
}

/* ---------------------------------------------------- conversations */

int
rs_conv_decode(const MDB_val *v, struct conv *cv)
{
	msgpack_unpacked up;
	char s[16];
	size_t off = 0;
	int64_t n;
	int b;

	memset(cv, 0, sizeof(*cv));
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, v->mv_data, v->mv_size, &off) !=
	    MSGPACK_UNPACK_SUCCESS) {
		msgpack_unpacked_destroy(&up);
		return MDB_CORRUPTED;
	}
	/* a conversation on no channel we know is no record of ours */
	if (!mp_strcpy(&up.data, "channel", s, sizeof(s)) ||
	    rs_chan_parse(s, &cv->channel) == -1) {
		msgpack_unpacked_destroy(&up);
		return MDB_CORRUPTED;
	}
	mp_strcpy(&up.data, "conv", cv->id, sizeof(cv->id));
	mp_strcpy(&up.data, "addr", cv->addr, sizeof(cv->addr));
	mp_strcpy(&up.data, "contact", cv->contact, sizeof(cv->contact));
	mp_strcpy(&up.data, "campaign", cv->campaign, sizeof(cv->campaign));
	mp_strcpy(&up.data, "name", cv->name, sizeof(cv->name));
	if (mp_strcpy(&up.data, "status", s, sizeof(s)) &&
	    strcmp(s, "closed") == 0)
		cv->status = CV_CLOSED;
	mp_strcpy(&up.data, "last_dir", cv->last_dir, sizeof(cv->last_dir));
	mp_strcpy(&up.data, "last_text", cv->last_text, sizeof(cv->last_text));
	mp_strcpy(&up.data, "unrouted", cv->unrouted, sizeof(cv->unrouted));
	mp_int(&up.data, "opened_ts", &cv->opened_ts);
	mp_int(&up.data, "last_ts", &cv->last_ts);
	mp_int(&up.data, "waiting_since_ts", &cv->waiting_since);
	if (!mp_strcpy(&up.data, "mode", s, sizeof(s)) ||
	    rs_mode_parse(s, &cv->mode) == -1)
		cv->mode = CM_AGENT;
	cv->rstate = mp_strcpy(&up.data, "rstate", s, sizeof(s)) ?
	    state_parse(s) : CS_NEW;
	mp_strcpy(&up.data, "agent", cv->agent, sizeof(cv->agent));
	mp_strcpy(&up.data, "tags", cv->tags, sizeof(cv->tags));
	mp_strcpy(&up.data, "disposition", cv->disposition,
	    sizeof(cv->disposition));
	if (mp_int(&up.data, "priority", &n))
		cv->priority = (int)n;
	if (mp_bool(&up.data, "attention", &b))	/* stored as a bool */
		cv->attention = b != 0;
	else if (mp_int(&up.data, "attention", &n))
		cv->attention = n != 0;
	mp_int(&up.data, "queued_ts", &cv->queued_ts);
	mp_int(&up.data, "last_in_ts", &cv->last_in_ts);
	mp_int(&up.data, "ah_until", &cv->ah_until);
	mp_int(&up.data, "closed_ts", &cv->closed_ts);
	mp_int(&up.data, "answered_ts", &cv->answered_ts);
	mp_int(&up.data, "abandoned_ts", &cv->abandoned_ts);
	/* a record from before answered_ts: its entry is not logged */
	cv->entry_unlogged = cv->queued_ts != 0 &&
	    mp_get(&up.data, "answered_ts") == NULL;
	if (mp_bool(&up.data, "entry_unlogged", &b))
		cv->entry_unlogged = b != 0;
	msgpack_unpacked_destroy(&up);
	return 0;
}

int
rs_conv_get(MDB_txn *txn, const char *id, struct conv *cv)
{
	MDB_val k = { strlen(id), (void *)id }, v;
	int rc;

	memset(cv, 0, sizeof(*cv));
	if ((rc = mdb_get(txn, db.convs, &k, &v)) != 0)
		return rc;
	return rs_conv_decode(&v, cv);
}

/* A time not yet reached is nil, not the epoch. */
static void
kv_ts(msgpack_packer *pk, const char *key, int64_t ts)
{
	if (ts)
		mp_kv_int(pk, key, ts);
	else
		mp_kv_nil(pk, key);
}

int
rs_conv_put(MDB_txn *txn, const struct conv *cv)
{
	msgpack_packer *pk = put_begin(26 + (cv->entry_unlogged != 0));

	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "channel", rs_chan_name(cv->channel));
	mp_kv_str(pk, "addr", cv->addr);
	mp_kv_str(pk, "contact", cv->contact);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "name", cv->name[0] ? cv->name : NULL);
	mp_kv_str(pk, "status", rs_status_name(cv->status));
	mp_kv_int(pk, "opened_ts", cv->opened_ts);
	mp_kv_int(pk, "last_ts", cv->last_ts);
	mp_kv_str(pk, "last_dir", cv->last_dir);
	mp_kv_str(pk, "last_text", cv->last_text);
	mp_kv_str(pk, "unrouted", cv->unrouted[0] ? cv->unrouted : NULL);
	kv_ts(pk, "waiting_since_ts", cv->waiting_since);
	mp_kv_str(pk, "mode", rs_mode_name(cv->mode));
	mp_kv_str(pk, "rstate", rs_state_name(cv->rstate));
	mp_kv_str(pk, "agent", cv->agent[0] ? cv->agent : NULL);
	mp_kv_str(pk, "tags", cv->tags);
	mp_kv_str(pk, "disposition", cv->disposition[0] ? cv->disposition :
	    NULL);
	mp_kv_int(pk, "priority", cv->priority);
	mp_kv_bool(pk, "attention", cv->attention);
	kv_ts(pk, "queued_ts", cv->queued_ts);
	kv_ts(pk, "last_in_ts", cv->last_in_ts);
	mp_kv_int(pk, "ah_until", cv->ah_until);
	kv_ts(pk, "closed_ts", cv->closed_ts);
	kv_ts(pk, "answered_ts", cv->answered_ts);
	kv_ts(pk, "abandoned_ts", cv->abandoned_ts);
	if (cv->entry_unlogged)
		mp_kv_bool(pk, "entry_unlogged", 1);
	attn_note(cv);		/* the automatic attention's index */
	return put_rec(txn, db.convs, cv->id, strlen(cv->id));
}

/* "w:<conv>:<status>": the watermark a conversation's outbound messages
 * have reached (ms, decimal) */
static void
wm_key(char *key, size_t keysz, const char *conv, const char *status)
{
	snprintf(key, keysz, "w:%s:%s", conv, status);
}

/* "<channel>|<addr>|<contact>" -> conversation id */
static void
convkey(char *key, size_t keysz, enum chan ch, const char *addr,
    const char *contact)
{
	snprintf(key, keysz, "%s|%s|%s", rs_chan_name(ch), addr, contact);
}

#define CONVKEYLEN	(16 + 2 * R_ADDRLEN + 4)

int
rs_conv_find(MDB_txn *txn, enum chan ch, const char *addr,
    const char *contact, struct conv *cv)
{
	char key[CONVKEYLEN], id[R_IDLEN];
	int rc;

	convkey(key, sizeof(key), ch, addr, contact);
	if ((rc = get_str(txn, db.convkey, key, id, sizeof(id))) != 0)
		return rc;
	return rs_conv_get(txn, id, cv);
}

int
rs_conv_create(MDB_txn *txn, struct conv *cv, long long ts)
{
	char key[CONVKEYLEN];
	msgpack_packer *pk;
	int rc;

	ulid_make("c_", cv->id);
	convkey(key, sizeof(key), cv->channel, cv->addr, cv->contact);
	if ((rc = put_str(txn, db.convkey, key, cv->id)) != 0)
		return rc;
	pk = rs_event(8);
	mp_kv_str(pk, "type", "conv");
	mp_kv_str(pk, "conv", cv->id);
	mp_kv_str(pk, "campaign", cv->campaign);
	mp_kv_str(pk, "channel", rs_chan_name(cv->channel));
	mp_kv_str(pk, "contact", cv->contact);
	mp_kv_str(pk, "addr", cv->addr);
	mp_kv_str(pk, "status", rs_status_name(cv->status));
	mp_kv_int(pk, "ts", ts);
	if ((rc = rs_append(txn, cv->id, NULL)) != 0)
		return rc;
	return rs_conv_put(txn, cv);
}

int
rs_convs_walk(MDB_txn *txn, const char *after, rs_conv_cb cb, void *arg)
{
	MDB_cursor *cur;
	MDB_val k, v;
	char id[R_IDLEN];
	int rc;

	if ((rc = mdb_cursor_open(txn, db.convs, &cur)) != 0)
		return rc;
	k.mv_size = strlen(after);
	k.mv_data = (void *)after;
	rc = after[0] ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) :
	    mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	if (rc == 0 && after[0] && k.mv_size == strlen(after) &&
	    memcmp(k.mv_data, after, k.mv_size) == 0)
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size >= sizeof(id))
			continue;
		memcpy(id, k.mv_data, k.mv_size);
		id[k.mv_size] = '\0';
		if (cb(id, &v, arg) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Length of the common prefix of a (an) and b (bn). */
static size_t
common(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i;

	for (i = 0; i < an && i < bn && a[i] == b[i]; i++)
		;
	return i;
}

int
rs_conv_prefix(MDB_txn *txn, const char *prefix, char *id, size_t idsz)
{
	MDB_cursor *cur;
	MDB_val k, v;
	size_t pl = strlen(prefix);
	int rc;

	if (pl == 0)
		return MDB_NOTFOUND;
	if ((rc = mdb_cursor_open(txn, db.convs, &cur)) != 0)
		return rc;
	k.mv_size = pl;
	k.mv_data = (void *)prefix;
	if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) == 0 &&
	    (k.mv_size < pl || memcmp(k.mv_data, prefix, pl) != 0))
		rc = MDB_NOTFOUND;
	if (rc == 0 && k.mv_size >= idsz)
		rc = MDB_BAD_VALSIZE;
	if (rc == 0) {
		memcpy(id, k.mv_data, k.mv_size);
		id[k.mv_size] = '\0';
		/* unique only if the next one does not start so */
		if (k.mv_size != pl &&
		    mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0 &&
		    k.mv_size >= pl && memcmp(k.mv_data, prefix, pl) == 0)
			rc = MDB_KEYEXIST;
	}
	mdb_cursor_close(cur);
	return rc;
}

size_t
rs_conv_short(MDB_txn *txn, const char *id, size_t min)
{
	MDB_cursor *cur;
	MDB_val k, v;
	size_t n = min, c, il = strlen(id);

	if (mdb_cursor_open(txn, db.convs, &cur) != 0)
		return il;
	k.mv_size = il;
	k.mv_data = (void *)id;
	if (mdb_cursor_get(cur, &k, &v, MDB_SET_KEY) == 0) {
		if (mdb_cursor_get(cur, &k, &v, MDB_PREV) == 0 &&
		    (c = common(id, il, k.mv_data, k.mv_size) + 1) > n)
			n = c;
		k.mv_size = il;
		k.mv_data = (void *)id;
		if (mdb_cursor_get(cur, &k, &v, MDB_SET_KEY) == 0 &&
		    mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0 &&
		    (c = common(id, il, k.mv_data, k.mv_size) + 1) > n)
			n = c;
	}
	mdb_cursor_close(cur);
	return n < il ? n : il;
}

int
rs_convs_of(MDB_txn *txn, enum chan ch, const char *contact, size_t max,
    rs_id_cb cb, void *arg)
{
	char prefix[24], id[R_IDLEN];
	size_t pl, cl = strlen(contact), n = 0;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	pl = (size_t)snprintf(prefix, sizeof(prefix), "%s|", rs_chan_name(ch));
	if ((rc = mdb_cursor_open(txn, db.convkey, &cur)) != 0)
		return rc;
	k.mv_size = pl;
	k.mv_data = prefix;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 &&
	    n < max; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), n++) {
		if (k.mv_size < pl || memcmp(k.mv_data, prefix, pl) != 0)
			break;
		/* "<channel>|<addr>|<contact>" */
		if (k.mv_size < pl + cl + 1 || memcmp((char *)k.mv_data +
		    k.mv_size - cl, contact, cl) != 0 ||
		    ((char *)k.mv_data)[k.mv_size - cl - 1] != '|' ||
		    v.mv_size >= sizeof(id))
			continue;
		memcpy(id, v.mv_data, v.mv_size);
		id[v.mv_size] = '\0';
		if (cb(id, arg) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* "x:<msg>" */
static void
extras_key(char *key, size_t keysz, const char *msgid)
{
	snprintf(key, keysz, "x:%s", msgid);
}

/* A message the purged conversation holds: its record, pending entry and
 * extras. */
static int
purge_msg(MDB_txn *txn, const char *mid)
{
	char key[R_IDLEN + 40];
	int rc;

	if ((rc = del_key(txn, db.msgs, mid, strlen(mid))) != 0 ||
	    (rc = del_key(txn, db.pending, mid, strlen(mid))) != 0)
		return rc;
	extras_key(key, sizeof(key), mid);
	return del_key(txn, db.ids, key, strlen(key));
}

int
rs_conv_purge(MDB_txn *txn, const struct conv *cv, long *nev)
{
	MDB_cursor *cur;
	MDB_val k = { strlen(cv->id), (void *)cv->id }, v, ev, mk;
	char key[CONVKEYLEN];
	int rc;

	if ((rc = mdb_cursor_open(txn, db.convev, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		msgpack_unpacked up;
		size_t off = 0, idl;
		const char *id;

		ev.mv_size = 8;
		ev.mv_data = v.mv_data;
		if (mdb_get(txn, db.events, &ev, &mk) != 0)
			continue;
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, mk.mv_data, mk.mv_size, &off) ==
		    MSGPACK_UNPACK_SUCCESS && mp_str(&up.data, "id", &id,
		    &idl) && idl < 64) {
			char mid[64];

			/* copied: the deletes may move the record */
			memcpy(mid, id, idl);
			mid[idl] = '\0';
			rc = purge_msg(txn, mid);
		}
		msgpack_unpacked_destroy(&up);
		if (rc != 0)
			break;
		if ((rc = mdb_del(txn, db.events, &ev, NULL)) != 0 &&
		    rc != MDB_NOTFOUND)
			break;
		rc = 0;
		(*nev)++;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND && rc != 0)
		return rc;
	if ((rc = del_key(txn, db.convev, cv->id, strlen(cv->id))) != 0)
		return rc;
	k.mv_size = strlen(cv->id);
	k.mv_data = (void *)cv->id;
	if ((rc = mdb_del(txn, db.convs, &k, NULL)) != 0)
		return rc;
	convkey(key, sizeof(key), cv->channel, cv->addr, cv->contact);
	if ((rc = del_key(txn, db.convkey, key, strlen(key))) != 0)
		return rc;
	/* its watermarks */
	wm_key(key, sizeof(key), cv->id, "delivered");
	if ((rc = del_key(txn, db.ids, key, strlen(key))) != 0)
		return rc;
	wm_key(key, sizeof(key), cv->id, "read");
	return del_key(txn, db.ids, key, strlen(key));
}

int
rs_conv_rekey(MDB_txn *txn, struct conv *cv, const char *contact)
{
	char key[CONVKEYLEN], id[R_IDLEN];
	int rc;

	convkey(key, sizeof(key), cv->channel, cv->addr, contact);
	if ((rc = get_str(txn, db.convkey, key, id, sizeof(id))) == 0)
		return MDB_KEYEXIST;
	if (rc != MDB_NOTFOUND)
		return rc;
	if ((rc = put_str(txn, db.convkey, key, cv->id)) != 0)
		return rc;
	convkey(key, sizeof(key), cv->channel, cv->addr, cv->contact);
	if ((rc = del_key(txn, db.convkey, key, strlen(key))) != 0)
		return rc;
	snprintf(cv->contact, sizeof(cv->contact), "%s", contact);
	return rs_conv_put(txn, cv);
}

/* ------------------------------------------------------------ cursors */

int
rs_convev_open(MDB_txn *txn, const char *conv, struct rs_cursor *c)
{
	int rc;

	snprintf(c->conv, sizeof(c->conv), "%s", conv);
	if ((rc = mdb_cursor_open(txn, db.convev, &c->cur)) != 0)
		c->cur = NULL;
	return rc;
}

static int
convev_op(struct rs_cursor *c, MDB_val *v, MDB_cursor_op op, uint64_t *seq)
{
	MDB_val k = { strlen(c->conv), c->conv };
	int rc;

	if ((rc = mdb_cursor_get(c->cur, &k, v, op)) != 0)
		return rc;
	*seq = evlog_seq(v->mv_data);
	return 0;
}

int
rs_convev_from(struct rs_cursor *c, uint64_t from, uint64_t *seq)
{
	unsigned char kb[8];
	MDB_val v = { 8, kb };

	evlog_key(from, kb);
	return convev_op(c, &v, MDB_GET_BOTH_RANGE, seq);
}

int
rs_convev_next(struct rs_cursor *c, uint64_t *seq)
{
	MDB_val v;

	return convev_op(c, &v, MDB_NEXT_DUP, seq);
}

int
rs_convev_last(struct rs_cursor *c, uint64_t *seq)
{
	MDB_val v;
	int rc;

	if ((rc = convev_op(c, &v, MDB_SET_KEY, seq)) != 0)
		return rc;
	return convev_op(c, &v, MDB_LAST_DUP, seq);
}

int
rs_convev_prev(struct rs_cursor *c, uint64_t *seq)
{
	MDB_val v;

	return convev_op(c, &v, MDB_PREV_DUP, seq);
}

int
rs_events_open(MDB_txn *txn, struct rs_cursor *c)
{
	int rc;

	c->conv[0] = '\0';
	if ((rc = mdb_cursor_open(txn, db.events, &c->cur)) != 0)
		c->cur = NULL;
	return rc;
}

int
rs_events_from(struct rs_cursor *c, uint64_t from, uint64_t *seq,
    MDB_val *rec)
{
	return evlog_seek(c->cur, from, seq, rec);
}

int
rs_events_next(struct rs_cursor *c, uint64_t *seq, MDB_val *rec)
{
	return evlog_next(c->cur, seq, rec);
}

void
rs_cursor_close(struct rs_cursor *c)
{
	if (c->cur != NULL)
		mdb_cursor_close(c->cur);
	c->cur = NULL;
}

/* ----------------------------------------------------------- messages */

int
rs_mrec_put(MDB_txn *txn, const struct mrec *m)
{
	int u = rs_state_underway(m->state) && m->attempt > 0;
	msgpack_packer *pk = put_begin(9 + u + (u && m->next_ts > 0));

	mp_kv_str(pk, "conv", m->conv);
	mp_kv_str(pk, "dir", m->dir);
	mp_kv_str(pk, "channel", rs_chan_name(m->channel));
	mp_kv_str(pk, "from", m->from);
	mp_kv_str(pk, "to", m->to);
	mp_kv_str(pk, "state", m->state);
	mp_kv_str(pk, "pid", m->pid[0] ? m->pid : NULL);
	mp_kv_int(pk, "ts", m->ts);
	mp_kv_strn(pk, "text", m->text ? m->text : "", m->textlen);
	/* a send under way: its attempt, and when a retry is next */
	if (u)
		mp_kv_int(pk, "attempt", m->attempt);
	if (u && m->next_ts > 0)
		mp_kv_int(pk, "next_ts", m->next_ts);
	return put_rec(txn, db.msgs, m->id, strlen(m->id));
}

int
rs_mrec_get(MDB_txn *txn, const char *id, struct mrec *m)
{
	MDB_val k = { strlen(id), (void *)id }, v;
	msgpack_unpacked up;
	const char *t;
	char ch[16];
	size_t off = 0, tl;
	int64_t a;
	int rc;

	memset(m, 0, sizeof(*m));
	if ((rc = mdb_get(txn, db.msgs, &k, &v)) != 0)
		return rc;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) !=
	    MSGPACK_UNPACK_SUCCESS || !mp_strcpy(&up.data, "channel", ch,
	    sizeof(ch)) || rs_chan_parse(ch, &m->channel) == -1) {
		msgpack_unpacked_destroy(&up);
		return MDB_CORRUPTED;
	}
	snprintf(m->id, sizeof(m->id), "%s", id);
	mp_strcpy(&up.data, "conv", m->conv, sizeof(m->conv));
	mp_strcpy(&up.data, "dir", m->dir, sizeof(m->dir));
	mp_strcpy(&up.data, "from", m->from, sizeof(m->from));
	mp_strcpy(&up.data, "to", m->to, sizeof(m->to));
	mp_strcpy(&up.data, "state", m->state, sizeof(m->state));
	mp_strcpy(&up.data, "pid", m->pid, sizeof(m->pid));
	mp_int(&up.data, "ts", &m->ts);
	if (mp_int(&up.data, "attempt", &a) && a > 0 && a < INT32_MAX)
		m->attempt = (int)a;
	mp_int(&up.data, "next_ts", &m->next_ts);
	if (mp_str(&up.data, "text", &t, &tl)) {
		if ((m->text = malloc(tl + 1)) == NULL)
			fatalx("out of memory");
		memcpy(m->text, t, tl);
		m->text[tl] = '\0';
		m->textlen = tl;
	}
	msgpack_unpacked_destroy(&up);
	return 0;
}

void
rs_mrec_free(struct mrec *m)
{
	free(m->text);
	m->text = NULL;
}

/*
 * Final states never go back to earlier ones when callbacks arrive late.
 * pending and retrying are of one rank: a send under way, each taking the
 * other's place as attempts go, never a later state's.
 */
static int
state_rank(const char *s)
{
	static const struct {
		const char	*name;
		int		 rank;
	} order[] = { { "queued", 0 }, { "sending", 1 }, { "pending", 2 },
	    { "retrying", 2 }, { "sent", 3 }, { "failed", 4 },
	    { "undelivered", 5 }, { "delivered", 6 }, { "read", 7 },
	    { "unsent", 8 } };
	size_t i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (strcmp(s, order[i].name) == 0)
			return order[i].rank;
	return 0;
}

int
rs_state_underway(const char *state)
{
	return strcmp(state, "pending") == 0 || strcmp(state, "retrying") == 0;
}

static int mrec_event(MDB_txn *, struct mrec *, const char *status,
	    const char *pid, const char *code, const char *reason,
	    const msgpack_object *data, int attempt, int64_t next_ts,
	    long long ts);

int
rs_mrec_status(MDB_txn *txn, struct mrec *m, const char *status,
    const char *pid, const char *code, const char *reason,
    const msgpack_object *data, long long ts)
{
	return mrec_event(txn, m, status, pid, code, reason, data, 0, 0, ts);
}

int
rs_mrec_progress(MDB_txn *txn, struct mrec *m, const char *status,
    int attempt, int64_t next_ts, const char *code, const char *reason,
    long long ts)
{
	return mrec_event(txn, m, status, NULL, code, reason, NULL, attempt,
	    next_ts, ts);
}

static int
mrec_event(MDB_txn *txn, struct mrec *m, const char *status,
    const char *pid, const char *code, const char *reason,
    const msgpack_object *data, int attempt, int64_t next_ts, long long ts)
{
	struct conv cv;
	msgpack_packer *pk;
	const char *p = pid && *pid ? pid : m->pid, *why;
	int rc;

	if ((rc = rs_conv_get(txn, m->conv, &cv)) != 0)
		return rc;
	if (data != NULL && (data->type != MSGPACK_OBJECT_MAP ||
	    data->via.map.size == 0))
		data = NULL;
	/* the provider's code in words (lib/provcode), beside its own */
	why = code && *code ? provcode_text(rs_chan_name(m->channel), code) :
	    NULL;
	pk = rs_event(8 + (*p != '\0') + (code && *code) +
	    (reason && *reason) + (why != NULL) + (data != NULL) +
	    (attempt > 0) + (next_ts > 0));
	mp_kv_str(pk, "type", "status");
	mp_kv_str(pk, "conv", m->conv);
	mp_kv_str(pk, "id", m->id);
	mp_kv_str(pk, "campaign", cv.campaign);
	mp_kv_str(pk, "channel", rs_chan_name(m->channel));
	mp_kv_str(pk, "contact", cv.contact);
	mp_kv_str(pk, "status", status);
	if (*p != '\0')
		mp_kv_str(pk, "pid", p);
	if (code && *code)
		mp_kv_str(pk, "code", code);
	if (reason && *reason)
		mp_kv_str(pk, "reason", reason);
	if (why != NULL)
		mp_kv_str(pk, "why", why);
	if (data != NULL)
		mp_kv_obj(pk, "data", data);
	if (attempt > 0)
		mp_kv_int(pk, "attempt", attempt);
	if (next_ts > 0)
		mp_kv_int(pk, "next_ts", next_ts);
	mp_kv_int(pk, "ts", ts);
	if ((rc = rs_append(txn, m->conv, NULL)) != 0)
		return rc;
	if (pid && *pid)
		snprintf(m->pid, sizeof(m->pid), "%s", pid);
	if (state_rank(status) > state_rank(m->state) ||
	    (rs_state_underway(status) && rs_state_underway(m->state))) {
		snprintf(m->state, sizeof(m->state), "%s", status);
		m->attempt = attempt;
		m->next_ts = strcmp(status, "retrying") == 0 ? next_ts : 0;
	}
	return rs_mrec_put(txn, m);
}

/* ---------------------------------------------------------------- ids */

#define IDKEYLEN	200

/* "p:<channel>:<pid>", also the key of the orphan statuses */
static void
pid_key(char *key, size_t keysz, enum chan ch, const char *pid)
{
	snprintf(key, keysz, "p:%s:%s", rs_chan_name(ch), pid);
}

/* "s:<channel>:<pid>:<status>" */
static void
seen_key(char *key, size_t keysz, enum chan ch, const char *pid,
    const char *status)
{
	snprintf(key, keysz, "s:%s:%s:%s", rs_chan_name(ch), pid, status);
}

int
rs_pid_get(MDB_txn *txn, enum chan ch, const char *pid, char *msgid,
    size_t msgidsz)
{
	char key[IDKEYLEN];

	pid_key(key, sizeof(key), ch, pid);
	return get_str(txn, db.ids, key, msgid, msgidsz);
}

int
rs_pid_put(MDB_txn *txn, enum chan ch, const char *pid, const char *msgid)
{
	char key[IDKEYLEN];

	pid_key(key, sizeof(key), ch, pid);
	return put_str(txn, db.ids, key, msgid);
}

int
rs_seen_get(MDB_txn *txn, enum chan ch, const char *pid, const char *status,
    char *msgid, size_t msgidsz)
{
	char key[IDKEYLEN];

	seen_key(key, sizeof(key), ch, pid, status);
	return get_str(txn, db.ids, key, msgid, msgidsz);
}

int
rs_seen_put(MDB_txn *txn, enum chan ch, const char *pid, const char *status,
    const char *msgid)
{
	char key[IDKEYLEN];

	seen_key(key, sizeof(key), ch, pid, status);
	return put_str(txn, db.ids, key, msgid);
}

/* "e:<campaign>": routerd has moved the ended campaign's conversations */
int
rs_ended_get(MDB_txn *txn, const char *campaign)
{
	char key[IDKEYLEN], v[8];

	snprintf(key, sizeof(key), "e:%s", campaign);
	return get_str(txn, db.ids, key, v, sizeof(v));
}

int
rs_ended_put(MDB_txn *txn, const char *campaign)
{
	char key[IDKEYLEN];

	snprintf(key, sizeof(key), "e:%s", campaign);
	return put_str(txn, db.ids, key, "1");
}

int
rs_wm_get(MDB_txn *txn, const char *conv, const char *status,
    long long *upto)
{
	char key[R_IDLEN + 24], val[32];
	int rc;

	*upto = 0;
	wm_key(key, sizeof(key), conv, status);
	if ((rc = get_str(txn, db.ids, key, val, sizeof(val))) != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	*upto = strtoll(val, NULL, 10);
	return 0;
}

int
rs_wm_put(MDB_txn *txn, const char *conv, const char *status,
    long long upto)
{
	char key[R_IDLEN + 24], val[32];

	wm_key(key, sizeof(key), conv, status);
	snprintf(val, sizeof(val), "%lld", upto);
	return put_str(txn, db.ids, key, val);
}

void
rs_skey(char *out, size_t outsz, int own, uid_t uid, const char *key)
{
	if (own)
		snprintf(out, outsz, "k:%s", key);
	else
		snprintf(out, outsz, "k:u%u:%s", (unsigned)uid, key);
}

int
rs_skey_get(MDB_txn *txn, const char *skey, char *msgid, size_t msgidsz)
{
	return get_str(txn, db.ids, skey, msgid, msgidsz);
}

int
rs_skey_put(MDB_txn *txn, const char *skey, const char *msgid)
{
	return put_str(txn, db.ids, skey, msgid);
}

int
rs_extras_get(MDB_txn *txn, const char *msgid, MDB_val *v)
{
	char key[R_IDLEN + 8];
	MDB_val k;

	extras_key(key, sizeof(key), msgid);
	k.mv_size = strlen(key);
	k.mv_data = key;
	return mdb_get(txn, db.ids, &k, v);
}

int
rs_extras_put(MDB_txn *txn, const char *msgid, const void *data, size_t len)
{
	char key[R_IDLEN + 8];
	MDB_val k, v = { len, (void *)data };

	extras_key(key, sizeof(key), msgid);
	k.mv_size = strlen(key);
	k.mv_data = key;
	return mdb_put(txn, db.ids, &k, &v, 0);
}

/* ------------------------------------------------------------ pending */

int
rs_pending_put(MDB_txn *txn, const char *msgid)
{
	MDB_val k = { strlen(msgid), (void *)msgid }, v = { 0, (void *)"" };

	return mdb_put(txn, db.pending, &k, &v, 0);
}

int
rs_pending_has(MDB_txn *txn, const char *msgid)
{
	MDB_val k = { strlen(msgid), (void *)msgid }, v;

	return mdb_get(txn, db.pending, &k, &v);
}

int
rs_pending_del(MDB_txn *txn, const char *msgid)
{
	return del_key(txn, db.pending, msgid, strlen(msgid));
}

int
rs_pending_walk(MDB_txn *txn, rs_id_cb cb, void *arg)
{
	MDB_cursor *cur;
	MDB_val k, v;
	char id[R_IDLEN];
	int rc;

	if ((rc = mdb_cursor_open(txn, db.pending, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size >= sizeof(id))
			continue;
		memcpy(id, k.mv_data, k.mv_size);
		id[k.mv_size] = '\0';
		if (cb(id, arg) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ------------------------------------------------------------ orphans */

int
rs_orphan_put(MDB_txn *txn, enum chan ch, const char *pid,
    const char *status, const char *code, const char *reason,
    const msgpack_object *data, int64_t ts)
{
	char key[IDKEYLEN];
	msgpack_packer *pk;

	if (data != NULL && data->type != MSGPACK_OBJECT_MAP)
		data = NULL;
	pk = put_begin(4 + (data != NULL));
	mp_kv_str(pk, "status", status);
	mp_kv_str(pk, "code", code);
	mp_kv_str(pk, "reason", reason);
	if (data != NULL)
		mp_kv_obj(pk, "data", data);
	mp_kv_int(pk, "ts", ts);
	pid_key(key, sizeof(key), ch, pid);
	return put_rec(txn, db.orphan, key, strlen(key));
}

int
rs_orphan_walk(MDB_txn *txn, enum chan ch, const char *pid, rs_orphan_cb cb,
    void *arg)
{
	char key[IDKEYLEN];
	MDB_val k, v;
	MDB_cursor *cur;
	int rc, r2;

	pid_key(key, sizeof(key), ch, pid);
	k.mv_size = strlen(key);
	k.mv_data = key;
	if ((rc = mdb_cursor_open(txn, db.orphan, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		msgpack_unpacked up;
		size_t off = 0;
		char status[24] = "", code[32] = "", reason[256] = "";
		int64_t ts = 0;

		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) ==
		    MSGPACK_UNPACK_SUCCESS) {
			mp_strcpy(&up.data, "status", status, sizeof(status));
			mp_strcpy(&up.data, "code", code, sizeof(code));
			mp_strcpy(&up.data, "reason", reason, sizeof(reason));
			mp_int(&up.data, "ts", &ts);
		}
		if (status[0] == '\0') {
			msgpack_unpacked_destroy(&up);
			continue;
		}
		r2 = cb(status, code, reason, mp_get(&up.data, "data"), ts,
		    arg);
		msgpack_unpacked_destroy(&up);
		if (r2 != 0) {
			mdb_cursor_close(cur);
			return r2;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
rs_orphan_del(MDB_txn *txn, enum chan ch, const char *pid)
{
	char key[IDKEYLEN];

	pid_key(key, sizeof(key), ch, pid);
	return del_key(txn, db.orphan, key, strlen(key));
}

/* ---------------------------------------------------------------- bot */

void
rs_botkey(char *out, size_t outsz, const char *kind, const char *msgid)
{
	snprintf(out, outsz, "%s:%s", kind, msgid);
}

/* "a:<msg>" */
static void
answered_key(char *key, size_t keysz, const char *msgid)
{
	snprintf(key, keysz, "a:%s", msgid);
}

int
rs_answered_put(MDB_txn *txn, const char *msgid, const char *what)
{
	char key[R_IDLEN + 4];

	answered_key(key, sizeof(key), msgid);
	return put_str(txn, db.bot, key, what);
}

int
rs_answered(MDB_txn *txn, const char *msgid, char *reply, size_t replysz,
    int *rc)
{
	static const char *kinds[] = { "bot", "idk" };
	char key[RS_BOTKEYLEN], skey[RS_SKEYLEN];
	MDB_val k, v;
	size_t i, n;

	reply[0] = '\0';
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		rs_botkey(key, sizeof(key), kinds[i], msgid);
		rs_skey(skey, sizeof(skey), 1, 0, key);
		k.mv_size = strlen(skey);
		k.mv_data = skey;
		if ((*rc = mdb_get(txn, db.ids, &k, &v)) == 0) {
			n = v.mv_size < replysz ? v.mv_size : replysz - 1;
			memcpy(reply, v.mv_data, n);
			reply[n] = '\0';
			return 1;
		}
		if (*rc != MDB_NOTFOUND)
			return -1;
	}
	answered_key(key, sizeof(key), msgid);
	k.mv_size = strlen(key);
	k.mv_data = key;
	if ((*rc = mdb_get(txn, db.bot, &k, &v)) == 0)
		return 1;
	if (*rc != MDB_NOTFOUND)
		return -1;
	*rc = 0;
	return 0;
}

/* -------------------------------------------------------------- queue */

/* campaign, NUL, priority (4 bytes, higher first), queued_ts (8), id */
#define QKEYLEN		256
#define QKEY_FIXED	13

static size_t
qkey(const struct conv *cv, char *k, size_t ksz)
{
	size_t cl = strlen(cv->campaign), il = strlen(cv->id);
	uint32_t pr = 0x7fffffffu - (uint32_t)(cv->priority < 0 ? 0 :
	    cv->priority);
	uint64_t ts = (uint64_t)cv->queued_ts;
	int i;

	if (cl + 1 + 4 + 8 + il > ksz)
		return 0;
	memcpy(k, cv->campaign, cl);
	k[cl] = '\0';
	for (i = 0; i < 4; i++)
		k[cl + 1 + i] = (char)(pr >> (24 - 8 * i));
	for (i = 0; i < 8; i++)
		k[cl + 5 + i] = (char)(ts >> (56 - 8 * i));
	memcpy(k + cl + QKEY_FIXED, cv->id, il);
	return cl + QKEY_FIXED + il;
}

int
rs_queue_put(MDB_txn *txn, const struct conv *cv)
{
	char k[QKEYLEN];
	MDB_val key, v = { 0, (void *)"" };

	if ((key.mv_size = qkey(cv, k, sizeof(k))) == 0)
		return MDB_BAD_VALSIZE;
	key.mv_data = k;
	return mdb_put(txn, db.queue, &key, &v, 0);
}

int
rs_queue_del(MDB_txn *txn, const struct conv *cv)
{
	char k[QKEYLEN];
	size_t n;

	if ((n = qkey(cv, k, sizeof(k))) == 0)
		return 0;
	return del_key(txn, db.queue, k, n);
}

int
rs_queue_walk(MDB_txn *txn, rs_queue_cb cb, void *arg)
{
	MDB_cursor *cur;
	MDB_val k, v;
	char campaign[64], conv[R_IDLEN], past[65];
	MDB_cursor_op op = MDB_NEXT;
	int rc, r;

	if ((rc = mdb_cursor_open(txn, db.queue, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, op)) {
		const char *key = k.mv_data;
		size_t cl = strnlen(key, k.mv_size), il;

		op = MDB_NEXT;
		if (cl >= sizeof(campaign) || k.mv_size < cl + QKEY_FIXED)
			continue;
		il = k.mv_size - cl - QKEY_FIXED;
		if (il >= sizeof(conv))
			continue;
		memcpy(campaign, key, cl);
		campaign[cl] = '\0';
		memcpy(conv, key + cl + QKEY_FIXED, il);
		conv[il] = '\0';
		if ((r = cb(campaign, conv, arg)) == RS_QUEUE_SKIP) {
			/* keys are "<campaign>\0...": the first key past
			 * them is at or after "<campaign>\1" */
			memcpy(past, campaign, cl);
			past[cl] = '\1';
			k.mv_data = past;
			k.mv_size = cl + 1;
			op = MDB_SET_RANGE;
		} else if (r != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ------------------------------------------------------------- agents */

int
rs_agent_put(MDB_txn *txn, const struct agent *a)
{
	msgpack_packer *pk = put_begin(7);

	mp_kv_str(pk, "status", a->status);
	mp_kv_str(pk, "kind", route_status_name(a->kind));
	mp_kv_str(pk, "reason", a->reason);
	mp_kv_int(pk, "since_ts", a->since);
	mp_kv_int(pk, "last_ts", a->last_ts);
	mp_kv_int(pk, "wrapup_until", a->wrapup_until);
	mp_kv_int(pk, "taken", a->taken);
	return put_rec(txn, db.agents, a->name, strlen(a->name));
}

int
rs_agents_walk(MDB_txn *txn, rs_agent_cb cb, void *arg)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, db.agents, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		msgpack_unpacked up;
		size_t off = 0;
		char kind[16] = "";
		struct agent a;
		int64_t iv;

		if (k.mv_size >= sizeof(a.name))
			continue;
		memset(&a, 0, sizeof(a));
		memcpy(a.name, k.mv_data, k.mv_size);
		a.name[k.mv_size] = '\0';
		snprintf(a.status, sizeof(a.status), "offline");
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) ==
		    MSGPACK_UNPACK_SUCCESS) {
			mp_strcpy(&up.data, "status", a.status,
			    sizeof(a.status));
			mp_strcpy(&up.data, "kind", kind, sizeof(kind));
			mp_strcpy(&up.data, "reason", a.reason,
			    sizeof(a.reason));
			mp_int(&up.data, "since_ts", &a.since);
			mp_int(&up.data, "last_ts", &a.last_ts);
			mp_int(&up.data, "wrapup_until", &a.wrapup_until);
			if (mp_int(&up.data, "taken", &iv))
				a.taken = (int)iv;
		}
		msgpack_unpacked_destroy(&up);
		a.kind = route_status_parse(kind) ? route_status_parse(kind) :
		    ROUTE_OFFLINE;
		cb(&a, arg);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ------------------------------------------------------------ consent */

/* "<channel>:<contact>", the contact as consent_norm makes it */
static void
consent_key(char *key, size_t keysz, enum chan ch, const char *contact)
{
	snprintf(key, keysz, "%s:%s", rs_chan_name(ch), contact);
}

int
rs_consent_get(MDB_txn *txn, enum chan ch, const char *contact,
    struct consent *c)
{
	char key[16 + R_ADDRLEN + 2];
	MDB_val k, v;
	msgpack_unpacked up;
	size_t off = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	consent_key(key, sizeof(key), ch, contact);
	k.mv_size = strlen(key);
	k.mv_data = key;
	if ((rc = mdb_get(txn, db.consent, &k, &v)) != 0)
		return rc;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) !=
	    MSGPACK_UNPACK_SUCCESS) {
		msgpack_unpacked_destroy(&up);
		return MDB_CORRUPTED;
	}
	mp_bool(&up.data, "optout", &c->optout);
	mp_int(&up.data, "ts", &c->ts);
	mp_strcpy(&up.data, "keyword", c->keyword, sizeof(c->keyword));
	mp_strcpy(&up.data, "by", c->by, sizeof(c->by));
	msgpack_unpacked_destroy(&up);
	return 0;
}

int
rs_consent_put(MDB_txn *txn, enum chan ch, const char *contact, int optout,
    const char *keyword, const char *by, const char *reason, long long ts)
{
	char key[16 + R_ADDRLEN + 2];
	msgpack_packer *pk = put_begin(5);

	mp_kv_bool(pk, "optout", optout);
	mp_kv_int(pk, "ts", ts);
	mp_kv_str(pk, "keyword", keyword && *keyword ? keyword : NULL);
	mp_kv_str(pk, "by", by);
	mp_kv_str(pk, "reason", reason && *reason ? reason : NULL);
	consent_key(key, sizeof(key), ch, contact);
	return put_rec(txn, db.consent, key, strlen(key));
}
