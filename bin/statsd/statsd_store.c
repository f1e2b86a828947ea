/*
 * statsd_store — statsd's LMDB environment (db/statsd) and its reading of
 * routerd's.
 *
 * Two databases: "roll" holds the hourly rollups, one record per UTC hour
 * and dimension ("HOUR|q|campaign|channel" and "HOUR|a|agent|campaign",
 * the hour zero-padded so keys sort in time order), and "meta" holds
 * "state", the fold's live state with its cursor (the last sequence
 * folded), and beside it one record for each open conversation
 * ("conv/ID") and each outbound message with no status yet ("pend/ID"),
 * written only when they change: a commit costs what changed since the
 * last one, not what is open.  All are written in one transaction, so a restart resumes
 * exactly after the last event whose effects were committed: nothing is
 * counted twice, nothing skipped.
 *
 * A replay (statsd -r, a rebuild) reads routerd's "events" database
 * straight from its environment, read-only, renewing the read transaction
 * every REPLAY_TXN_EVENTS events so that routerd's writer never waits on
 * a long reader.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include <jansson.h>

#include "evlog.h"
#include "log.h"
#include "mp.h"
#include "rec.h"
#include "statsd.h"

#define REPLAY_TXN_EVENTS	100000
#define REPLAY_FLUSH_EVENTS	1000000
#define REPORT_ROWS_MAX		2000
#define REPORT_WAITS_MAX	10000

static void
put_roll(const char *key, const void *val, size_t len, void *arg)
{
	MDB_txn *txn = arg;
	MDB_val k = { strlen(key), (void *)key }, v = { len, (void *)val };
	int rc;

	if (txn && (rc = mdb_put(txn, S->db_roll, &k, &v, 0)) != 0)
		store_fail(S->st, rc, "writing a rollup");
}

/* "conv/ID" and "pend/ID" in meta: an open conversation, a pending
 * outbound message, one record each */
static int
set_key(char *buf, size_t sz, char kind, const char *id)
{
	int n = snprintf(buf, sz, "%s/%s", kind == 'c' ? "conv" : "pend", id);

	return n > 0 && (size_t)n < sz ? n : -1;
}

static void
put_set(char kind, const char *id, const void *val, size_t len, void *arg)
{
	MDB_txn *txn = arg;
	char key[96];
	MDB_val k, v = { len, (void *)val };
	int n, rc;

	if ((n = set_key(key, sizeof(key), kind, id)) == -1)
		return;
	k.mv_size = (size_t)n;
	k.mv_data = key;
	if (val != NULL)
		rc = mdb_put(txn, S->db_meta, &k, &v, 0);
	else if ((rc = mdb_del(txn, S->db_meta, &k, NULL)) == MDB_NOTFOUND)
		rc = 0;		/* opened and dropped between two commits */
	if (rc != 0)
		store_fail(S->st, rc, kind == 'c' ? "writing a conversation" :
		    "writing a pending message");
}

int
store_state_save(struct fold *f, int64_t keep_hours)
{
	MDB_txn *txn;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	MDB_val k = { 5, (void *)"state" }, v;
	int rc;

	(void)keep_hours;
	if ((txn = store_txn(S->st)) == NULL)
		return -1;
	fold_flush(f, put_roll, txn, -1);
	fold_flush_sets(f, put_set, txn);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	fold_save_base(f, &pk);
	v.mv_size = sb.size;
	v.mv_data = sb.data;
	rc = mdb_put(txn, S->db_meta, &k, &v, 0);
	msgpack_sbuffer_destroy(&sb);
	if (rc != 0) {
		store_fail(S->st, rc, "writing the state");
		return -1;
	}
	return 0;
}

static uint32_t
set_count(const msgpack_object *state, const char *key)
{
	const msgpack_object *a = mp_get(state, key);

	return a && a->type == MSGPACK_OBJECT_ARRAY ? a->via.array.size : 0;
}

