/*
 * natsbus — the NATS JetStream transport of the bus (see natsbus.h for the
 * contract and parley-cluster(7) for the topology).
 *
 * One connection per process.  The loop thread owns every table here; the
 * helper threads (connect, one per pull consumer) and libnats' own threads
 * (publication acknowledgements) only push jobs on a mutex-held queue and
 * write a byte to a pipe the loop reads.  A pull consumer's thread fetches
 * at most nats_batch messages the loop has not yet finished with, so a slow
 * routerd slows the fetches instead of growing memory.
 *
 * What JetStream carries is the framed bytes unchanged; what comes from it
 * is checked like any socket input (frame_decode: length, pre-scan) and
 * passes through the daemon's own socket and its peer checks.  Headers
 * carry the routing only: Parley-Peer (the channel daemon a frame came
 * from), Parley-Shard, Parley-Link, Parley-Re and Parley-Boot (which
 * routerd, before or after a restart, a result answers).
 *
 * Core NATS (no stream, no acknowledgement) carries only state that may be
 * lost: the channel daemons' chstatus answers for the shards' statsd.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <nats/nats.h>
#include <nats/adapters/libevent.h>
#include <sodium.h>

#include "bus.h"
#include "conf.h"
#include "daemon.h"
#include "frame.h"
#include "htab.h"
#include "log.h"
#include "mp.h"
#include "natsbus.h"
#include "natsmap.h"
#include "proto.h"

#define NB_RETRY_MS	1000
#define NB_NAK_MS	1000

/* a pull consumer */
struct nb_sub {
	char		 stream[64], subject[160], durable[64];
	pthread_t	 th;
	int		 started;
	natsSubscription *sub;
	int		 out;		/* fetched, not yet finished (mu) */
	pthread_cond_t	 cv;
	void		(*on_msg)(struct nb_sub *, natsMsg *);
};

enum { J_UP, J_ACK, J_MSG, J_CORE };
struct nb_core;
struct nb_job {
	struct nb_job	*next;
	int		 kind;
	natsMsg		*m;
	int		 ok;
	char		 why[128];
	struct nb_sub	*sub;
	struct nb_core	*core;
};

/* a core NATS subscription (no JetStream): state that may be lost */
struct nb_core {
	natsSubscription *sub;
	char		 subj[160];
	natsbus_core_fn	 fn;
	void		*arg;
};
#define NB_CORE_MAX	4
#define NB_CORE_QMAX	256	/* core messages waiting for the loop */
#define NB_CHS_TICKS	40	/* ticks (250 ms) between chstatus asks */

/* a publication waiting for JetStream's acknowledgement */
struct nb_pub {
	struct htab_node hn;		/* keyed by the natsMsg pointer */
	natsMsg		*key;
	long long	 deadline;
	void		(*done)(void *arg, int ok, const char *why);
	void		*arg;
};

/* a link of a bus_pair: the far end */
struct nb_far {
	struct bufferevent *bev;
	struct bus_conn	*c;
	int		 router;	/* routerd's link to a channel daemon */
	char		 link[NB_NAME], prog[NB_NAME];
	msgpack_unpacked up;
};

static struct {
	struct daemon	*d;
	int		 router;
	char		 prefix[NB_NAME], shard[NB_NAME], deflt[NB_NAME];
	char		 boot[24];
	char		*servers[16];
	char		*token;		/* nats_token_file's, or NULL */
	int		 nservers;
	long long	 replicas, dupe_s, ack_wait_ms, pub_ms, batch;
	struct nb_map	 addrs[NB_MAXMAP], camps[NB_MAXMAP];
	size_t		 naddrs, ncamps;
	char		 shards[NB_MAXMAP][NB_NAME];
	size_t		 nshards;
	natsConnection	*nc;
	jsCtx		*js;
	pthread_t	 conn_th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 upcv;
	int		 up, stop;
	struct nb_job	*head, *tail;
	int		 pipefd[2];
	struct event	*ev_wake, *ev_tick;
	struct htab	 pubs;
	struct nb_sub	*subs[8];
	size_t		 nsubs;
	struct nb_far	*links[8];
	size_t		 nlinks;
	struct nb_far	*edge;
	struct bus_conn	*inj[4];	/* clients of our own socket */
	char		 injname[4][NB_NAME];
	size_t		 ninj;
	int		 loop_up;	/* J_UP seen on the loop */
	struct nb_core	 cores[NB_CORE_MAX];
	size_t		 ncores;
	int		 core_q;	/* J_CORE jobs queued (under mu) */
	long		 core_dropped;
	int		 chs_off, chs_tick;
} NB;

/* ------------------------------------------------------------ settings */

int
natsbus_on(const struct conf *cf)
{
	const char *t = conf_get(cf, "bus_transport");

	return t != NULL && strcmp(t, "nats") == 0;
}

void
natsbus_preinit(const struct conf *cf)
{
	if (natsbus_on(cf))
		natsLibevent_Init();
}

static void
shard_add(const char *s)
{
	size_t i;

	for (i = 0; i < NB.nshards; i++)
		if (strcmp(NB.shards[i], s) == 0)
			return;
	if (NB.nshards < NB_MAXMAP)
		snprintf(NB.shards[NB.nshards++], NB_NAME, "%s", s);
}

/* Every shard we know of (the maps', the default, our own): the ones a
 * status that names no address of ours is published to. */
static void
shards_list(void)
{
	size_t i;

	NB.nshards = 0;
	for (i = 0; i < NB.ncamps; i++)
		shard_add(NB.camps[i].v);
	if (NB.deflt[0])
		shard_add(NB.deflt);
	if (NB.shard[0])
		shard_add(NB.shard);
}

/* The shard owning our address addr: its campaign's; NULL if none. */
static const char *
shard_of(const char *addr, size_t len)
{
	const char *camp, *sh;

	if ((camp = natsmap_get(NB.addrs, NB.naddrs, addr, len)) != NULL &&
	    (sh = natsmap_get(NB.camps, NB.ncamps, camp, strlen(camp))) != NULL)
		return sh;
	return NB.deflt[0] ? NB.deflt : NULL;
}

