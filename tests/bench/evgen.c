/*
 * evgen — write N events of a busy contact centre straight into a
 * routerd-format event log (LMDB "events", 64-bit big-endian sequence
 * keys, msgpack records as routerd writes them), for statsd's rebuild
 * benchmark: going through the daemons would take hours for 10,000,000.
 *
 *	evgen DIR N
 *
 * The day it writes: 5 campaigns, SMS and WhatsApp, 200 agents changing
 * status now and then; each conversation opens, the customer writes, it is
 * queued, offered, claimed or answered, the agent replies (with delivery
 * statuses), the customer writes again, the agent answers and closes it;
 * one in ten is never answered and is closed by the customer's silence.
 * The log is routerd's as it is now: each queue event names its entry and
 * each first agent reply is followed by its answer event.
 * About 3 events a second, so 10,000,000 events span some five weeks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>
#include <msgpack.h>

#include "evlog.h"
#include "mp.h"

static msgpack_sbuffer	sb;
static msgpack_packer	pk;
static MDB_txn		*txn;
static MDB_dbi		 dbi;
static uint64_t		 seq;

static void
put(void)
{
	unsigned char k[8];
	MDB_val key = { 8, k }, val = { sb.size, sb.data };
	int rc;

	evlog_key(++seq, k);
	if ((rc = mdb_put(txn, dbi, &key, &val, MDB_APPEND)) != 0) {
		fprintf(stderr, "evgen: mdb_put: %s\n", mdb_strerror(rc));
		exit(1);
	}
	sb.size = 0;
}

static void
head(uint32_t n, const char *type, const char *conv, const char *camp)
{
	msgpack_pack_map(&pk, n);
	mp_kv_str(&pk, "type", type);
	if (conv)
		mp_kv_str(&pk, "conv", conv);
	if (camp)
		mp_kv_str(&pk, "campaign", camp);
}

int
main(int argc, char **argv)
{
	static const char *const camps[5] = { "support", "sales", "billing",
	    "returns", "vip" };
	static const char *const chans[2] = { "sms", "whatsapp" };
	MDB_env *env;
	uint64_t n, c = 0;
	int64_t t = 1795219200000LL, qt;	/* 2026-11-21 */
	char conv[40], mid[40], agent[16], contact[20];
	int rc;

	if (argc != 3 || (n = strtoull(argv[2], NULL, 10)) == 0) {
		fprintf(stderr, "usage: evgen DIR N\n");
		return 2;
	}
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, 32)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, (size_t)16 << 30)) != 0 ||
	    (rc = mdb_env_open(env, argv[1], MDB_NOSYNC | MDB_WRITEMAP |
	    MDB_MAPASYNC, 0600)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "events", MDB_CREATE, &dbi)) != 0) {
		fprintf(stderr, "evgen: %s: %s\n", argv[1], mdb_strerror(rc));
		return 1;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	while (seq < n) {
		const char *camp = camps[c % 5], *ch = chans[c % 7 % 2];
		int ans = c % 10 != 0;

		snprintf(conv, sizeof(conv), "c_%024llu", (unsigned long long)c);
		snprintf(agent, sizeof(agent), "agent%03llu",
		    (unsigned long long)(c * 7 % 200));
		snprintf(contact, sizeof(contact), "+1555%07llu",
		    (unsigned long long)(c % 10000000));
		if (c % 50 == 0) {
			head(8, "agent", NULL, NULL);
			mp_kv_str(&pk, "agent", agent);
			mp_kv_str(&pk, "status", c % 100 ? "available" : "lunch");
			mp_kv_str(&pk, "kind", c % 100 ? "available" : "break");
			mp_kv_str(&pk, "reason", c % 100 ? "" : "lunch");
			mp_kv_str(&pk, "prev", "available");
			mp_kv_int(&pk, "prev_ms", 60000);
			mp_kv_int(&pk, "ts", t);
			put();
		}
		head(8, "conv", conv, camp);
		mp_kv_str(&pk, "channel", ch);
		mp_kv_str(&pk, "contact", contact);
		mp_kv_str(&pk, "addr", "+15550001111");
		mp_kv_str(&pk, "status", "open");
		mp_kv_int(&pk, "ts", t);
		put();
		snprintf(mid, sizeof(mid), "m_%024llu1", (unsigned long long)c);
		head(13, "message", conv, camp);
		mp_kv_str(&pk, "dir", "in");
		mp_kv_str(&pk, "id", mid);
		mp_kv_str(&pk, "channel", ch);
		mp_kv_str(&pk, "contact", contact);
		mp_kv_str(&pk, "addr", "+15550001111");
		mp_kv_str(&pk, "text", "Where is my order?");
		mp_kv_str(&pk, "msgtype", "text");
		mp_kv_str(&pk, "pid", mid);
		mp_kv_str(&pk, "mode", "agent");
		mp_kv_int(&pk, "ts", t);
		put();
		head(9, "queue", conv, camp);
		mp_kv_int(&pk, "priority", 0);
		mp_kv_bool(&pk, "attention", 0);
		mp_kv_int(&pk, "entry_ts", t);
		mp_kv_int(&pk, "sl_s", 60);
		mp_kv_int(&pk, "dropout_s", 300);
		mp_kv_int(&pk, "ts", t);
		put();
		qt = t;
		head(6, "offer", conv, camp);
		mp_pack_cstr(&pk, "agents");
		msgpack_pack_array(&pk, 1);
		mp_pack_cstr(&pk, agent);
		mp_kv_str(&pk, "strategy", "rrmemory");
		mp_kv_int(&pk, "ts", t + 500);
		put();
		t += 1000;
		if (ans) {
			head(6, "assign", conv, camp);
			mp_kv_str(&pk, "agent", agent);
			mp_kv_str(&pk, "via", "reply");
			mp_kv_int(&pk, "ts", t + 20000);
			put();
			snprintf(mid, sizeof(mid), "m_%024llu2",
			    (unsigned long long)c);
			head(12, "message", conv, camp);
			mp_kv_str(&pk, "dir", "out");
			mp_kv_str(&pk, "id", mid);
			mp_kv_str(&pk, "channel", ch);
			mp_kv_str(&pk, "contact", contact);
			mp_kv_str(&pk, "addr", "+15550001111");
			mp_kv_str(&pk, "text", "Let me check.");
			mp_kv_str(&pk, "status", "queued");
			mp_kv_str(&pk, "agent", agent);
			mp_kv_int(&pk, "ts", t + 20000 + (int64_t)(c % 90) * 1000);
			put();
			head(10, "answer", conv, camp);
			mp_kv_str(&pk, "channel", ch);
			mp_kv_str(&pk, "agent", agent);
			mp_kv_str(&pk, "msg", mid);
			mp_kv_int(&pk, "entry_ts", qt);
			mp_kv_int(&pk, "wait_ms", t + 20000 +
			    (int64_t)(c % 90) * 1000 - qt);
			mp_kv_int(&pk, "sl_s", 60);
			mp_kv_int(&pk, "ts", t + 20000 + (int64_t)(c % 90) * 1000);
			put();
			head(8, "status", conv, camp);
			mp_kv_str(&pk, "id", mid);
			mp_kv_str(&pk, "channel", ch);
			mp_kv_str(&pk, "contact", contact);
			mp_kv_str(&pk, "status", "sent");
			mp_kv_int(&pk, "ts", t + 21000);
			put();
			head(8, "status", conv, camp);
			mp_kv_str(&pk, "id", mid);
			mp_kv_str(&pk, "channel", ch);
			mp_kv_str(&pk, "contact", contact);
			mp_kv_str(&pk, "status", c % 13 ? "delivered" :
			    "undelivered");
			mp_kv_int(&pk, "ts", t + 23000);
			put();
		}
		head(6, "close", conv, camp);
		mp_kv_str(&pk, "agent", ans ? agent : "");
		mp_kv_str(&pk, "disposition", "Done");
		mp_kv_int(&pk, "ts", t + 240000);
		put();
		t += 1000;
		c++;
		if (seq % 100000 < 12) {
			if ((rc = mdb_txn_commit(txn)) != 0 ||
			    (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
				fprintf(stderr, "evgen: commit: %s\n",
				    mdb_strerror(rc));
				return 1;
			}
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		fprintf(stderr, "evgen: commit: %s\n", mdb_strerror(rc));
		return 1;
	}
	mdb_env_sync(env, 1);
	mdb_env_close(env);
	printf("evgen: %llu events, %llu conversations\n",
	    (unsigned long long)seq, (unsigned long long)c);
	return 0;
}