/* The records of one kind ("conv/", "pend/") into f; -1 if one is bad. */
static int
load_sets(MDB_txn *txn, struct fold *f, char kind)
{
	MDB_cursor *cur;
	MDB_val k, v;
	msgpack_unpacked up;
	char pfx[8];
	size_t pl, off;
	int rc, ret = 0;

	pl = (size_t)set_key(pfx, sizeof(pfx), kind, "");
	if (mdb_cursor_open(txn, S->db_meta, &cur) != 0)
		return -1;
	msgpack_unpacked_init(&up);
	k.mv_size = pl;
	k.mv_data = pfx;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 &&
	    k.mv_size > pl && memcmp(k.mv_data, pfx, pl) == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		off = 0;
		if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) !=
		    MSGPACK_UNPACK_SUCCESS ||
		    fold_load_set(f, kind, &up.data) == -1) {
			log_warnx("statsd state: the record %.*s is unreadable",
			    (int)k.mv_size, (char *)k.mv_data);
			ret = -1;
			break;
		}
	}
	if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
		ret = -1;
	msgpack_unpacked_destroy(&up);
	mdb_cursor_close(cur);
	return ret;
}

int
store_state_load(struct fold *f)
{
	MDB_txn *txn;
	MDB_val k = { 5, (void *)"state" }, v;
	msgpack_unpacked up;
	size_t off = 0;
	int rc, ret = 0, old = 0;

	if (store_rtxn(S->st, &txn) != 0)
		return -1;
	rc = mdb_get(txn, S->db_meta, &k, &v);
	if (rc == 0) {
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) !=
		    MSGPACK_UNPACK_SUCCESS || fold_load(f, &up.data) == -1)
			ret = -1;
		else
			old = set_count(&up.data, "convs") > 0 ||
			    set_count(&up.data, "pend") > 0;
		msgpack_unpacked_destroy(&up);
	} else if (rc != MDB_NOTFOUND)
		ret = -1;
	if (ret == 0 && (load_sets(txn, f, 'c') == -1 ||
	    load_sets(txn, f, 'p') == -1))
		ret = -1;
	mdb_txn_abort(txn);
	/* a state saved whole (before the records) is written as records at
	 * the next commit; otherwise what is loaded is what is on disk */
	if (ret == 0 && !old)
		fold_sets_clean(f);
	return ret;
}

int
store_roll_load(void *arg, struct fold_roll *r)
{
	MDB_txn *txn;
	MDB_val k = { strlen(r->key), r->key }, v;
	msgpack_unpacked up;
	size_t off = 0;
	int found = 0;

	(void)arg;
	if (store_rtxn(S->st, &txn) != 0)
		return 0;
	if (mdb_get(txn, S->db_roll, &k, &v) == 0) {
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) ==
		    MSGPACK_UNPACK_SUCCESS && fold_roll_unpack(r, &up.data) == 0)
			found = 1;
		msgpack_unpacked_destroy(&up);
	}
	mdb_txn_abort(txn);
	return found;
}

int
store_wipe(void)
{
	MDB_txn *txn;
	int rc;

	if ((txn = store_txn(S->st)) == NULL)
		return -1;
	if ((rc = mdb_drop(txn, S->db_roll, 0)) != 0 ||
	    (rc = mdb_drop(txn, S->db_meta, 0)) != 0) {
		store_fail(S->st, rc, "emptying the rollups");
		return -1;
	}
	store_commit(S->st);
	return 0;
}

/* JSON for a stored value (msgpack), times left as integers. */
static json_t *
val_json(const MDB_val *v)
{
	msgpack_unpacked up;
	size_t off = 0;
	json_t *j = NULL;

	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, v->mv_data, v->mv_size, &off) ==
	    MSGPACK_UNPACK_SUCCESS)
		j = rec_to_json(&up.data);
	msgpack_unpacked_destroy(&up);
	return j;
}

/* Sort a state's arrays of objects by their first string, so that two
 * folds of the same events print the same (hash order differs). */
static int
by_first(const void *a, const void *b)
{
	char *x = json_dumps(*(json_t *const *)a, JSON_COMPACT | JSON_SORT_KEYS);
	char *y = json_dumps(*(json_t *const *)b, JSON_COMPACT | JSON_SORT_KEYS);
	int c = strcmp(x ? x : "", y ? y : "");

	free(x);
	free(y);
	return c;
}