static int
settings(const struct conf *cf, char *err, size_t errsz)
{
	const char *v;
	char *s, *p, *tok, *save = NULL;

	v = conf_get(cf, "nats_prefix");
	if (!natsmap_name_ok(v)) {
		snprintf(err, errsz, "nats_prefix: letters, digits, _ and -");
		return -1;
	}
	snprintf(NB.prefix, sizeof(NB.prefix), "%s", v);
	v = conf_get(cf, "nats_shard");
	if (v[0] != '\0' && !natsmap_name_ok(v)) {
		snprintf(err, errsz, "nats_shard: lower-case letters, digits, "
		    "_ and -");
		return -1;
	}
	snprintf(NB.shard, sizeof(NB.shard), "%s", v);
	if (NB.router && NB.shard[0] == '\0') {
		snprintf(err, errsz, "nats_shard: routerd needs the name of "
		    "its shard");
		return -1;
	}
	v = conf_get(cf, "nats_default_shard");
	if (v[0] != '\0' && !natsmap_name_ok(v)) {
		snprintf(err, errsz, "nats_default_shard: not a shard name");
		return -1;
	}
	snprintf(NB.deflt, sizeof(NB.deflt), "%s", v);
	if (natsmap_parse("nats_shards", conf_get(cf, "nats_shards"), NB.camps,
	    &NB.ncamps, 1, err, errsz) == -1 ||
	    natsmap_parse("nats_addresses", conf_get(cf, "nats_addresses"),
	    NB.addrs, &NB.naddrs, 0, err, errsz) == -1)
		return -1;
	shards_list();
	if (conf_int(cf, "nats_replicas", 1, 5, &NB.replicas, err,
	    errsz) == -1 ||
	    conf_int(cf, "nats_dupe_window_s", 1, 30LL * 86400, &NB.dupe_s,
	    err, errsz) == -1 ||
	    conf_int(cf, "nats_ack_wait_ms", 1000, 3600000, &NB.ack_wait_ms,
	    err, errsz) == -1 ||
	    conf_int(cf, "nats_publish_timeout_ms", 100, 600000, &NB.pub_ms,
	    err, errsz) == -1 ||
	    conf_int(cf, "nats_batch", 1, 4096, &NB.batch, err, errsz) == -1)
		return -1;
	if ((s = strdup(conf_get(cf, "nats_servers"))) == NULL)
		return -1;
	for (p = s; (tok = strtok_r(p, " ,\t", &save)) != NULL; p = NULL) {
		if (NB.nservers == 16 || (strncmp(tok, "nats://", 7) != 0 &&
		    strncmp(tok, "tls://", 6) != 0)) {
			snprintf(err, errsz, "nats_servers: up to 16 "
			    "nats://host:port URLs");
			free(s);
			return -1;
		}
		NB.servers[NB.nservers++] = strdup(tok);
	}
	free(s);
	if (NB.nservers == 0) {
		snprintf(err, errsz, "nats_servers: none given");
		return -1;
	}
	/* the cluster's authorization token: a secret in a file of its own */
	if (conf_get(cf, "nats_token_file")[0] != '\0' &&
	    (NB.token = conf_secret(cf, "nats_token_file", err, errsz)) == NULL)
		return -1;
	return 0;
}

/* The settings a running daemon cannot change: its connection, streams and
 * consumers were made with them. */
static const char *const fixed_keys[] = {
	"nats_servers", "nats_token_file", "nats_prefix", "nats_shard",
	"nats_replicas", "nats_dupe_window_s", "nats_ack_wait_ms",
	"nats_publish_timeout_ms", "nats_batch",
};
static char *fixed_vals[sizeof(fixed_keys) / sizeof(fixed_keys[0])];

static void
fixed_keep(const struct conf *cf)
{
	size_t i;

	for (i = 0; i < sizeof(fixed_keys) / sizeof(fixed_keys[0]); i++) {
		free(fixed_vals[i]);
		if ((fixed_vals[i] = strdup(conf_get(cf, fixed_keys[i]))) ==
		    NULL)
			fatalx("out of memory");
	}
}

/*
 * SIGHUP: the maps (nats_shards, nats_addresses, nats_default_shard) are
 * read again and apply to the next webhook; the fan-out list of shards is
 * rebuilt once the connection is up (before, its thread reads it).  Every
 * other nats_* setting, and bus_transport, needs a restart: said once.
 */
void
natsbus_reload(const struct conf *cf)
{
	static struct nb_map addrs[NB_MAXMAP], camps[NB_MAXMAP];
	size_t na, nc, i;
	char err[256];
	const char *v;
	int up;

	if ((NB.d != NULL) != natsbus_on(cf)) {
		log_warnx("reload: bus_transport changes need a restart");
		return;
	}
	if (NB.d == NULL || NB.d->check_only)
		return;
	for (i = 0; i < sizeof(fixed_keys) / sizeof(fixed_keys[0]); i++)
		if (strcmp(fixed_vals[i], conf_get(cf, fixed_keys[i])) != 0)
			log_warnx("reload: %s changes need a restart",
			    fixed_keys[i]);
	v = conf_get(cf, "nats_default_shard");
	if (v[0] != '\0' && !natsmap_name_ok(v)) {
		log_warnx("reload: nats_default_shard: not a shard name; "
		    "keeping the previous maps");
		return;
	}
	if (natsmap_parse("nats_shards", conf_get(cf, "nats_shards"), camps,
	    &nc, 1, err, sizeof(err)) == -1 ||
	    natsmap_parse("nats_addresses", conf_get(cf, "nats_addresses"),
	    addrs, &na, 0, err, sizeof(err)) == -1) {
		log_warnx("reload: %s; keeping the previous maps", err);
		return;
	}
	memcpy(NB.camps, camps, nc * sizeof(camps[0]));
	NB.ncamps = nc;
	memcpy(NB.addrs, addrs, na * sizeof(addrs[0]));
	NB.naddrs = na;
	snprintf(NB.deflt, sizeof(NB.deflt), "%s", v);
	pthread_mutex_lock(&NB.mu);
	up = NB.up;
	pthread_mutex_unlock(&NB.mu);
	if (!up) {
		log_warnx("reload: not connected to NATS yet; a shard added to "
		    "the maps is told of statuses after a restart");
		return;
	}
	shards_list();
	log_info("nats: maps reloaded: %zu campaigns on %zu shards, "
	    "%zu addresses", NB.ncamps, NB.nshards, NB.naddrs);
}

/* ------------------------------------------------------------ the queue */

static void
job_push(struct nb_job *j)
{
	char b = 0;
	ssize_t w;

	pthread_mutex_lock(&NB.mu);
	j->next = NULL;
	if (NB.tail)
		NB.tail->next = j;
	else
		NB.head = j;
	NB.tail = j;
	pthread_mutex_unlock(&NB.mu);
	do
		w = write(NB.pipefd[1], &b, 1);
	while (w == -1 && errno == EINTR);
	/* EAGAIN: the pipe is full of wake-ups already */
}

static struct nb_job *
job_new(int kind)
{
	struct nb_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		fatalx("out of memory");
	j->kind = kind;
	return j;
}

/* A fetched message is finished with: the consumer may fetch another. */
static void
sub_done(struct nb_sub *s)
{
	pthread_mutex_lock(&NB.mu);
	s->out--;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&NB.mu);
}

/* ------------------------------------------------------------ publishing */

static int
pub_eq(const struct htab_node *n, const void *key, size_t keylen)
{
	const struct nb_pub *p = HTAB_ENTRY(n, struct nb_pub, hn);

	return keylen == sizeof(p->key) && memcmp(&p->key, key, keylen) == 0;
}

/* libnats' thread: hand the acknowledgement to the loop. */
static void
on_pub_ack(jsCtx *js, natsMsg *m, jsPubAck *pa, jsPubAckErr *pae, void *arg)
{
	struct nb_job *j = job_new(J_ACK);

	j->m = m;
	j->ok = pa != NULL;
	if (pae != NULL)
		snprintf(j->why, sizeof(j->why), "%s (%d)", pae->ErrText ?
		    pae->ErrText : natsStatus_GetText(pae->Err),
		    (int)pae->ErrCode);
	job_push(j);
}

/*
 * Publish len framed bytes to subject, deduplicated by msgid, with up to
 * three headers (name, value pairs; NULL ends); done(arg, ok, why) from the
 * loop once JetStream acknowledged it or nats_publish_timeout_ms passed.
 * -1 (done not called) if it could not be handed to libnats.
 */
static int
publish(const char *subject, const void *data, size_t len, const char *msgid,
    const char **hdrs, void (*done)(void *, int, const char *), void *arg)
{
	natsMsg *m = NULL;
	jsPubOptions po;
	struct nb_pub *p;
	natsStatus s;
	size_t i;

	if (!NB.up)
		return -1;
	if (natsMsg_Create(&m, subject, NULL, data, (int)len) != NATS_OK)
		return -1;
	for (i = 0; hdrs != NULL && hdrs[i] != NULL; i += 2)
		if (natsMsgHeader_Set(m, hdrs[i], hdrs[i + 1]) != NATS_OK) {
			natsMsg_Destroy(m);
			return -1;
		}
	jsPubOptions_Init(&po);
	po.MsgId = msgid;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatalx("out of memory");
	p->key = m;
	p->deadline = daemon_mono_ms() + NB.pub_ms;
	p->done = done;
	p->arg = arg;
	if (htab_insert(&NB.pubs, &p->hn, &p->key, sizeof(p->key)) == -1)
		fatalx("out of memory");
	if ((s = js_PublishMsgAsync(NB.js, &m, &po)) != NATS_OK) {
		htab_remove(&NB.pubs, &p->hn);
		free(p);
		natsMsg_Destroy(m);
		log_warnx("nats: publish to %s: %s", subject,
		    natsStatus_GetText(s));
		return -1;
	}
	return 0;
}

static void
pub_acked(struct nb_job *j)
{
	struct htab_node *n;
	struct nb_pub *p;

	n = htab_find(&NB.pubs, &j->m, sizeof(j->m), pub_eq);
	if (n != NULL) {
		htab_remove(&NB.pubs, n);
		p = HTAB_ENTRY(n, struct nb_pub, hn);
		p->done(p->arg, j->ok, j->why[0] ? j->why : "not stored");
		free(p);
	}
	natsMsg_Destroy(j->m);
}

/* Publications not acknowledged in time fail (a late acknowledgement is
 * dropped; what it stored is deduplicated if published again). */
static void
pub_sweep(void)
{
	struct htab_iter it;
	struct htab_node *n;
	struct nb_pub *p, *late[256];
	long long now = daemon_mono_ms();
	size_t nl = 0, i;

	htab_iter_init(&it, &NB.pubs);
	while ((n = htab_iter_next(&it)) != NULL && nl < 256) {
		p = HTAB_ENTRY(n, struct nb_pub, hn);
		if (p->deadline <= now)
			late[nl++] = p;
	}
	for (i = 0; i < nl; i++) {
		htab_remove(&NB.pubs, &late[i]->hn);
		late[i]->done(late[i]->arg, 0, "no acknowledgement from "
		    "JetStream in time (nats_publish_timeout_ms)");
		free(late[i]);
	}
}

/* ------------------------------------------------------------ frames */

/* Copy frame f with key set to v (an integer) and, when again, the
 * "again"/"queued" of a dispatch tried before. */
static int
rekey(const msgpack_object *f, const char *key, int64_t v, int again,
    int64_t queued, struct fbuf *out)
{
	const msgpack_object_kv *kv;
	uint32_t i, n = 1;
	int has_again = 0, has_queued = 0;

	for (i = 0; i < f->via.map.size; i++) {
		kv = &f->via.map.ptr[i];
		if (mp_streq(&kv->key, key))
			continue;
		if (mp_streq(&kv->key, "again"))
			has_again = 1;
		if (mp_streq(&kv->key, "queued"))
			has_queued = 1;
		n++;
	}
	if (again)
		n += !has_again + !has_queued;
	fbuf_begin(out, n);
	for (i = 0; i < f->via.map.size; i++) {
		kv = &f->via.map.ptr[i];
		if (mp_streq(&kv->key, key))
			continue;
		msgpack_pack_object(&out->pk, kv->key);
		msgpack_pack_object(&out->pk, kv->val);
	}
	mp_kv_int(&out->pk, key, v);
	if (again && !has_again)
		mp_kv_bool(&out->pk, "again", 1);
	if (again && !has_queued)
		mp_kv_int(&out->pk, "queued", queued);
	return fbuf_finish(out);
}

/* Decode a message's data as exactly one frame into up; -1 if it is not. */
static int
msg_frame(natsMsg *m, msgpack_unpacked *up)
{
	const char *why = NULL;
	size_t used = 0;
	int len = natsMsg_GetDataLength(m);

	if (len <= 4 || frame_decode(natsMsg_GetData(m), (size_t)len, up,
	    &used, &why) != 1 || used != (size_t)len) {
		log_warnx("nats: %s: malformed frame dropped (%s)",
		    natsMsg_GetSubject(m), why ? why : "length");
		return -1;
	}
	return 0;
}

static const char *
hdr(natsMsg *m, const char *k)
{
	const char *v = NULL;

	if (natsMsgHeader_Get(m, k, &v) != NATS_OK || v == NULL)
		return NULL;
	return v;
}

static void
far_send(struct nb_far *f, struct fbuf *fb)
{
	if (fbuf_finish(fb) == -1 ||
	    bufferevent_write(f->bev, fbuf_data(fb), fbuf_len(fb)) == -1)
		fatalx("natsbus: cannot answer on the %s link", f->link);
}

static void
far_err(struct nb_far *f, int64_t re, const char *code, const char *msg)
{
	struct fbuf fb;

	fbuf_init(&fb);
	fbuf_begin(&fb, 2);
	mp_kv_int(&fb.pk, "re", re);
	mp_pack_cstr(&fb.pk, "err");
	msgpack_pack_map(&fb.pk, 2);
	mp_kv_str(&fb.pk, "code", code);
	mp_kv_str(&fb.pk, "msg", msg);
	far_send(f, &fb);
	fbuf_free(&fb);
}

static void
far_hello(struct nb_far *f, int64_t id)
{
	struct fbuf fb;

	fbuf_init(&fb);
	bus_answer_begin(&fb, id, 2);
	mp_kv_int(&fb.pk, "v", PROTO_VERSION);
	mp_kv_str(&fb.pk, "name", f->router ? f->prog : "routerd");
	far_send(f, &fb);
	fbuf_free(&fb);
}

/* ------------------------------------------------ edge: webhooks to a shard */