static void
canon(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i, n;
	json_t **a;

	if (json_is_object(j)) {
		json_object_foreach(j, k, v)
			canon(v);
	} else if (json_is_array(j)) {
		n = json_array_size(j);
		for (i = 0; i < n; i++)
			canon(json_array_get(j, i));
		if (n < 2 || !(json_is_object(json_array_get(j, 0)) ||
		    json_is_array(json_array_get(j, 0))))
			return;
		if ((a = calloc(n, sizeof(*a))) == NULL)
			return;
		for (i = 0; i < n; i++)
			a[i] = json_incref(json_array_get(j, i));
		qsort(a, n, sizeof(*a), by_first);
		json_array_clear(j);
		for (i = 0; i < n; i++)
			json_array_append_new(j, a[i]);
		free(a);
	}
}

int
store_print(FILE *fp)
{
	json_t *sets[2];
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	json_t *j;
	char *s;
	int rc;

	if (store_rtxn(S->st, &txn) != 0)
		return 1;
	if ((sets[0] = json_array()) == NULL ||
	    (sets[1] = json_array()) == NULL)
		fatalx("out of memory");
	if (mdb_cursor_open(txn, S->db_meta, &cur) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if ((j = val_json(&v)) == NULL)
				continue;
			/* the records of the open conversations and pending
			 * messages ("conv/", "pend/": before "state" in key
			 * order) print inside the state, as when it held them */
			if (k.mv_size > 5 && (memcmp(k.mv_data, "conv/", 5) ==
			    0 || memcmp(k.mv_data, "pend/", 5) == 0)) {
				json_array_append_new(sets[*(char *)k.mv_data ==
				    'c' ? 0 : 1], j);
				continue;
			}
			if (k.mv_size == 5 && memcmp(k.mv_data, "state", 5) ==
			    0 && json_is_object(j)) {
				json_array_extend(json_object_get(j, "convs"),
				    sets[0]);
				json_array_extend(json_object_get(j, "pend"),
				    sets[1]);
			}
			/* the time of the last tick is the one thing a live
			 * fold and a replay need not share */
			json_object_del(j, "now");
			canon(j);
			s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
			fprintf(fp, "{\"meta\":\"%.*s\",\"v\":%s}\n",
			    (int)k.mv_size, (char *)k.mv_data, s ? s : "null");
			free(s);
			json_decref(j);
		}
		mdb_cursor_close(cur);
	}
	json_decref(sets[0]);
	json_decref(sets[1]);
	if (mdb_cursor_open(txn, S->db_roll, &cur) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if ((j = val_json(&v)) == NULL)
				continue;
			s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
			fprintf(fp, "{\"roll\":\"%.*s\",\"v\":%s}\n",
			    (int)k.mv_size, (char *)k.mv_data, s ? s : "null");
			free(s);
			json_decref(j);
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	return fflush(fp) == 0 ? 0 : 1;
}

/* replay */

static MDB_env *
router_env(MDB_dbi *dbi, char *err, size_t errsz)
{
	char dir[4096], file[4200];
	struct stat st;
	MDB_env *env = NULL;
	MDB_txn *txn;
	int rc;

	daemon_path(&S->d, "db/routerd", dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	if (stat(file, &st) == -1) {
		snprintf(err, errsz, "%s: no event log yet", dir);
		return NULL;
	}
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, 32)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, (size_t)st.st_size)) != 0 ||
	    (rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS,
	    STORE_MODE)) != 0)
		goto fail;
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, "events", 0, dbi)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	return env;
fail:
	snprintf(err, errsz, "%s: %s", dir, mdb_strerror(rc));
	if (env)
		mdb_env_close(env);
	return NULL;
}