/* one "in"/"st" request, published to one or more shards */
struct nb_in {
	struct nb_far	*f;
	int64_t		 re;
	int		 left, failed;
	char		 why[128];
};

static void
in_done(void *arg, int ok, const char *why)
{
	struct nb_in *r = arg;
	struct fbuf fb;

	if (!ok && !r->failed) {
		r->failed = 1;
		snprintf(r->why, sizeof(r->why), "%s", why);
	}
	if (--r->left > 0)
		return;
	if (r->failed) {
		log_warnx("nats: request %lld not stored: %s",
		    (long long)r->re, r->why);
		far_err(r->f, r->re, "unavailable", r->why);
	} else {
		fbuf_init(&fb);
		bus_answer_begin(&fb, r->re, 0);
		far_send(r->f, &fb);
		fbuf_free(&fb);
	}
	free(r);
}

/* The JetStream message id of a webhook frame: its provider id, so that a
 * provider's retry within nats_dupe_window_s is stored once. */
static void
in_msgid(const msgpack_object *f, const char *t, char *buf, size_t sz)
{
	char ch[32] = "", pid[160] = "", st[32] = "";

	mp_strcpy(f, "channel", ch, sizeof(ch));
	mp_strcpy(f, "pid", pid, sizeof(pid));
	mp_strcpy(f, "status", st, sizeof(st));
	if (pid[0] == '\0') {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, sz, "%s.%s.%s%s%s", ch, t, pid, st[0] ? "." : "", st);
}

static void
edge_request(struct nb_far *f, const msgpack_object *o, const char *data,
    size_t len)
{
	const char *to = NULL, *sh, *hdrs[3];
	char subj[1200], msgid[256];
	size_t tolen = 0, i;
	struct nb_in *r;
	int64_t id = 0;
	enum proto_type t = proto_type(o);

	mp_int(o, "id", &id);
	if (t != PT_IN && t != PT_ST) {
		far_err(f, id, "unknown", "not carried over NATS");
		return;
	}
	if (!NB.up) {
		far_err(f, id, "unavailable", "NATS not connected");
		return;
	}
	in_msgid(o, t == PT_IN ? "in" : "st", msgid, sizeof(msgid));
	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatalx("out of memory");
	r->f = f;
	r->re = id;
	hdrs[0] = "Parley-Peer";
	hdrs[1] = log_prog();
	hdrs[2] = NULL;
	sh = mp_str(o, "to", &to, &tolen) ? shard_of(to, tolen) : NULL;
	if (sh == NULL && t == PT_IN) {
		log_warnx("nats: no shard for address %.*s (nats_addresses, "
		    "nats_shards, nats_default_shard)", (int)tolen,
		    to ? to : "");
		far_err(f, id, "unrouted", "no shard owns this address");
		free(r);
		return;
	}
	/* a status names no address we know: every shard is told, the one
	 * that sent the message records it */
	r->left = 1;
	for (i = 0; sh == NULL && i < NB.nshards; i++) {
		snprintf(subj, sizeof(subj), "%s.%s.in", NB.prefix,
		    NB.shards[i]);
		r->left++;
		if (publish(subj, data, len, msgid[0] ? msgid : NULL, hdrs,
		    in_done, r) == -1)
			in_done(r, 0, "cannot publish");
	}
	if (sh != NULL) {
		snprintf(subj, sizeof(subj), "%s.%s.in", NB.prefix, sh);
		r->left++;
		if (publish(subj, data, len, msgid[0] ? msgid : NULL, hdrs,
		    in_done, r) == -1)
			in_done(r, 0, "cannot publish");
	}
	in_done(r, 1, NULL);	/* the hold taken with left = 1 */
}

/* ---------------------------------------------- routerd: out to a daemon */

struct nb_out {
	struct nb_far	*f;
	int64_t		 re;
	char		 subj[160], msgid[160];
	char		 re_s[24];
	void		*data;
	size_t		 len;
	struct event	*ev;
};

static void out_publish(struct nb_out *);

static void
out_retry(evutil_socket_t fd, short ev, void *arg)
{
	out_publish(arg);
}

static void
out_done(void *arg, int ok, const char *why)
{
	struct nb_out *o = arg;
	struct timeval tv = { NB_RETRY_MS / 1000, (NB_RETRY_MS % 1000) * 1000 };

	if (ok) {
		event_free(o->ev);
		free(o->data);
		free(o);
		return;
	}
	log_warnx("nats: dispatch %s not stored (%s), published again in "
	    "%d ms", o->msgid, why, NB_RETRY_MS);
	if (evtimer_add(o->ev, &tv) == -1)
		fatalx("natsbus: cannot schedule a dispatch again");
}

static void
out_publish(struct nb_out *o)
{
	const char *hdrs[] = { "Parley-Shard", NB.shard, "Parley-Link",
	    o->f->link, "Parley-Re", o->re_s, "Parley-Boot", NB.boot, NULL };

	if (publish(o->subj, o->data, o->len, o->msgid, hdrs, out_done,
	    o) == -1)
		out_done(o, 0, "NATS not connected");
}

static void
router_request(struct nb_far *f, const msgpack_object *o, const char *data,
    size_t len)
{
	struct nb_out *r;
	int64_t id = 0;

	mp_int(o, "id", &id);
	if (proto_type(o) != PT_OUT) {
		far_err(f, id, "unknown", "not carried over NATS");
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->data = malloc(len)) == NULL ||
	    (r->ev = evtimer_new(NB.d->base, out_retry, r)) == NULL)
		fatalx("out of memory");
	r->f = f;
	r->re = id;
	memcpy(r->data, data, len);
	r->len = len;
	snprintf(r->re_s, sizeof(r->re_s), "%lld", (long long)id);
	snprintf(r->subj, sizeof(r->subj), "%s.out.%s", NB.prefix, f->prog);
	/* one id per dispatch: a dispatch again is a new message */
	snprintf(r->msgid, sizeof(r->msgid), "out.%s.%s.%s.%lld", NB.shard,
	    f->link, NB.boot, (long long)id);
	out_publish(r);
}

/* ------------------------------------------------------ the pair's far end */

static void
far_read(struct bufferevent *bev, void *arg)
{
	struct nb_far *f = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	const char *why = NULL, *p;
	size_t used;
	int64_t id;
	int r;

	while ((r = bus_frame_next(in, &f->up, &p, &used, &why)) != 0) {
		/* our own process framed it: malformed is a bug */
		if (r == -1)
			fatalx("natsbus: own frame malformed: %s", why);
		if (proto_type(&f->up.data) == PT_HELLO) {
			id = 0;
			mp_int(&f->up.data, "id", &id);
			far_hello(f, id);
		} else if (f->router)
			router_request(f, &f->up.data, p, used);
		else
			edge_request(f, &f->up.data, p, used);
		evbuffer_drain(in, used);
	}
}

static struct nb_far *
far_new(int router, const char *link, const char *prog,
    const struct bus_handlers *h, void *arg)
{
	struct nb_far *f;
	char name[64];

	if ((f = calloc(1, sizeof(*f))) == NULL)
		fatalx("out of memory");
	f->router = router;
	snprintf(f->link, sizeof(f->link), "%s", link);
	snprintf(f->prog, sizeof(f->prog), "%s", prog);
	msgpack_unpacked_init(&f->up);
	snprintf(name, sizeof(name), "nats:%s", router ? link : "routerd");
	f->c = bus_pair(NB.d->base, name, h, arg, &f->bev);
	bufferevent_setcb(f->bev, far_read, NULL, NULL, f);
	if (bufferevent_enable(f->bev, EV_READ | EV_WRITE) == -1)
		fatalx("natsbus: bufferevent_enable");
	return f;
}

struct bus_conn *
natsbus_edge_router(const struct bus_handlers *h, void *arg)
{
	NB.edge = far_new(0, "routerd", "routerd", h, arg);
	return NB.edge->c;
}

struct bus_conn *
natsbus_router_link(const char *link, const char *prog,
    const struct bus_handlers *h, void *arg)
{
	struct nb_far *f;

	if (NB.nlinks == sizeof(NB.links) / sizeof(NB.links[0]))
		fatalx("natsbus: too many links");
	f = far_new(1, link, prog, h, arg);
	NB.links[NB.nlinks++] = f;
	return f->c;
}

/* --------------------------------------------- consumers: into our socket */

static const struct bus_handlers inj_h = { 0 };

/* The client of our own socket that speaks for peer (created once). */
static struct bus_conn *
inj_conn(const char *peer)
{
	char path[4096], sub[64], name[64];
	size_t i;

	for (i = 0; i < NB.ninj; i++)
		if (strcmp(NB.injname[i], peer) == 0)
			return NB.inj[i];
	if (NB.ninj == sizeof(NB.inj) / sizeof(NB.inj[0]))
		return NULL;
	snprintf(sub, sizeof(sub), "run/%s.sock", log_prog());
	snprintf(name, sizeof(name), "nats-%s", peer);
	snprintf(NB.injname[NB.ninj], NB_NAME, "%s", peer);
	NB.inj[NB.ninj] = bus_client(NB.d->base, daemon_path(NB.d, sub, path,
	    sizeof(path)), name, &inj_h, NULL);
	return NB.inj[NB.ninj++];
}

struct nb_held {
	struct nb_sub	*s;
	natsMsg		*m;
	char		 shard[NB_NAME], link[NB_NAME], re[24], boot[24];
	char		 msgid[160];
	void		*ans;		/* the answer framed, for publishing */
	size_t		 anslen;
};

static void
held_end(struct nb_held *h)
{
	sub_done(h->s);
	natsMsg_Destroy(h->m);
	free(h->ans);
	free(h);
}

/* routerd answered a frame from the stream: acknowledge it once stored. */
static void
in_answered(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	struct nb_held *h = arg;
	const msgpack_object *err;
	char code[32] = "", msg[160] = "";

	log_debug("nats: %s answered%s", natsMsg_GetSubject(h->m),
	    ans == NULL ? " (none)" : "");
	if (ans == NULL) {
		natsMsg_NakWithDelay(h->m, NB_NAK_MS, NULL);
	} else if ((err = mp_get(ans, "err")) != NULL) {
		mp_strcpy(err, "code", code, sizeof(code));
		mp_strcpy(err, "msg", msg, sizeof(msg));
		if (strcmp(code, "store") == 0 || strcmp(code, "busy") == 0) {
			log_warnx("nats: %s: routerd could not store it (%s), "
			    "delivered again", natsMsg_GetSubject(h->m), msg);
			natsMsg_NakWithDelay(h->m, NB_NAK_MS, NULL);
		} else {
			log_warnx("nats: %s: refused by routerd (%s: %s), "
			    "dropped from the stream", natsMsg_GetSubject(h->m),
			    code, msg);
			natsMsg_Term(h->m, NULL);
		}
	} else
		natsMsg_Ack(h->m, NULL);
	held_end(h);
}

static void
on_in_msg(struct nb_sub *s, natsMsg *m)
{
	msgpack_unpacked up;
	struct nb_held *h;
	struct bus_conn *c;
	struct fbuf fb;
	const char *peer = hdr(m, "Parley-Peer");
	int64_t id;

	log_debug("nats: %s from %s", natsMsg_GetSubject(m), peer ? peer : "?");
	msgpack_unpacked_init(&up);
	if ((h = calloc(1, sizeof(*h))) == NULL)
		fatalx("out of memory");
	h->s = s;
	h->m = m;
	fbuf_init(&fb);
	if (msg_frame(m, &up) == -1 || peer == NULL || !natsmap_name_ok(peer)) {
		natsMsg_Term(m, NULL);
		held_end(h);
		goto done;
	}
	if ((c = inj_conn(peer)) == NULL || !bus_is_up(c)) {
		log_debug("nats: %s: own socket not connected yet, nak",
		    natsMsg_GetSubject(m));
		natsMsg_NakWithDelay(m, NB_NAK_MS, NULL);
		held_end(h);
		goto done;
	}
	id = bus_next_id(c);
	log_debug("nats: %s handed to routerd as %lld",
	    natsMsg_GetSubject(m), (long long)id);
	if (rekey(&up.data, "id", id, 0, 0, &fb) == -1 ||
	    bus_request(c, &fb, id, in_answered, h) == -1) {
		natsMsg_NakWithDelay(m, NB_NAK_MS, NULL);
		held_end(h);
	}
done:
	fbuf_free(&fb);
	msgpack_unpacked_destroy(&up);
}

/* results of "out": given back to the link's waiting request */
static void
on_res_msg(struct nb_sub *s, natsMsg *m)
{
	const char *link = hdr(m, "Parley-Link"), *boot = hdr(m, "Parley-Boot");
	msgpack_unpacked up;
	size_t i;

	msgpack_unpacked_init(&up);
	if (msg_frame(m, &up) == 0 && link != NULL) {
		if (boot == NULL || strcmp(boot, NB.boot) != 0)
			log_info("nats: a result from before routerd started "
			    "(%s): its message is dispatched again", link);
		else
			for (i = 0; i < NB.nlinks; i++)
				if (strcmp(NB.links[i]->link, link) == 0)
					if (bufferevent_write(NB.links[i]->bev,
					    natsMsg_GetData(m), (size_t)
					    natsMsg_GetDataLength(m)) == -1)
						fatalx("natsbus: out of memory");
	}
	natsMsg_Ack(m, NULL);
	natsMsg_Destroy(m);
	sub_done(s);
	msgpack_unpacked_destroy(&up);
}

/* edge: the answer to "out" is published; the "out" acknowledged after */
static void
res_done(void *arg, int ok, const char *why)
{
	struct nb_held *h = arg;

	if (ok)
		natsMsg_Ack(h->m, NULL);
	else {
		log_warnx("nats: result %s not stored (%s): the dispatch "
		    "comes again", h->msgid, why);
		natsMsg_NakWithDelay(h->m, NB_NAK_MS, NULL);
	}
	held_end(h);
}