long long
store_replay(struct fold *f, uint64_t from, char *err, size_t errsz)
{
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val rec;
	msgpack_unpacked up;
	uint64_t seq, next = from;
	long long n = 0, batch;
	int rc;

	if ((env = router_env(&dbi, err, errsz)) == NULL)
		return -1;
	msgpack_unpacked_init(&up);
	for (;;) {
		if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 ||
		    (rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
			snprintf(err, errsz, "reading the event log: %s",
			    mdb_strerror(rc));
			n = -1;
			break;
		}
		batch = 0;
		for (rc = evlog_seek(cur, next, &seq, &rec);
		    rc == 0 && batch < REPLAY_TXN_EVENTS;
		    rc = evlog_next(cur, &seq, &rec), batch++) {
			size_t off = 0;

			if (msgpack_unpack_next(&up, rec.mv_data, rec.mv_size,
			    &off) == MSGPACK_UNPACK_SUCCESS)
				fold_event(f, seq, &up.data);
			next = seq + 1;
			n++;
			if (n % REPLAY_FLUSH_EVENTS == 0) {
				/* bound memory: hours long past go to disk */
				if (store_state_save(f, -1) == 0)
					store_commit(S->st);
				fold_flush(f, NULL, NULL, 48);
			}
		}
		mdb_cursor_close(cur);
		mdb_txn_abort(txn);
		if (rc != 0)
			break;		/* the end of the log */
		if (n % REPLAY_FLUSH_EVENTS < REPLAY_TXN_EVENTS) {
			/* pages of the log read so far count in our resident
			 * size while mapped: map it afresh now and then */
			mdb_env_close(env);
			if ((env = router_env(&dbi, err, errsz)) == NULL) {
				n = -1;
				break;
			}
		}
	}
	msgpack_unpacked_destroy(&up);
	if (env)
		mdb_env_close(env);
	return n;
}

/* reports */

struct row {
	char	 key[160];
	int	 kind;
	int64_t	 v[FOLD_NV];
	struct fold_samples wait, resp;
	int64_t	 first, last;
};

static double
pct(int64_t a, int64_t b)
{
	return b > 0 ? round(10000.0 * (double)a / (double)b) / 100.0 : 0;
}

static json_t *
secs(int64_t ms)
{
	return json_real((double)ms / 1000.0);
}

static json_t *
row_json(const char *by, struct row *r)
{
	json_t *o = json_object();
	int64_t med;
	int approx;

	json_object_set_new(o, by, json_string(r->key));
	if (r->kind == 'q') {
		int64_t ans = r->v[R_ANSWERED], ab = r->v[R_ABANDONED];

		json_object_set_new(o, "offered", json_integer(r->v[R_OFFERED]));
		json_object_set_new(o, "answered", json_integer(ans));
		json_object_set_new(o, "abandoned", json_integer(ab));
		json_object_set_new(o, "sl", json_real(pct(r->v[R_ANS_SL], ans)));
		json_object_set_new(o, "sl2", json_real(pct(r->v[R_ANS_SL] +
		    r->v[R_ABN_SL], ans + ab)));
		json_object_set_new(o, "dropout_rate",
		    json_real(pct(ab, r->v[R_OFFERED])));
		json_object_set_new(o, "avg_wait", ans ?
		    secs(r->v[R_WAIT_SUM] / ans) : json_real(0));
		json_object_set_new(o, "max_wait", secs(r->v[R_WAIT_MAX]));
		med = fold_samples_median(&r->wait, &approx);
		json_object_set_new(o, "median_wait", secs(med < 0 ? 0 : med));
		json_object_set_new(o, "handled", json_integer(r->v[R_HANDLED]));
		json_object_set_new(o, "contact_messages",
		    json_integer(r->v[R_CONTACT_MSGS]));
		json_object_set_new(o, "agent_responses",
		    json_integer(r->v[R_AGENT_MSGS]));
		json_object_set_new(o, "bot_responses",
		    json_integer(r->v[R_BOT_MSGS]));
		json_object_set_new(o, "sent", json_integer(r->v[R_SENT]));
		json_object_set_new(o, "delivered",
		    json_integer(r->v[R_DELIVERED]));
		json_object_set_new(o, "read", json_integer(r->v[R_READ]));
		json_object_set_new(o, "failed", json_integer(r->v[R_FAILED]));
		json_object_set_new(o, "responded",
		    json_integer(r->v[R_RESPONDED]));
		json_object_set_new(o, "opted_out",
		    json_integer(r->v[R_OPTED_OUT]));
		json_object_set_new(o, "engagement_rate",
		    json_real(pct(r->v[R_RESPONDED], r->v[R_SENT])));
		med = fold_samples_median(&r->resp, &approx);
		json_object_set_new(o, "median_agent_response",
		    secs(med < 0 ? 0 : med));
	} else {
		json_object_set_new(o, "replies",
		    json_integer(r->v[A_REPLIES]));
		json_object_set_new(o, "avg_response", r->v[A_RESP_N] ?
		    secs(r->v[A_RESP_SUM] / r->v[A_RESP_N]) : json_real(0));
		med = fold_samples_median(&r->resp, &approx);
		json_object_set_new(o, "median_response",
		    secs(med < 0 ? 0 : med));
		json_object_set_new(o, "completed",
		    json_integer(r->v[A_COMPLETED]));
		json_object_set_new(o, "assigned",
		    json_integer(r->v[A_ASSIGNED]));
		json_object_set_new(o, "available_time",
		    secs(r->v[A_AVAIL_MS]));
		json_object_set_new(o, "break_time", secs(r->v[A_BREAK_MS]));
		json_object_set_new(o, "busy_time", secs(r->v[A_BUSY_MS]));
	}
	if (approx)
		json_object_set_new(o, "median_approx", json_true());
	return o;
}