static void
out_answered(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	struct nb_held *h = arg;
	struct fbuf fb;
	char subj[160];
	long long re = atoll(h->re);
	const char *hdrs[] = { "Parley-Link", h->link, "Parley-Re", h->re,
	    "Parley-Boot", h->boot, NULL };

	if (ans == NULL) {
		natsMsg_NakWithDelay(h->m, NB_NAK_MS, NULL);
		held_end(h);
		return;
	}
	fbuf_init(&fb);
	if (rekey(ans, "re", re, 0, 0, &fb) == -1) {
		natsMsg_Term(h->m, NULL);
		fbuf_free(&fb);
		held_end(h);
		return;
	}
	snprintf(subj, sizeof(subj), "%s.%s.res", NB.prefix, h->shard);
	if (publish(subj, fbuf_data(&fb), fbuf_len(&fb), h->msgid, hdrs,
	    res_done, h) == -1)
		res_done(h, 0, "NATS not connected");
	fbuf_free(&fb);
}

static void
on_out_msg(struct nb_sub *s, natsMsg *m)
{
	const char *sh = hdr(m, "Parley-Shard"), *link = hdr(m, "Parley-Link"),
	    *re = hdr(m, "Parley-Re"), *boot = hdr(m, "Parley-Boot");
	jsMsgMetaData *md = NULL;
	msgpack_unpacked up;
	struct nb_held *h;
	struct bus_conn *c;
	struct fbuf fb;
	int64_t id, queued = 0;
	int again = 0;

	msgpack_unpacked_init(&up);
	fbuf_init(&fb);
	if ((h = calloc(1, sizeof(*h))) == NULL)
		fatalx("out of memory");
	h->s = s;
	h->m = m;
	if (msg_frame(m, &up) == -1 || sh == NULL || !natsmap_name_ok(sh) ||
	    link == NULL || !natsmap_name_ok(link) || re == NULL || strlen(re) > 20 ||
	    boot == NULL || strlen(boot) >= sizeof(h->boot)) {
		log_warnx("nats: %s: dispatch without its routing headers "
		    "dropped", natsMsg_GetSubject(m));
		natsMsg_Term(m, NULL);
		held_end(h);
		goto done;
	}
	snprintf(h->shard, sizeof(h->shard), "%s", sh);
	snprintf(h->link, sizeof(h->link), "%s", link);
	snprintf(h->re, sizeof(h->re), "%s", re);
	snprintf(h->boot, sizeof(h->boot), "%s", boot);
	snprintf(h->msgid, sizeof(h->msgid), "res.%s.%s.%s.%s", sh, link,
	    boot, re);
	/* delivered before (we died, or our answer was not stored): the
	 * daemon is told, as routerd tells it of a dispatch again */
	if (natsMsg_GetMetaData(&md, m) == NATS_OK) {
		again = md->NumDelivered > 1;
		queued = md->Timestamp / 1000000;
		jsMsgMetaData_Destroy(md);
	}
	if ((c = inj_conn("routerd")) == NULL || !bus_is_up(c)) {
		natsMsg_NakWithDelay(m, NB_NAK_MS, NULL);
		held_end(h);
		goto done;
	}
	id = bus_next_id(c);
	if (rekey(&up.data, "id", id, again, queued, &fb) == -1 ||
	    bus_request(c, &fb, id, out_answered, h) == -1) {
		natsMsg_NakWithDelay(m, NB_NAK_MS, NULL);
		held_end(h);
	}
done:
	fbuf_free(&fb);
	msgpack_unpacked_destroy(&up);
}

/* ------------------------------------------------------------ threads */

static void
nap(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int
stopping(void)
{
	int s;

	pthread_mutex_lock(&NB.mu);
	s = NB.stop;
	pthread_mutex_unlock(&NB.mu);
	return s;
}

/* Create the stream, or bring its settings to ours. */
static natsStatus
stream_ensure(const char *name, const char *subject)
{
	jsStreamConfig sc;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	const char *subs[1] = { subject };
	natsStatus s;

	jsStreamConfig_Init(&sc);
	sc.Name = name;
	sc.Subjects = subs;
	sc.SubjectsLen = 1;
	sc.Retention = js_WorkQueuePolicy;
	sc.Storage = js_FileStorage;
	sc.Replicas = NB.replicas;
	sc.Duplicates = NB.dupe_s * 1000000000LL;
	s = js_AddStream(&si, NB.js, &sc, NULL, &jerr);
	if (s != NATS_OK && jerr == JSStreamNameExistErr)
		s = js_UpdateStream(&si, NB.js, &sc, NULL, &jerr);
	if (s == NATS_OK)
		jsStreamInfo_Destroy(si);
	else
		log_warnx("nats: stream %s: %s (%d)", name,
		    nats_GetLastError(NULL), (int)jerr);
	return s;
}

static void
stream_name(const char *shard, char *buf, size_t sz)
{
	size_t i;

	snprintf(buf, sz, "%s_%s", NB.prefix, shard);
	for (i = 0; buf[i]; i++)
		if (buf[i] >= 'a' && buf[i] <= 'z')
			buf[i] = (char)(buf[i] - 'a' + 'A');
		else if (buf[i] == '-')
			buf[i] = '_';
}

static void *
conn_main(void *arg)
{
	natsOptions *o = NULL;
	jsOptions jo;
	natsStatus s;
	char name[64], subj[160];
	size_t i;
	int warned = 0, ok;

	if (natsOptions_Create(&o) != NATS_OK ||
	    natsOptions_SetServers(o, (const char **)NB.servers,
	    NB.nservers) != NATS_OK ||
	    natsOptions_SetName(o, log_prog()) != NATS_OK ||
	    natsOptions_SetMaxReconnect(o, -1) != NATS_OK ||
	    natsOptions_SetReconnectWait(o, 250) != NATS_OK ||
	    natsOptions_SetReconnectBufSize(o, 64 << 20) != NATS_OK ||
	    natsOptions_SetTimeout(o, 2000) != NATS_OK ||
	    (NB.token != NULL && natsOptions_SetToken(o, NB.token) != NATS_OK) ||
	    natsOptions_SetEventLoop(o, NB.d->base, natsLibevent_Attach,
	    natsLibevent_Read, natsLibevent_Write,
	    natsLibevent_Detach) != NATS_OK)
		fatalx("nats: cannot set the connection options");
	while (!stopping() && (s = natsConnection_Connect(&NB.nc, o)) !=
	    NATS_OK) {
		if (!warned++)
			log_warnx("nats: cannot connect (%s), retrying",
			    natsStatus_GetText(s));
		nap(NB_RETRY_MS);
	}
	natsOptions_Destroy(o);
	if (stopping())
		return NULL;
	jsOptions_Init(&jo);
	jo.PublishAsync.AckHandler = on_pub_ack;
	jo.PublishAsync.MaxPending = 65536;
	jo.Wait = 5000;
	if (natsConnection_JetStream(&NB.js, NB.nc, &jo) != NATS_OK)
		fatalx("nats: no JetStream context");
	/* the streams we publish to or read from; a cluster that is still
	 * electing its leaders refuses for a while */
	for (warned = 0; !stopping(); nap(NB_RETRY_MS)) {
		ok = 1;
		for (i = 0; ok && i < NB.nshards; i++) {
			if (NB.router && strcmp(NB.shards[i], NB.shard) != 0)
				continue;
			stream_name(NB.shards[i], name, sizeof(name));
			snprintf(subj, sizeof(subj), "%s.%s.*", NB.prefix,
			    NB.shards[i]);
			ok = stream_ensure(name, subj) == NATS_OK;
		}
		stream_name("out", name, sizeof(name));
		snprintf(subj, sizeof(subj), "%s.out.*", NB.prefix);
		if (ok && stream_ensure(name, subj) == NATS_OK)
			break;
		if (!warned++)
			log_warnx("nats: streams not ready, retrying");
	}
	pthread_mutex_lock(&NB.mu);
	NB.up = !NB.stop;
	pthread_cond_broadcast(&NB.upcv);
	pthread_mutex_unlock(&NB.mu);
	job_push(job_new(J_UP));
	return NULL;
}

static void *
sub_main(void *arg)
{
	struct nb_sub *s = arg;
	jsSubOptions so;
	jsErrCode jerr;
	natsMsgList list;
	natsStatus st;
	struct nb_job *j;
	int i, want, warned = 0;

	pthread_mutex_lock(&NB.mu);
	while (!NB.up && !NB.stop)
		pthread_cond_wait(&NB.upcv, &NB.mu);
	pthread_mutex_unlock(&NB.mu);
	for (;;) {
		if (stopping())
			return NULL;
		jsSubOptions_Init(&so);
		so.Stream = s->stream;
		so.Config.Durable = s->durable;
		so.Config.AckPolicy = js_AckExplicit;
		so.Config.AckWait = NB.ack_wait_ms * 1000000LL;
		so.Config.MaxAckPending = 4 * NB.batch;
		so.Config.MaxDeliver = -1;
		jerr = 0;
		if (js_PullSubscribe(&s->sub, NB.js, s->subject, s->durable,
		    NULL, &so, &jerr) == NATS_OK)
			break;
		if (!warned++)
			log_warnx("nats: consumer %s on %s: %s (%d), retrying",
			    s->durable, s->stream, nats_GetLastError(NULL),
			    (int)jerr);
		nap(NB_RETRY_MS);
	}
	log_info("nats: consuming %s (durable %s)", s->subject, s->durable);
	while (!stopping()) {
		pthread_mutex_lock(&NB.mu);
		while (!NB.stop && s->out >= NB.batch)
			pthread_cond_wait(&s->cv, &NB.mu);
		want = (int)(NB.batch - s->out);
		pthread_mutex_unlock(&NB.mu);
		if (want <= 0)
			continue;
		memset(&list, 0, sizeof(list));
		jerr = 0;
		st = natsSubscription_Fetch(&list, s->sub, want, 1000, &jerr);
		if (st == NATS_TIMEOUT)
			continue;
		if (st != NATS_OK) {
			log_debug("nats: fetch %s: %s", s->durable,
			    natsStatus_GetText(st));
			nap(200);
			continue;
		}
		log_debug("nats: fetched %d from %s", list.Count, s->durable);
		pthread_mutex_lock(&NB.mu);
		s->out += list.Count;
		pthread_mutex_unlock(&NB.mu);
		for (i = 0; i < list.Count; i++) {
			j = job_new(J_MSG);
			j->sub = s;
			j->m = list.Msgs[i];
			list.Msgs[i] = NULL;
			job_push(j);
		}
		natsMsgList_Destroy(&list);
	}
	return NULL;
}

static void
sub_start(const char *stream, const char *subject, const char *durable,
    void (*on_msg)(struct nb_sub *, natsMsg *))
{
	struct nb_sub *s;

	if (NB.nsubs == sizeof(NB.subs) / sizeof(NB.subs[0]) ||
	    (s = calloc(1, sizeof(*s))) == NULL)
		fatalx("natsbus: too many consumers");
	snprintf(s->stream, sizeof(s->stream), "%s", stream);
	snprintf(s->subject, sizeof(s->subject), "%s", subject);
	snprintf(s->durable, sizeof(s->durable), "%s", durable);
	s->on_msg = on_msg;
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->th, NULL, sub_main, s) != 0)
		fatalx("natsbus: pthread_create");
	s->started = 1;
	NB.subs[NB.nsubs++] = s;
}

void
natsbus_router_in(void)
{
	char stream[64], subj[160];

	/* the clients of our socket, connected before the first message */
	inj_conn("smsd");
	inj_conn("whatsappd");
	inj_conn("messengerd");
	stream_name(NB.shard, stream, sizeof(stream));
	snprintf(subj, sizeof(subj), "%s.%s.in", NB.prefix, NB.shard);
	sub_start(stream, subj, "in", on_in_msg);
	snprintf(subj, sizeof(subj), "%s.%s.res", NB.prefix, NB.shard);
	sub_start(stream, subj, "res", on_res_msg);
}

void
natsbus_edge_out(void)
{
	char stream[64], subj[160], dur[64];

	inj_conn("routerd");
	stream_name("out", stream, sizeof(stream));
	snprintf(subj, sizeof(subj), "%s.out.%s", NB.prefix, log_prog());
	snprintf(dur, sizeof(dur), "out-%s", log_prog());
	sub_start(stream, subj, dur, on_out_msg);
}

/* ------------------------------------------------------------ core NATS */

/* libnats' delivery thread: handed to the loop, within a bound. */
static void
on_core_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m,
    void *closure)
{
	struct nb_job *j;
	int full;

	pthread_mutex_lock(&NB.mu);
	if ((full = NB.core_q >= NB_CORE_QMAX))
		NB.core_dropped++;
	else
		NB.core_q++;
	pthread_mutex_unlock(&NB.mu);
	if (full) {
		natsMsg_Destroy(m);
		return;
	}
	j = job_new(J_CORE);
	j->m = m;
	j->core = closure;
	job_push(j);
}

/* The loop, once connected: subscribe what was asked for (libnats keeps
 * the subscriptions over reconnections). */
static void
core_subscribe(void)
{
	struct nb_core *c;
	size_t i;

	for (i = 0; i < NB.ncores; i++) {
		c = &NB.cores[i];
		if (c->sub != NULL)
			continue;
		if (natsConnection_Subscribe(&c->sub, NB.nc, c->subj,
		    on_core_msg, c) != NATS_OK) {
			log_warnx("nats: cannot subscribe to %s", c->subj);
			c->sub = NULL;
			continue;
		}
		natsSubscription_SetPendingLimits(c->sub, NB_CORE_QMAX,
		    1 << 22);
		log_info("nats: following %s", c->subj);
	}
}