/* Split "HOUR|k|a|b" in place. */
static int
split_key(char *key, int64_t *hour, char *kind, char **a, char **b)
{
	char *p = strchr(key, '|'), *q;

	if (p == NULL || p[1] == '\0' || p[2] != '|')
		return -1;
	*p = '\0';
	*hour = strtoll(key, NULL, 10);
	*kind = p[1];
	*a = p + 3;
	if ((q = strchr(*a, '|')) == NULL)
		return -1;
	*q = '\0';
	*b = q + 1;
	return 0;
}

json_t *
store_report(int64_t from, int64_t to, const char *by, const char *campaign,
    const char *agent, const char *channel, const char *tz, char *err,
    size_t errsz)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	char start[16], key[256];
	struct row *rows = NULL;
	size_t nrows = 0, i, nwaits = 0;
	int rc, akind = strcmp(by, "agent") == 0, truncated = 0;
	int64_t first = 0, last = 0, span;
	json_t *doc, *arr, *waits = json_array(), *act;
	json_t *abuckets = json_object();
	const char *bucket;

	if (strcmp(by, "campaign") && strcmp(by, "channel") &&
	    strcmp(by, "agent") && strcmp(by, "hour") && strcmp(by, "day")) {
		snprintf(err, errsz, "by must be campaign, channel, agent, "
		    "hour or day");
		json_decref(waits);
		json_decref(abuckets);
		return NULL;
	}
	/* activity's bucket from the range asked (metrics.md §3) */
	span = to - from;
	bucket = span <= 86400000LL ? "hour" : span <= 62LL * 86400000 ?
	    "day" : span <= 731LL * 86400000 ? "month" : "year";
	if (store_rtxn(S->st, &txn) != 0 ||
	    mdb_cursor_open(txn, S->db_roll, &cur) != 0) {
		snprintf(err, errsz, "cannot read the rollups");
		json_decref(waits);
		json_decref(abuckets);
		return NULL;
	}
	snprintf(start, sizeof(start), "%010lld", (long long)(from / 3600000));
	k.mv_size = strlen(start);
	k.mv_data = start;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		int64_t hour, hms;
		char kind, *a, *b, label[64];
		const char *rk;
		struct fold_roll r;
		msgpack_unpacked up;
		size_t off = 0;
		struct row *row = NULL;

		if (k.mv_size >= sizeof(key))
			continue;
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		if (split_key(key, &hour, &kind, &a, &b) == -1)
			continue;
		hms = hour * 3600000;
		if (hms >= to)
			break;
		if (hms + 3600000 <= from)
			continue;
		if (akind) {
			if (kind != 'a' || (agent && strcmp(a, agent)) ||
			    strcmp(b, campaign ? campaign : "*") != 0)
				continue;
		} else {
			if (kind != 'q' || (campaign && strcmp(a, campaign)) ||
			    (channel && strcmp(b, channel)) ||
			    (agent != NULL))
				continue;
		}
		if (strcmp(by, "campaign") == 0)
			rk = a;
		else if (strcmp(by, "channel") == 0)
			rk = b;
		else if (akind)
			rk = a;
		else if (strcmp(by, "hour") == 0) {
			fold_local_label(hms, tz, "%Y-%m-%dT%H:00%z", label,
			    sizeof(label));
			rk = label;
		} else {
			fold_local_label(hms, tz, "%Y-%m-%d", label, sizeof(label));
			rk = label;
		}
		for (i = 0; i < nrows; i++)
			if (strcmp(rows[i].key, rk) == 0) {
				row = &rows[i];
				break;
			}
		if (row == NULL) {
			if (nrows == REPORT_ROWS_MAX) {
				truncated = 1;
				continue;
			}
			if ((rows = realloc(rows, (nrows + 1) *
			    sizeof(*rows))) == NULL)
				fatalx("out of memory");
			row = &rows[nrows++];
			memset(row, 0, sizeof(*row));
			snprintf(row->key, sizeof(row->key), "%s", rk);
			row->kind = akind ? 'a' : 'q';
		}
		memset(&r, 0, sizeof(r));
		r.wait.with_ts = 1;
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) ==
		    MSGPACK_UNPACK_SUCCESS &&
		    fold_roll_unpack(&r, &up.data) == 0) {
			int j;

			for (j = 0; j < FOLD_NV; j++) {
				if (!akind && j == R_WAIT_MAX) {
					if (r.v[j] > row->v[j])
						row->v[j] = r.v[j];
				} else
					row->v[j] += r.v[j];
			}
			for (i = 0; i < r.wait.n; i++) {
				fold_samples_add(&row->wait, r.wait.v[i], 0);
				if (nwaits < REPORT_WAITS_MAX && r.wait.ts) {
					json_array_append_new(waits,
					    json_pack("[I,f]", (json_int_t)
					    r.wait.ts[i], (double)r.wait.v[i] /
					    1000.0));
					nwaits++;
				}
			}
			for (i = 0; i < r.resp.n; i++)
				fold_samples_add(&row->resp, r.resp.v[i], 0);
			if (!akind && r.v[R_CONTACT_MSGS]) {
				const char *fmt = strcmp(bucket, "hour") == 0 ?
				    "%Y-%m-%dT%H:00" : strcmp(bucket, "day") == 0 ?
				    "%Y-%m-%d" : strcmp(bucket, "month") == 0 ?
				    "%Y-%m" : "%Y";
				json_t *c;

				fold_local_label(hms, tz, fmt, label, sizeof(label));
				c = json_object_get(abuckets, label);
				json_object_set_new(abuckets, label,
				    json_integer((c ? json_integer_value(c) :
				    0) + r.v[R_CONTACT_MSGS]));
			}
			if (first == 0 || hms < first)
				first = hms;
			if (hms > last)
				last = hms;
		}
		msgpack_unpacked_destroy(&up);
		fold_samples_free(&r.wait);
		fold_samples_free(&r.resp);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	arr = json_array();
	for (i = 0; i < nrows; i++) {
		json_array_append_new(arr, row_json(by, &rows[i]));
		fold_samples_free(&rows[i].wait);
		fold_samples_free(&rows[i].resp);
	}
	free(rows);
	act = json_array();
	{
		const char *kk;
		json_t *vv;
		void *tmp;

		json_object_foreach_safe(abuckets, tmp, kk, vv)
			json_array_append_new(act, json_pack("[s,O]", kk, vv));
	}
	json_decref(abuckets);
	doc = json_pack("{s:s,s:o,s:o,s:s,s:o,s:o,s:b}", "by", by,
	    "from", json_integer(from), "to", json_integer(to),
	    "bucket", bucket, "rows", arr,
	    "activity", act, "truncated", truncated);
	json_object_set_new(doc, "waits", waits);
	return doc;
}