void
natsbus_core_sub(const char *suffix, natsbus_core_fn fn, void *arg)
{
	struct nb_core *c;

	if (NB.d == NULL || NB.ncores == NB_CORE_MAX)
		return;
	c = &NB.cores[NB.ncores++];
	snprintf(c->subj, sizeof(c->subj), "%s.%s", NB.prefix, suffix);
	c->fn = fn;
	c->arg = arg;
	if (NB.loop_up)
		core_subscribe();
}

int
natsbus_core_pub(const char *suffix, const void *data, size_t len)
{
	char subj[160];

	if (NB.d == NULL || !NB.loop_up)
		return -1;
	snprintf(subj, sizeof(subj), "%s.%s", NB.prefix, suffix);
	return natsConnection_Publish(NB.nc, subj, data, (int)len) ==
	    NATS_OK ? 0 : -1;
}

/*
 * A channel daemon's addresses and token state for the shards' statsd
 * (which cannot reach its socket from another host): every 10 s it asks
 * itself chstatus, as statsd would, and publishes the answer on
 * <prefix>.chstatus.<prog>.<boot>.  A daemon that does not serve chstatus
 * (smsd) is asked once.
 */
static void
chs_answered(struct bus_conn *c, const msgpack_object *ans, void *arg)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char suffix[128];

	if (ans == NULL)
		return;
	if (mp_get(ans, "err") != NULL) {
		log_debug("nats: no chstatus here: not published");
		NB.chs_off = 1;
		return;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (msgpack_pack_object(&pk, *ans) == 0) {
		snprintf(suffix, sizeof(suffix), "chstatus.%s.%s", log_prog(),
		    NB.boot);
		if (natsbus_core_pub(suffix, sb.data, sb.size) == -1)
			log_debug("nats: chstatus not published");
		else
			log_debug("nats: chstatus published on %s", suffix);
	}
	msgpack_sbuffer_destroy(&sb);
}

static void
chs_ask(void)
{
	struct bus_conn *c;
	struct fbuf fb;
	int64_t id;

	if ((c = inj_conn("statsd")) == NULL)
		return;
	if (!bus_is_up(c) || bus_pending(c) > 0) {
		NB.chs_tick = 4;	/* connecting: again in a second */
		return;
	}
	id = bus_next_id(c);
	fbuf_init(&fb);
	fbuf_begin(&fb, 2);
	mp_kv_str(&fb.pk, "t", "chstatus");
	mp_kv_int(&fb.pk, "id", id);
	if (bus_request(c, &fb, id, chs_answered, NULL) == -1)
		log_debug("nats: chstatus not asked");
	fbuf_free(&fb);
}

/* ------------------------------------------------------------ the loop */

static void
on_wake(evutil_socket_t fd, short ev, void *arg)
{
	struct nb_job *j, *next;
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&NB.mu);
	j = NB.head;
	NB.head = NB.tail = NULL;
	pthread_mutex_unlock(&NB.mu);
	for (; j != NULL; j = next) {
		next = j->next;
		switch (j->kind) {
		case J_UP:
			log_info("nats: connected, streams ready (%s%s)",
			    NB.router ? "shard " : "edge",
			    NB.router ? NB.shard : "");
			NB.loop_up = 1;
			core_subscribe();
			break;
		case J_CORE:
			pthread_mutex_lock(&NB.mu);
			NB.core_q--;
			pthread_mutex_unlock(&NB.mu);
			j->core->fn(natsMsg_GetSubject(j->m),
			    natsMsg_GetData(j->m),
			    (size_t)natsMsg_GetDataLength(j->m), j->core->arg);
			natsMsg_Destroy(j->m);
			break;
		case J_ACK:
			pub_acked(j);
			break;
		case J_MSG:
			j->sub->on_msg(j->sub, j->m);
			break;
		}
		free(j);
	}
}

static void
on_tick(evutil_socket_t fd, short ev, void *arg)
{
	static long said;
	long dropped;

	pub_sweep();
	pthread_mutex_lock(&NB.mu);
	dropped = NB.core_dropped;
	pthread_mutex_unlock(&NB.mu);
	if (dropped != said) {
		log_warnx("nats: %ld core NATS messages dropped, the loop "
		    "being %d behind", dropped - said, NB_CORE_QMAX);
		said = dropped;
	}
	if (!NB.router && NB.loop_up && !NB.chs_off &&
	    NB.chs_tick-- <= 0) {
		NB.chs_tick = NB_CHS_TICKS;
		chs_ask();
	}
}

int
natsbus_start(struct daemon *d, int router, char *err, size_t errsz)
{
	struct timeval sec = { 0, 250000 };
	unsigned char rb[8];
	size_t i;

	NB.d = d;
	NB.router = router;
	if (settings(d->conf, err, errsz) == -1)
		return -1;
	if (d->check_only)
		return 0;
	fixed_keep(d->conf);
	randombytes_buf(rb, sizeof(rb));
	for (i = 0; i < sizeof(rb); i++)
		snprintf(NB.boot + 2 * i, 3, "%02x", rb[i]);
	htab_init(&NB.pubs);
	pthread_mutex_init(&NB.mu, NULL);
	pthread_cond_init(&NB.upcv, NULL);
	if (pipe2(NB.pipefd, O_NONBLOCK | O_CLOEXEC) == -1) {
		snprintf(err, errsz, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((NB.ev_wake = event_new(d->base, NB.pipefd[0], EV_READ |
	    EV_PERSIST, on_wake, NULL)) == NULL ||
	    event_add(NB.ev_wake, NULL) == -1 ||
	    (NB.ev_tick = event_new(d->base, -1, EV_PERSIST, on_tick,
	    NULL)) == NULL || event_add(NB.ev_tick, &sec) == -1) {
		snprintf(err, errsz, "natsbus: cannot create events");
		return -1;
	}
	if (pthread_create(&NB.conn_th, NULL, conn_main, NULL) != 0) {
		snprintf(err, errsz, "natsbus: pthread_create failed");
		return -1;
	}
	log_info("nats: bus over JetStream at %s%s (%d server%s)",
	    NB.servers[0], NB.nservers > 1 ? ", ..." : "", NB.nservers,
	    NB.nservers == 1 ? "" : "s");
	return 0;
}

void
natsbus_stop(void)
{
	size_t i;

	if (NB.d == NULL || NB.ev_wake == NULL)
		return;
	pthread_mutex_lock(&NB.mu);
	NB.stop = 1;
	pthread_cond_broadcast(&NB.upcv);
	for (i = 0; i < NB.nsubs; i++)
		pthread_cond_broadcast(&NB.subs[i]->cv);
	pthread_mutex_unlock(&NB.mu);
	/* a fetch ends within its second; a connect within its timeout */
	pthread_join(NB.conn_th, NULL);
	for (i = 0; i < NB.nsubs; i++)
		pthread_join(NB.subs[i]->th, NULL);
}
