/*
 * routerd_msg — the writes: inbound messages, outbound messages, provider
 * results and status callbacks.  Each request does its writes in the
 * current group-commit batch and answers from a store_after callback, so
 * nothing is acknowledged before it is on disk.  Duplicates (same provider
 * id, same status, same client key) are answered as such and stored once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "frame.h"
#include "mp.h"
#include "spool.h"
#include "ulid.h"
#include "valid.h"
#include "routerd.h"

#define TEXT_MAX	65536		/* bytes of one message's text */
#define SMS_MAXCHARS	1600		/* Twilio's Body limit */

/* An answer waiting on the commit. */
struct pans {
	struct rclient	*cl;
	int64_t		 re;
	int		 dup;
	char		 conv[R_IDLEN];
	char		 msg[R_IDLEN];
	int		 dispatch;	/* dispatch msg once committed */
	char		 errcode[16];	/* a refusal recorded in the batch */
	char		 errmsg[256];
};

static long long
now_ms(void)
{
	return daemon_now_ms();
}

/* "bad field" refusals name the field */
static void
refuse(struct rclient *cl, int64_t re, const char *code, const char *msg)
{
	if (cl->alive)
		bus_answer_err(cl->c, re, code, msg);
}

static void
answered(void *arg, int ok)
{
	struct pans *a = arg;
	struct fbuf fb;

	if (a->cl->alive) {
		if (!ok)
			bus_answer_err(a->cl->c, a->re, "store",
			    store_error(R->st));
		else if (a->errcode[0])
			bus_answer_err(a->cl->c, a->re, a->errcode, a->errmsg);
		else {
			fbuf_init(&fb);
			bus_answer_begin(&fb, a->re, 3);
			mp_kv_str(&fb.pk, "conv", a->conv[0] ? a->conv : NULL);
			mp_kv_str(&fb.pk, "msg", a->msg[0] ? a->msg : NULL);
			mp_kv_bool(&fb.pk, "dup", a->dup);
			bus_send(a->cl->c, &fb);
			fbuf_free(&fb);
		}
	}
	if (ok && a->dispatch)
		dispatch(a->msg);
	client_unref(a->cl);
	free(a);
}

static struct pans *
pans_new(struct rclient *cl, int64_t re)
{
	struct pans *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatalx("out of memory");
	a->cl = cl;
	a->re = re;
	client_ref(cl);
	return a;
}

/* small LMDB helpers */

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

/* conversations */

int
conv_get(MDB_txn *txn, const char *id, struct conv *cv)
{
	MDB_val k = { strlen(id), (void *)id }, v;
	msgpack_unpacked up;
	size_t off = 0;
	int rc;

	memset(cv, 0, sizeof(*cv));
	if ((rc = mdb_get(txn, R->db_convs, &k, &v)) != 0)
		return rc;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) !=
	    MSGPACK_UNPACK_SUCCESS) {
		msgpack_unpacked_destroy(&up);
		return MDB_CORRUPTED;
	}
	mp_strcpy(&up.data, "conv", cv->id, sizeof(cv->id));
	mp_strcpy(&up.data, "channel", cv->channel, sizeof(cv->channel));
	mp_strcpy(&up.data, "addr", cv->addr, sizeof(cv->addr));
	mp_strcpy(&up.data, "contact", cv->contact, sizeof(cv->contact));
	mp_strcpy(&up.data, "campaign", cv->campaign, sizeof(cv->campaign));
	mp_strcpy(&up.data, "name", cv->name, sizeof(cv->name));
	mp_strcpy(&up.data, "status", cv->status, sizeof(cv->status));
	mp_strcpy(&up.data, "last_dir", cv->last_dir, sizeof(cv->last_dir));
	mp_strcpy(&up.data, "last_text", cv->last_text, sizeof(cv->last_text));
	mp_strcpy(&up.data, "unrouted", cv->unrouted, sizeof(cv->unrouted));
	mp_int(&up.data, "opened_ts", &cv->opened_ts);
	mp_int(&up.data, "last_ts", &cv->last_ts);
	mp_int(&up.data, "waiting_since_ts", &cv->waiting_since);
	if (!mp_strcpy(&up.data, "mode", cv->mode, sizeof(cv->mode)))
		snprintf(cv->mode, sizeof(cv->mode), "agent");
	if (!mp_strcpy(&up.data, "rstate", cv->rstate, sizeof(cv->rstate)))
		snprintf(cv->rstate, sizeof(cv->rstate), "new");
	mp_strcpy(&up.data, "agent", cv->agent, sizeof(cv->agent));
	mp_strcpy(&up.data, "tags", cv->tags, sizeof(cv->tags));
	mp_strcpy(&up.data, "disposition", cv->disposition,
	    sizeof(cv->disposition));
	{
		int64_t v;
		int b;

		if (mp_int(&up.data, "priority", &v))
			cv->priority = (int)v;
		if (mp_bool(&up.data, "attention", &b))	/* stored as a bool */
			cv->attention = b != 0;
		else if (mp_int(&up.data, "attention", &v))
			cv->attention = v != 0;
	}
	mp_int(&up.data, "queued_ts", &cv->queued_ts);
	mp_int(&up.data, "last_in_ts", &cv->last_in_ts);
	mp_int(&up.data, "ah_until", &cv->ah_until);
	mp_int(&up.data, "closed_ts", &cv->closed_ts);
	msgpack_unpacked_destroy(&up);
	return 0;
}

int
conv_put(MDB_txn *txn, const struct conv *cv)
{
	msgpack_packer pk;
	MDB_val k = { strlen(cv->id), (void *)cv->id }, v;
	msgpack_sbuffer sb;
	int rc;

	/* its own buffer: callers may hold a record in R->rec */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 24);
	mp_kv_str(&pk, "conv", cv->id);
	mp_kv_str(&pk, "channel", cv->channel);
	mp_kv_str(&pk, "addr", cv->addr);
	mp_kv_str(&pk, "contact", cv->contact);
	mp_kv_str(&pk, "campaign", cv->campaign);
	mp_kv_str(&pk, "name", cv->name[0] ? cv->name : NULL);
	mp_kv_str(&pk, "status", cv->status);
	mp_kv_int(&pk, "opened_ts", cv->opened_ts);
	mp_kv_int(&pk, "last_ts", cv->last_ts);
	mp_kv_str(&pk, "last_dir", cv->last_dir);
	mp_kv_str(&pk, "last_text", cv->last_text);
	mp_kv_str(&pk, "unrouted", cv->unrouted[0] ? cv->unrouted : NULL);
	if (cv->waiting_since)
		mp_kv_int(&pk, "waiting_since_ts", cv->waiting_since);
	else
		mp_kv_nil(&pk, "waiting_since_ts");
	mp_kv_str(&pk, "mode", cv->mode[0] ? cv->mode : "agent");
	mp_kv_str(&pk, "rstate", cv->rstate[0] ? cv->rstate : "new");
	mp_kv_str(&pk, "agent", cv->agent[0] ? cv->agent : NULL);
	mp_kv_str(&pk, "tags", cv->tags);
	mp_kv_str(&pk, "disposition", cv->disposition[0] ? cv->disposition :
	    NULL);
	mp_kv_int(&pk, "priority", cv->priority);
	mp_kv_bool(&pk, "attention", cv->attention);
	/* times not yet reached are nil, not the epoch */
	if (cv->queued_ts)
		mp_kv_int(&pk, "queued_ts", cv->queued_ts);
	else
		mp_kv_nil(&pk, "queued_ts");
	if (cv->last_in_ts)
		mp_kv_int(&pk, "last_in_ts", cv->last_in_ts);
	else
		mp_kv_nil(&pk, "last_in_ts");
	mp_kv_int(&pk, "ah_until", cv->ah_until);
	if (cv->closed_ts)
		mp_kv_int(&pk, "closed_ts", cv->closed_ts);
	else
		mp_kv_nil(&pk, "closed_ts");
	v.mv_size = sb.size;
	v.mv_data = sb.data;
	rc = mdb_put(txn, R->db_convs, &k, &v, 0);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* Copy at most 255 bytes of text for previews, not splitting a character. */
static void
preview(char *dst, size_t dstsz, const char *s, size_t n)
{
	if (n >= dstsz) {
		n = dstsz - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

msgpack_packer *
rec_begin(uint32_t nkeys)
{
	static msgpack_packer pk;

	R->rec.size = 0;
	msgpack_packer_init(&pk, &R->rec, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, nkeys);
	return &pk;
}

int
rec_append(MDB_txn *txn, const char *conv, uint64_t *seqp)
{
	const char *why;
	uint64_t seq;
	unsigned char kb[8];
	MDB_val k = { strlen(conv), (void *)conv }, v = { 8, kb };
	int rc;

	if (frame_prescan(R->rec.data, R->rec.size, &why) == -1)
		fatalx("record for %s is malformed: %s", conv, why);
	if ((rc = evlog_append(&R->log, txn, R->rec.data, R->rec.size,
	    &seq)) != 0)
		return rc;
	if (k.mv_size > 0) {
		evlog_key(seq, kb);
		if ((rc = mdb_put(txn, R->db_convev, &k, &v, 0)) != 0)
			return rc;
	}
	if (seqp)
		*seqp = seq;
	return 0;
}

/* Append a record from R->rec to the log and index it under its conv. */
static int
append(MDB_txn *txn, const char *conv, uint64_t *seqp)
{
	unsigned char kb[8];
	MDB_val k = { strlen(conv), (void *)conv }, v = { 8, kb };
	const char *why;
	uint64_t seq;
	int rc;

	/* a record that is not exactly one map is our bug, never stored */
	if (frame_prescan(R->rec.data, R->rec.size, &why) == -1)
		fatalx("record for %s is malformed: %s", conv, why);
	if ((rc = evlog_append(&R->log, txn, R->rec.data, R->rec.size,
	    &seq)) != 0)
		return rc;
	evlog_key(seq, kb);
	if ((rc = mdb_put(txn, R->db_convev, &k, &v, 0)) != 0)
		return rc;
	if (seqp)
		*seqp = seq;
	return 0;
}

/* Find the conversation (channel, addr, contact); MDB_NOTFOUND if none. */
static int
conv_find(MDB_txn *txn, const char *channel, const char *addr,
    const char *contact, struct conv *cv)
{
	char key[16 + 2 * R_ADDRLEN + 4], id[R_IDLEN];
	int rc;

	snprintf(key, sizeof(key), "%s|%s|%s", channel, addr, contact);
	if ((rc = get_str(txn, R->db_convkey, key, id, sizeof(id))) != 0)
		return rc;
	return conv_get(txn, id, cv);
}

/*
 * Find the conversation (channel, addr, contact) or open it; a new one gets
 * a "conv" event.  *cv is filled either way.
 */
static int
conv_find_open(MDB_txn *txn, const char *channel, const char *addr,
    const char *contact, long long ts, struct conv *cv)
{
	char key[16 + 2 * R_ADDRLEN + 4], id[R_IDLEN];
	msgpack_packer pk;
	int rc;

	snprintf(key, sizeof(key), "%s|%s|%s", channel, addr, contact);
	rc = get_str(txn, R->db_convkey, key, id, sizeof(id));
	if (rc == 0)
		return conv_get(txn, id, cv);
	if (rc != MDB_NOTFOUND)
		return rc;
	memset(cv, 0, sizeof(*cv));
	ulid_make("c_", cv->id);
	snprintf(cv->channel, sizeof(cv->channel), "%s", channel);
	snprintf(cv->addr, sizeof(cv->addr), "%s", addr);
	snprintf(cv->contact, sizeof(cv->contact), "%s", contact);
	/* the campaign that owns our address (campaignd), else "default" */
	camp_lookup(channel, addr, cv->campaign, sizeof(cv->campaign));
	{
		struct camp c;

		/* bot-operated campaigns' conversations start in bot mode */
		camp_get(cv->campaign, &c);
		snprintf(cv->mode, sizeof(cv->mode), "%s",
		    strcmp(c.operator_, "bot") == 0 ? "bot" : "agent");
	}
	snprintf(cv->rstate, sizeof(cv->rstate), "%s",
	    strcmp(cv->mode, "bot") == 0 ? "bot" : "new");
	snprintf(cv->status, sizeof(cv->status), "open");
	cv->opened_ts = cv->last_ts = ts;
	if ((rc = put_str(txn, R->db_convkey, key, cv->id)) != 0)
		return rc;
	R->rec.size = 0;
	msgpack_packer_init(&pk, &R->rec, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 8);
	mp_kv_str(&pk, "type", "conv");
	mp_kv_str(&pk, "conv", cv->id);
	mp_kv_str(&pk, "campaign", cv->campaign);
	mp_kv_str(&pk, "channel", channel);
	mp_kv_str(&pk, "contact", contact);
	mp_kv_str(&pk, "addr", addr);
	mp_kv_str(&pk, "status", "open");
	mp_kv_int(&pk, "ts", ts);
	if ((rc = append(txn, cv->id, NULL)) != 0)
		return rc;
	return conv_put(txn, cv);
}

/* messages */

int
mrec_put(MDB_txn *txn, const struct mrec *m)
{
	msgpack_packer pk;
	MDB_val k = { strlen(m->id), (void *)m->id }, v;

	R->rec.size = 0;
	msgpack_packer_init(&pk, &R->rec, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 9);
	mp_kv_str(&pk, "conv", m->conv);
	mp_kv_str(&pk, "dir", m->dir);
	mp_kv_str(&pk, "channel", m->channel);
	mp_kv_str(&pk, "from", m->from);
	mp_kv_str(&pk, "to", m->to);
	mp_kv_str(&pk, "state", m->state);
	mp_kv_str(&pk, "pid", m->pid[0] ? m->pid : NULL);
	mp_kv_int(&pk, "ts", m->ts);
	mp_kv_strn(&pk, "text", m->text ? m->text : "", m->textlen);
	v.mv_size = R->rec.size;
	v.mv_data = R->rec.data;
	return mdb_put(txn, R->db_msgs, &k, &v, 0);
}

int
mrec_get(MDB_txn *txn, const char *id, struct mrec *m)
{
	MDB_val k = { strlen(id), (void *)id }, v;
	msgpack_unpacked up;
	const char *t;
	size_t off = 0, tl;
	int rc;

	memset(m, 0, sizeof(*m));
	if ((rc = mdb_get(txn, R->db_msgs, &k, &v)) != 0)
		return rc;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) !=
	    MSGPACK_UNPACK_SUCCESS) {
		msgpack_unpacked_destroy(&up);
		return MDB_CORRUPTED;
	}
	snprintf(m->id, sizeof(m->id), "%s", id);
	mp_strcpy(&up.data, "conv", m->conv, sizeof(m->conv));
	mp_strcpy(&up.data, "dir", m->dir, sizeof(m->dir));
	mp_strcpy(&up.data, "channel", m->channel, sizeof(m->channel));
	mp_strcpy(&up.data, "from", m->from, sizeof(m->from));
	mp_strcpy(&up.data, "to", m->to, sizeof(m->to));
	mp_strcpy(&up.data, "state", m->state, sizeof(m->state));
	mp_strcpy(&up.data, "pid", m->pid, sizeof(m->pid));
	mp_int(&up.data, "ts", &m->ts);
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
mrec_free(struct mrec *m)
{
	free(m->text);
	m->text = NULL;
}

/* Final states never go back to earlier ones when callbacks arrive late. */
static int
state_rank(const char *s)
{
	static const char *order[] = { "queued", "sending", "sent", "failed",
	    "undelivered", "delivered", "read" };
	size_t i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (strcmp(s, order[i]) == 0)
			return (int)i;
	return 0;
}

/*
 * Append a status event for m and move its state forward.  The event
 * carries the provider id: pid when given (it becomes m's), else m's own;
 * and the provider's facts (data, a map) when given.
 */
static int
status_event(MDB_txn *txn, struct mrec *m, const char *status,
    const char *pid, const char *code, const char *reason,
    const msgpack_object *data, long long ts)
{
	struct conv cv;
	msgpack_packer pk;
	const char *p = pid && *pid ? pid : m->pid;
	int rc, n = 8;

	if ((rc = conv_get(txn, m->conv, &cv)) != 0)
		return rc;
	if (data != NULL && (data->type != MSGPACK_OBJECT_MAP ||
	    data->via.map.size == 0))
		data = NULL;
	n += (*p != '\0') + (code && *code) + (reason && *reason) +
	    (data != NULL);
	R->rec.size = 0;
	msgpack_packer_init(&pk, &R->rec, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	mp_kv_str(&pk, "type", "status");
	mp_kv_str(&pk, "conv", m->conv);
	mp_kv_str(&pk, "id", m->id);
	mp_kv_str(&pk, "campaign", cv.campaign);
	mp_kv_str(&pk, "channel", m->channel);
	mp_kv_str(&pk, "contact", cv.contact);
	mp_kv_str(&pk, "status", status);
	if (*p != '\0')
		mp_kv_str(&pk, "pid", p);
	if (code && *code)
		mp_kv_str(&pk, "code", code);
	if (reason && *reason)
		mp_kv_str(&pk, "reason", reason);
	if (data != NULL)
		mp_kv_obj(&pk, "data", data);
	mp_kv_int(&pk, "ts", ts);
	if ((rc = append(txn, m->conv, NULL)) != 0)
		return rc;
	if (pid && *pid)
		snprintf(m->pid, sizeof(m->pid), "%s", pid);
	if (state_rank(status) > state_rank(m->state))
		snprintf(m->state, sizeof(m->state), "%s", status);
	return mrec_put(txn, m);
}

/*
 * {t:"in", id, channel, pid, from, to, ts, text, name?, type?, media?}
 */
void
msg_in(struct rclient *cl, const msgpack_object *f)
{
	char channel[16], pid[128], from[R_ADDRLEN], to[R_ADDRLEN],
	    name[128] = "", idkey[160], mtype[64] = "text";
	const char *text = "";
	const msgpack_object *media, *data;
	size_t textlen = 0;
	int64_t re = 0, ts = 0;
	struct conv cv;
	struct mrec m;
	struct pans *a;
	msgpack_packer pk;
	MDB_txn *txn;
	int rc, n;

	mp_int(f, "id", &re);
	if (!mp_strcpy(f, "channel", channel, sizeof(channel)) ||
	    !mp_strcpy(f, "pid", pid, sizeof(pid)) || pid[0] == '\0' ||
	    !mp_strcpy(f, "from", from, sizeof(from)) || from[0] == '\0' ||
	    !mp_strcpy(f, "to", to, sizeof(to)) || to[0] == '\0') {
		refuse(cl, re, "invalid", "in: channel, pid, from and to are "
		    "required strings");
		return;
	}
	if (mp_get(f, "text") && !mp_str(f, "text", &text, &textlen)) {
		refuse(cl, re, "invalid", "in: text must be a string");
		return;
	}
	if (textlen > TEXT_MAX) {
		refuse(cl, re, "invalid", "in: text over 64 KiB");
		return;
	}
	mp_strcpy(f, "name", name, sizeof(name));
	if (mp_get(f, "type") && !mp_strcpy(f, "type", mtype, sizeof(mtype)))
		snprintf(mtype, sizeof(mtype), "unknown");	/* not a name */
	if (!mp_int(f, "ts", &ts) || ts <= 0)
		ts = now_ms();
	media = mp_get(f, "media");
	if (media && media->type != MSGPACK_OBJECT_ARRAY)
		media = NULL;
	/* type-specific facts (a location, a reply's context): kept as given */
	data = mp_get(f, "data");
	if (data && data->type != MSGPACK_OBJECT_MAP)
		data = NULL;

	if ((txn = store_txn(R->st)) == NULL) {
		refuse(cl, re, "store", store_error(R->st));
		return;
	}
	a = pans_new(cl, re);
	snprintf(idkey, sizeof(idkey), "p:%s:%s", channel, pid);
	rc = get_str(txn, R->db_ids, idkey, a->msg, sizeof(a->msg));
	if (rc == 0) {
		struct mrec dm;

		/* a duplicate: answer what the first delivery stored */
		a->dup = 1;
		if (mrec_get(txn, a->msg, &dm) == 0) {
			snprintf(a->conv, sizeof(a->conv), "%s", dm.conv);
			mrec_free(&dm);
		}
		store_after(R->st, answered, a);
		return;
	}
	if (rc != MDB_NOTFOUND)
		goto fail;
	if ((rc = conv_find_open(txn, channel, to, from, ts, &cv)) != 0)
		goto fail;
	memset(&m, 0, sizeof(m));
	ulid_make("m_", m.id);
	snprintf(m.conv, sizeof(m.conv), "%s", cv.id);
	snprintf(m.dir, sizeof(m.dir), "in");
	snprintf(m.channel, sizeof(m.channel), "%s", channel);
	snprintf(m.from, sizeof(m.from), "%s", from);
	snprintf(m.to, sizeof(m.to), "%s", to);
	snprintf(m.state, sizeof(m.state), "received");
	snprintf(m.pid, sizeof(m.pid), "%s", pid);
	m.ts = ts;
	m.text = (char *)text;
	m.textlen = textlen;
	if (name[0])
		snprintf(cv.name, sizeof(cv.name), "%s", name);

	/* a disabled campaign or channel: stored, never lost, but not routed */
	camp_check(cv.campaign, channel, cv.unrouted, sizeof(cv.unrouted));
	if (strcmp(cv.status, "closed") == 0) {
		/* the customer writes again: the conversation reopens */
		struct camp c;

		camp_get(cv.campaign, &c);
		snprintf(cv.status, sizeof(cv.status), "open");
		snprintf(cv.mode, sizeof(cv.mode), "%s",
		    strcmp(c.operator_, "bot") == 0 ? "bot" : "agent");
		snprintf(cv.rstate, sizeof(cv.rstate), "%s",
		    strcmp(cv.mode, "bot") == 0 ? "bot" : "new");
		cv.agent[0] = '\0';
		cv.disposition[0] = '\0';
		cv.closed_ts = 0;
	}
	n = 13 + (cv.name[0] != 0) + (media != NULL) + (data != NULL) +
	    2 * (cv.unrouted[0] != 0);
	R->rec.size = 0;
	msgpack_packer_init(&pk, &R->rec, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	mp_kv_str(&pk, "type", "message");
	mp_kv_str(&pk, "dir", "in");
	mp_kv_str(&pk, "conv", cv.id);
	mp_kv_str(&pk, "id", m.id);
	mp_kv_str(&pk, "campaign", cv.campaign);
	mp_kv_str(&pk, "channel", channel);
	mp_kv_str(&pk, "contact", from);
	mp_kv_str(&pk, "addr", to);
	if (cv.name[0])
		mp_kv_str(&pk, "name", cv.name);
	mp_kv_strn(&pk, "text", text, textlen);
	mp_kv_str(&pk, "msgtype", mtype);
	if (media)
		mp_kv_obj(&pk, "media", media);
	if (data)
		mp_kv_obj(&pk, "data", data);
	mp_kv_str(&pk, "pid", pid);
	mp_kv_str(&pk, "mode", cv.mode);
	if (cv.unrouted[0]) {
		mp_kv_bool(&pk, "routed", 0);
		mp_kv_str(&pk, "unrouted", cv.unrouted);
	}
	mp_kv_int(&pk, "ts", ts);
	if ((rc = append(txn, cv.id, NULL)) != 0)
		goto fail;
	if ((rc = mrec_put(txn, &m)) != 0 ||
	    (rc = put_str(txn, R->db_ids, idkey, m.id)) != 0)
		goto fail;
	cv.last_ts = ts;
	snprintf(cv.last_dir, sizeof(cv.last_dir), "in");
	preview(cv.last_text, sizeof(cv.last_text), text, textlen);
	if (cv.waiting_since == 0)
		cv.waiting_since = ts;
	/* a late redelivery of an older message never narrows the window */
	if (ts > cv.last_in_ts)
		cv.last_in_ts = ts;
	if ((rc = conv_put(txn, &cv)) != 0)
		goto fail;
	{
		/* blacklist, keywords, after hours; then the queue */
		int flags = policy_inbound(txn, &cv, &m, &rc);

		if (flags == -1)
			goto fail;
		if (cv.unrouted[0] == '\0' && !(flags & POL_NOROUTE) &&
		    strcmp(cv.mode, "agent") == 0 &&
		    (strcmp(cv.rstate, "new") == 0 ||
		    strcmp(cv.rstate, "closed") == 0) &&
		    (rc = route_enqueue(txn, &cv)) != 0)
			goto fail;
	}
	snprintf(a->conv, sizeof(a->conv), "%s", cv.id);
	snprintf(a->msg, sizeof(a->msg), "%s", m.id);
	store_after(R->st, answered, a);
	return;
fail:
	/* the batch is abandoned: a is answered with the others */
	store_after(R->st, answered, a);
	store_fail(R->st, rc, "storing an inbound message");
}

/*
 * {t:"st", id, channel, pid, status, code?, reason?, data?, ts}
 */
void
msg_status(struct rclient *cl, const msgpack_object *f)
{
	char channel[16], pid[128], status[24], code[32] = "",
	    reason[256] = "", key[200], msgid[R_IDLEN];
	int64_t re = 0, ts = 0;
	const msgpack_object *data;
	struct pans *a;
	struct mrec m;
	MDB_txn *txn;
	int rc;

	mp_int(f, "id", &re);
	if ((data = mp_get(f, "data")) != NULL &&
	    data->type != MSGPACK_OBJECT_MAP)
		data = NULL;
	if (!mp_strcpy(f, "channel", channel, sizeof(channel)) ||
	    !mp_strcpy(f, "pid", pid, sizeof(pid)) || pid[0] == '\0' ||
	    !mp_strcpy(f, "status", status, sizeof(status)) ||
	    status[0] == '\0') {
		refuse(cl, re, "invalid", "st: channel, pid and status are "
		    "required strings");
		return;
	}
	mp_strcpy(f, "code", code, sizeof(code));
	mp_strcpy(f, "reason", reason, sizeof(reason));
	if (!mp_int(f, "ts", &ts) || ts <= 0)
		ts = now_ms();
	if ((txn = store_txn(R->st)) == NULL) {
		refuse(cl, re, "store", store_error(R->st));
		return;
	}
	a = pans_new(cl, re);
	snprintf(key, sizeof(key), "s:%s:%s:%s", channel, pid, status);
	if ((rc = get_str(txn, R->db_ids, key, msgid, sizeof(msgid))) == 0) {
		a->dup = 1;
		snprintf(a->msg, sizeof(a->msg), "%s", msgid);
		store_after(R->st, answered, a);
		return;
	}
	if (rc != MDB_NOTFOUND)
		goto fail;
	snprintf(key, sizeof(key), "p:%s:%s", channel, pid);
	rc = get_str(txn, R->db_ids, key, msgid, sizeof(msgid));
	if (rc == MDB_NOTFOUND) {
		/*
		 * The provider called back before its API answer reached us:
		 * keep the status until the "sent" result names this pid.
		 */
		msgpack_packer pk;
		MDB_val k = { strlen(key), key }, v;

		R->rec.size = 0;
		msgpack_packer_init(&pk, &R->rec, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 4 + (data != NULL));
		mp_kv_str(&pk, "status", status);
		mp_kv_str(&pk, "code", code);
		mp_kv_str(&pk, "reason", reason);
		if (data != NULL)
			mp_kv_obj(&pk, "data", data);
		mp_kv_int(&pk, "ts", ts);
		v.mv_size = R->rec.size;
		v.mv_data = R->rec.data;
		if ((rc = mdb_put(txn, R->db_orphan, &k, &v, 0)) != 0)
			goto fail;
		store_after(R->st, answered, a);
		return;
	}
	if (rc != 0 || (rc = mrec_get(txn, msgid, &m)) != 0)
		goto fail;
	snprintf(key, sizeof(key), "s:%s:%s:%s", channel, pid, status);
	rc = put_str(txn, R->db_ids, key, msgid);
	if (rc == 0)
		rc = status_event(txn, &m, status, NULL, code, reason, data,
		    ts);
	mrec_free(&m);
	if (rc != 0)
		goto fail;
	snprintf(a->msg, sizeof(a->msg), "%s", msgid);
	store_after(R->st, answered, a);
	return;
fail:
	store_after(R->st, answered, a);
	store_fail(R->st, rc, "storing a status");
}

/* Statuses that arrived before the pid was known. */
static int
orphans_apply(MDB_txn *txn, struct mrec *m)
{
	char key[200];
	MDB_val k, v;
	MDB_cursor *cur;
	int rc;

	snprintf(key, sizeof(key), "p:%s:%s", m->channel, m->pid);
	k.mv_size = strlen(key);
	k.mv_data = key;
	if ((rc = mdb_cursor_open(txn, R->db_orphan, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		msgpack_unpacked up;
		size_t off = 0;
		char status[24] = "", code[32] = "", reason[256] = "",
		    skey[200], seen[R_IDLEN];
		int64_t ts = 0;
		int r2;

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
		snprintf(skey, sizeof(skey), "s:%s:%s:%s", m->channel, m->pid,
		    status);
		r2 = get_str(txn, R->db_ids, skey, seen, sizeof(seen));
		if (r2 == 0) {
			msgpack_unpacked_destroy(&up);
			continue;	/* already recorded, e.g. "sent" */
		}
		if (r2 != MDB_NOTFOUND ||
		    (r2 = put_str(txn, R->db_ids, skey, m->id)) != 0 ||
		    (r2 = status_event(txn, m, status, NULL, code, reason,
		    mp_get(&up.data, "data"), ts)) != 0) {
			msgpack_unpacked_destroy(&up);
			mdb_cursor_close(cur);
			return r2;
		}
		msgpack_unpacked_destroy(&up);
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return rc;
	k.mv_size = strlen(key);
	k.mv_data = key;
	rc = mdb_del(txn, R->db_orphan, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

struct rdone {
	char	msg[R_IDLEN];
	char	spool[64];	/* the spool name of the file it carried, or "" */
};

static void
result_done(void *arg, int ok)
{
	struct rdone *d = arg;

	if (!ok)
		log_warnx("msg=%s result not stored; it stays queued and is "
		    "dispatched again", d->msg);
	else if (d->spool[0] != '\0' && spool_unlink(R->d.home, d->spool) == -1)
		log_warnx("msg=%s: spool %s: %s", d->msg, d->spool,
		    strerror(errno));
	free(d);
}

/* The spool name of the file message msgid carried (its copy from msg send
 * --file), or "". */
static void
spool_of(MDB_txn *txn, const char *msgid, char *spool, size_t spoolsz)
{
	char key[R_IDLEN + 8];
	MDB_val k, v;
	msgpack_unpacked up;
	const msgpack_object *file;
	size_t off = 0;

	spool[0] = '\0';
	snprintf(key, sizeof(key), "x:%s", msgid);
	k.mv_size = strlen(key);
	k.mv_data = key;
	if (mdb_get(txn, R->db_ids, &k, &v) != 0)
		return;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) ==
	    MSGPACK_UNPACK_SUCCESS && (file = mp_get(&up.data, "file")) !=
	    NULL && out_spool_name(file, spool, spoolsz) == -1)
		spool[0] = '\0';
	msgpack_unpacked_destroy(&up);
}

/*
 * The channel daemon answered an out request: pid on success, or the
 * provider's code and reason.  Recorded as "sent" or "failed", once: a
 * message no longer pending has its result.  A pid that already belongs
 * to another of our messages (two identical messages in doubt both found
 * the one copy the provider had) is not this message's: it is taken as
 * not sent and dispatched again as a first try, to be sent anew.
 */
void
msg_result(const char *msgid, const char *pid, const char *code,
    const char *reason)
{
	MDB_txn *txn;
	MDB_val k = { strlen(msgid), (void *)msgid }, v;
	struct mrec m;
	char key[200], owner[R_IDLEN];
	int rc;

	if ((txn = store_txn(R->st)) == NULL) {
		log_warnx("msg=%s result not stored: %s", msgid,
		    store_error(R->st));
		return;
	}
	if ((rc = mrec_get(txn, msgid, &m)) != 0) {
		if (rc == MDB_NOTFOUND) {
			log_warnx("msg=%s result for an unknown message",
			    msgid);
			return;
		}
		store_fail(R->st, rc, "reading a message");
		return;
	}
	if ((rc = mdb_get(txn, R->db_pending, &k, &v)) != 0) {
		mrec_free(&m);
		if (rc != MDB_NOTFOUND) {
			store_fail(R->st, rc, "reading the pending queue");
			return;
		}
		log_debug("msg=%s already has its result; %s ignored", msgid,
		    pid ? pid : code ? code : "answer");
		return;
	}
	if (pid) {
		snprintf(key, sizeof(key), "p:%s:%s", m.channel, pid);
		rc = get_str(txn, R->db_ids, key, owner, sizeof(owner));
		if (rc == 0 && strcmp(owner, msgid) != 0) {
			log_warnx("msg=%s: provider id %s already belongs to "
			    "msg=%s; taken as not sent, dispatched again",
			    msgid, pid, owner);
			mrec_free(&m);
			dispatch(msgid);
			return;
		}
		if (rc != 0 && rc != MDB_NOTFOUND)
			goto fail;
		snprintf(m.pid, sizeof(m.pid), "%s", pid);
		if ((rc = put_str(txn, R->db_ids, key, msgid)) != 0)
			goto fail;
		/* the provider's own "sent" callback is then a duplicate */
		snprintf(key, sizeof(key), "s:%s:%s:sent", m.channel, pid);
		if ((rc = put_str(txn, R->db_ids, key, msgid)) != 0 ||
		    (rc = status_event(txn, &m, "sent", pid, NULL, NULL, NULL,
		    now_ms())) != 0 ||
		    (rc = orphans_apply(txn, &m)) != 0)
			goto fail;
	} else {
		log_info("msg=%s failed: %s %s", msgid, code ? code : "",
		    reason ? reason : "");
		if ((rc = status_event(txn, &m, "failed", NULL, code, reason,
		    NULL, now_ms())) != 0)
			goto fail;
	}
	rc = mdb_del(txn, R->db_pending, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	mrec_free(&m);
	{
		/* sent or failed for good: the spooled file is not needed */
		struct rdone *d;

		if ((d = calloc(1, sizeof(*d))) == NULL)
			fatalx("out of memory");
		snprintf(d->msg, sizeof(d->msg), "%s", msgid);
		spool_of(txn, msgid, d->spool, sizeof(d->spool));
		store_after(R->st, result_done, d);
	}
	return;
fail:
	mrec_free(&m);
	store_fail(R->st, rc, "storing a send result");
}

/*
 * Check a send's attachments: file {name, mime, size, source} or media
 * [{url, mime?}] (http(s) URLs, at most MEDIA_MAX).  The media are packed
 * clean into sb (only url and mime).  0, or -1 with why.
 */
#define MEDIA_MAX	10
#define URL_MAX		1024
static int
attachments(const msgpack_object *file, const msgpack_object *media,
    msgpack_sbuffer *sb, char *why, size_t whysz)
{
	const msgpack_object *e;
	msgpack_packer pk;
	const char *u;
	char mime[128], src[16];
	int64_t size;
	size_t i, j, ul;

	if (file != NULL && media != NULL) {
		snprintf(why, whysz, "send: a file or media URLs, not both");
		return -1;
	}
	if (file != NULL) {
		if (file->type != MSGPACK_OBJECT_MAP ||
		    !mp_str(file, "name", &u, &ul) || ul == 0 ||
		    !mp_strcpy(file, "mime", mime, sizeof(mime)) ||
		    !valid_mime(mime) || !mp_int(file, "size", &size) ||
		    size < 0) {
			snprintf(why, whysz, "send: file needs a name, a MIME "
			    "type and a size");
			return -1;
		}
		if (mp_get(file, "source") &&
		    (!mp_strcpy(file, "source", src, sizeof(src)) ||
		    (strcmp(src, "local") != 0 && strcmp(src, "library") != 0))) {
			snprintf(why, whysz, "send: file source is local or "
			    "library");
			return -1;
		}
		return 0;
	}
	if (media == NULL)
		return 0;
	if (media->type != MSGPACK_OBJECT_ARRAY || media->via.array.size == 0 ||
	    media->via.array.size > MEDIA_MAX) {
		snprintf(why, whysz, "send: media is a list of 1 to %d "
		    "{url, mime}", MEDIA_MAX);
		return -1;
	}
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, media->via.array.size);
	for (i = 0; i < media->via.array.size; i++) {
		e = &media->via.array.ptr[i];
		if (e->type != MSGPACK_OBJECT_MAP || !mp_str(e, "url", &u, &ul) ||
		    ul > URL_MAX || !((ul > 8 && strncmp(u, "https://", 8) == 0) ||
		    (ul > 7 && strncmp(u, "http://", 7) == 0))) {
			snprintf(why, whysz, "send: media[%zu] needs an http(s) "
			    "url of at most %d bytes", i, URL_MAX);
			return -1;
		}
		for (j = 0; j < ul; j++)
			if ((unsigned char)u[j] <= ' ' || u[j] == 0x7f) {
				snprintf(why, whysz, "send: media[%zu]: a URL "
				    "has no spaces or control characters", i);
				return -1;
			}
		mime[0] = '\0';
		if (mp_get(e, "mime") && (!mp_strcpy(e, "mime", mime,
		    sizeof(mime)) || !valid_mime(mime))) {
			snprintf(why, whysz, "send: media[%zu]: mime is not a "
			    "MIME type", i);
			return -1;
		}
		msgpack_pack_map(&pk, 1 + (mime[0] != '\0'));
		mp_kv_strn(&pk, "url", u, ul);
		if (mime[0])
			mp_kv_str(&pk, "mime", mime);
	}
	return 0;
}

/*
 * {t:"send", id, text, conv? | to, from, channel?, key?, file?, media?}
 * With a file or media the text may be left out.
 *
 * A client's key is its own: it is kept under the sender's Unix user
 * ("k:u<uid>:<key>"), so two agents using the same key never see each
 * other's messages, and no client can occupy the keys routerd uses for its
 * bot answers ("k:bot:<msg>", "k:idk:<msg>").  Only routerd's own callers
 * (internal) may say "bot": a client's "bot" is ignored.
 */
static void send_frame(struct rclient *, const msgpack_object *, int);

void
msg_send(struct rclient *cl, const msgpack_object *f)
{
	send_frame(cl, f, 0);
}

void
msg_send_internal(struct rclient *cl, const msgpack_object *f)
{
	send_frame(cl, f, 1);
}

static void
send_frame(struct rclient *cl, const msgpack_object *f, int internal)
{
	char conv[R_IDLEN] = "", to[R_ADDRLEN] = "", from[R_ADDRLEN] = "",
	    channel[16] = "", ckey[200] = "", idkey[220];
	const char *text, *t;
	size_t textlen, n;
	int64_t re = 0;
	long long ts = now_ms();
	struct conv cv;
	struct mrec m;
	struct pans *a;
	msgpack_packer pk;
	MDB_txn *txn;
	MDB_val k, v = { 0, (void *)"" };
	struct who *who = auth_who(cl);
	char *expanded = NULL, why[256];
	const msgpack_object *file = mp_get(f, "file"), *media = mp_get(f,
	    "media"), *tpl = mp_get(f, "template");
	msgpack_sbuffer msb, xsb;
	msgpack_packer xpk;
	msgpack_unpacked mup;
	size_t moff = 0;
	uint32_t nx = 0;
	char *rendered = NULL, tname[128] = "", reply_to[R_IDLEN] = "",
	    rpid[128] = "";
	const char *tag = NULL;
	int rc, creating, isbot = 0;
	uid_t peer = (uid_t)-1;

	mp_int(f, "id", &re);
	if (who->role == RR_NONE) {
		refuse(cl, re, "denied", "send: you are not a parley agent");
		return;
	}
	if (internal)
		mp_bool(f, "bot", &isbot);
	isbot = isbot != 0;
	if (file != NULL && file->type == MSGPACK_OBJECT_NIL)
		file = NULL;
	if (media != NULL && media->type == MSGPACK_OBJECT_NIL)
		media = NULL;
	if (tpl != NULL && tpl->type == MSGPACK_OBJECT_NIL)
		tpl = NULL;
	if (tpl != NULL && (file != NULL || media != NULL)) {
		refuse(cl, re, "invalid", "send: a template goes alone, "
		    "without files or media");
		return;
	}
	/* a file in the spool must be the sender's own (routerd_out) */
	if (file != NULL && (cl->c == NULL ||
	    bus_peer(cl->c, &peer, NULL, NULL) == -1)) {
		refuse(cl, re, "denied", "send: who sent the file is unknown");
		return;
	}
	if (mp_get(f, "reply_to") && (!mp_strcpy(f, "reply_to", reply_to,
	    sizeof(reply_to)) || reply_to[0] == '\0')) {
		refuse(cl, re, "invalid", "send: reply_to is a message id");
		return;
	}
	if (tpl != NULL) {
		/* the text is the template's body, rendered below */
		text = "";
		textlen = 0;
	} else if (file == NULL && media == NULL) {
		if (!mp_str(f, "text", &text, &textlen) || textlen == 0) {
			refuse(cl, re, "invalid", "send: text is required");
			return;
		}
	} else if (!mp_str(f, "text", &text, &textlen)) {
		text = "";
		textlen = 0;
	}
	if (textlen > TEXT_MAX) {
		refuse(cl, re, "invalid", "send: text over 64 KiB");
		return;
	}
	if (mp_get(f, "key") && (!mp_str(f, "key", &t, &n) || n == 0 ||
	    n > 128 || !mp_strcpy(f, "key", ckey, sizeof(ckey)))) {
		refuse(cl, re, "invalid", "send: key must be 1 to 128 bytes");
		return;
	}
	msgpack_sbuffer_init(&msb);
	msgpack_sbuffer_init(&xsb);
	msgpack_packer_init(&xpk, &xsb, msgpack_sbuffer_write);
	msgpack_unpacked_init(&mup);
	if (attachments(file, media, &msb, why, sizeof(why)) == -1) {
		refuse(cl, re, "invalid", why);
		goto out;
	}
	if (media != NULL) {
		/* from here on, media is the clean copy */
		if (msgpack_unpack_next(&mup, msb.data, msb.size, &moff) !=
		    MSGPACK_UNPACK_SUCCESS)
			fatalx("media packed by us does not unpack");
		media = &mup.data;
	}
	mp_strcpy(f, "conv", conv, sizeof(conv));
	mp_strcpy(f, "channel", channel, sizeof(channel));
	if (conv[0] == '\0') {
		if (!mp_strcpy(f, "to", to, sizeof(to)) ||
		    !mp_strcpy(f, "from", from, sizeof(from))) {
			refuse(cl, re, "invalid", "send: conv, or to and from, "
			    "are required");
			goto out;
		}
		if (strncmp(to, "sms:", 4) == 0) {
			memmove(to, to + 4, strlen(to + 4) + 1);
			snprintf(channel, sizeof(channel), "sms");
		} else if (strncmp(to, "whatsapp:", 9) == 0) {
			memmove(to, to + 9, strlen(to + 9) + 1);
			snprintf(channel, sizeof(channel), "whatsapp");
		}
		if (channel[0] == '\0')
			snprintf(channel, sizeof(channel), "sms");
		if (strcmp(channel, "sms") != 0 &&
		    strcmp(channel, "whatsapp") != 0) {
			refuse(cl, re, "invalid", "send: new conversations "
			    "start on sms or whatsapp");
			goto out;
		}
		/* WhatsApp also reaches a business-scoped user id */
		if (!valid_e164(to) && !(strcmp(channel, "whatsapp") == 0 &&
		    valid_bsuid(to))) {
			refuse(cl, re, "invalid", "send: to must be an E.164 "
			    "number (+ and 8 to 15 digits), or on WhatsApp a "
			    "business-scoped user id");
			goto out;
		}
		if (!valid_addr(channel, from, why, sizeof(why))) {
			refuse(cl, re, "invalid", why);
			goto out;
		}
	}
	if ((txn = store_txn(R->st)) == NULL) {
		refuse(cl, re, "store", store_error(R->st));
		goto out;
	}
	if (ckey[0] && !internal) {
		uid_t uid;

		if (cl->c == NULL || bus_peer(cl->c, &uid, NULL, NULL) == -1) {
			refuse(cl, re, "denied", "send: who sent the key is "
			    "unknown");
			goto out;
		}
		snprintf(idkey, sizeof(idkey), "k:u%u:%s", (unsigned)uid, ckey);
	} else if (ckey[0])
		snprintf(idkey, sizeof(idkey), "k:%s", ckey);
	if (ckey[0]) {
		rc = get_str(txn, R->db_ids, idkey, m.id, sizeof(m.id));
		if (rc == 0) {
			/* the first send has its file: this copy goes */
			if (file != NULL)
				out_spool_drop(file, peer);
			a = pans_new(cl, re);
			a->dup = 1;
			snprintf(a->msg, sizeof(a->msg), "%s", m.id);
			if (mrec_get(txn, a->msg, &m) == 0) {
				snprintf(a->conv, sizeof(a->conv), "%s",
				    m.conv);
				mrec_free(&m);
			}
			store_after(R->st, answered, a);
			goto out;
		}
	}
	creating = 0;
	if (conv[0]) {
		rc = conv_get(txn, conv, &cv);
		if (rc == MDB_NOTFOUND) {
			refuse(cl, re, "notfound", "send: no such conversation");
			goto out;
		}
		if (rc == 0 && auth_check_conv(cl, re, &cv) != 0)
			goto out;
	} else {
		char campaign[64];

		camp_lookup(channel, from, campaign, sizeof(campaign));
		if (!auth_can_create(who, campaign)) {
			char why[200];

			snprintf(why, sizeof(why), "starting a conversation in "
			    "campaign %s needs the create permission",
			    campaign);
			refuse(cl, re, "denied", why);
			goto out;
		}
		rc = conv_find(txn, channel, from, to, &cv);
		if (rc == MDB_NOTFOUND) {
			/* opened only if the policy lets the message go */
			memset(&cv, 0, sizeof(cv));
			snprintf(cv.channel, sizeof(cv.channel), "%s", channel);
			snprintf(cv.addr, sizeof(cv.addr), "%s", from);
			snprintf(cv.contact, sizeof(cv.contact), "%s", to);
			snprintf(cv.campaign, sizeof(cv.campaign), "%s",
			    campaign);
			snprintf(cv.mode, sizeof(cv.mode), "agent");
			creating = 1;
			rc = 0;
		}
	}
	a = pans_new(cl, re);
	if (rc != 0)
		goto fail;
	/* a template, a reply: checked before the policy, which records */
	why[0] = '\0';
	if (tpl != NULL && out_template(&cv, tpl, &xpk, &rendered, tname,
	    sizeof(tname), why, sizeof(why)) == -1)
		;	/* why says it */
	else if (reply_to[0] && creating)
		snprintf(why, sizeof(why), "send: reply to %s: the "
		    "conversation is new", reply_to);
	else if (reply_to[0])
		out_reply_to(txn, &cv, reply_to, rpid, sizeof(rpid), why,
		    sizeof(why));
	if (why[0] != '\0') {
		snprintf(a->errcode, sizeof(a->errcode), "invalid");
		snprintf(a->errmsg, sizeof(a->errmsg), "%s", why);
		store_after(R->st, answered, a);
		goto out;
	}
	if (tpl != NULL) {
		nx++;
		text = rendered;
		textlen = strlen(rendered);
	}
	/* the one suppression check: opt-out, blacklist, windows; canned */
	if (policy_outbound(txn, who, &cv, text, textlen, !isbot,
	    tpl ? tname : NULL, &expanded, &tag, why, sizeof(why), &rc) == -1) {
		if (rc != 0)
			goto fail;
		snprintf(a->errcode, sizeof(a->errcode), "refused");
		snprintf(a->errmsg, sizeof(a->errmsg), "%s", why);
		store_after(R->st, answered, a);
		goto out;
	}
	/* files: the campaign's policy and the channel's limits */
	if (policy_file(txn, who, &cv, file, media, why, sizeof(why),
	    &rc) == -1) {
		if (rc != 0)
			goto fail;
		snprintf(a->errcode, sizeof(a->errcode), "refused");
		snprintf(a->errmsg, sizeof(a->errmsg), "%s", why);
		store_after(R->st, answered, a);
		goto out;
	}
	if (file != NULL) {
		if (out_file(file, peer, &xpk, why, sizeof(why)) == -1) {
			snprintf(a->errcode, sizeof(a->errcode), "denied");
			snprintf(a->errmsg, sizeof(a->errmsg), "%s", why);
			store_after(R->st, answered, a);
			goto out;
		}
		nx++;
	}
	if (media != NULL) {
		mp_kv_obj(&xpk, "media", media);
		nx++;
	}
	if (rpid[0]) {
		mp_kv_str(&xpk, "reply_to", rpid);
		nx++;
	}
	if (tag != NULL) {
		mp_kv_str(&xpk, "tag", tag);
		nx++;
	}
	if (expanded) {
		text = expanded;
		textlen = strlen(expanded);
	}
	if (strcmp(cv.channel, "sms") == 0 &&
	    valid_utf8_chars(text, textlen) > SMS_MAXCHARS) {
		if (cl->alive)
			bus_answer_err(cl->c, re, "invalid", "send: an SMS "
			    "body is at most 1600 characters");
		client_unref(a->cl);
		free(a);
		goto out;
	}
	if (creating &&
	    (rc = conv_find_open(txn, channel, from, to, ts, &cv)) != 0)
		goto fail;
	/* an agent's reply to a waiting or offered conversation claims it */
	if (!isbot && who->agent[0] && strcmp(cv.mode, "agent") == 0 &&
	    (strcmp(cv.rstate, "waiting") == 0 ||
	    strcmp(cv.rstate, "offered") == 0 ||
	    strcmp(cv.rstate, "new") == 0) &&
	    (rc = route_assign(txn, &cv, who->agent, "reply")) != 0)
		goto fail;
	memset(&m, 0, sizeof(m));
	ulid_make("m_", m.id);
	snprintf(m.conv, sizeof(m.conv), "%s", cv.id);
	snprintf(m.dir, sizeof(m.dir), "out");
	snprintf(m.channel, sizeof(m.channel), "%s", cv.channel);
	snprintf(m.from, sizeof(m.from), "%s", cv.addr);
	snprintf(m.to, sizeof(m.to), "%s", cv.contact);
	snprintf(m.state, sizeof(m.state), "queued");
	m.ts = ts;
	m.text = (char *)text;
	m.textlen = textlen;

	R->rec.size = 0;
	msgpack_packer_init(&pk, &R->rec, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 11 + (ckey[0] != 0) + (who->agent[0] != 0) +
	    isbot + (media != NULL) + (tpl != NULL) + (file != NULL) +
	    (rpid[0] != 0));
	mp_kv_str(&pk, "type", "message");
	mp_kv_str(&pk, "dir", "out");
	mp_kv_str(&pk, "conv", cv.id);
	mp_kv_str(&pk, "id", m.id);
	mp_kv_str(&pk, "campaign", cv.campaign);
	mp_kv_str(&pk, "channel", cv.channel);
	mp_kv_str(&pk, "contact", cv.contact);
	mp_kv_str(&pk, "addr", cv.addr);
	mp_kv_strn(&pk, "text", text, textlen);
	if (media != NULL)
		mp_kv_obj(&pk, "media", media);
	if (tpl != NULL)
		mp_kv_str(&pk, "template", tname);
	if (file != NULL) {
		char fname[256] = "";

		mp_strcpy(file, "name", fname, sizeof(fname));
		mp_kv_str(&pk, "file", fname);
	}
	if (rpid[0])
		mp_kv_str(&pk, "reply_to", reply_to);
	mp_kv_str(&pk, "status", "queued");
	if (ckey[0])
		mp_kv_str(&pk, "key", ckey);
	if (who->agent[0])
		mp_kv_str(&pk, "agent", who->agent);
	if (isbot)
		mp_kv_bool(&pk, "bot", 1);
	mp_kv_int(&pk, "ts", ts);
	if ((rc = append(txn, cv.id, NULL)) != 0 ||
	    (rc = mrec_put(txn, &m)) != 0)
		goto fail;
	k.mv_size = strlen(m.id);
	k.mv_data = m.id;
	if ((rc = mdb_put(txn, R->db_pending, &k, &v, 0)) != 0)
		goto fail;
	if (ckey[0] && (rc = put_str(txn, R->db_ids, idkey, m.id)) != 0)
		goto fail;
	if (nx > 0) {
		/* what it carries, for dispatch: "x:<msg>" -> a map */
		char mkey[R_IDLEN + 8];
		msgpack_sbuffer xm;
		msgpack_packer xmp;
		MDB_val mk, mv;

		msgpack_sbuffer_init(&xm);
		msgpack_packer_init(&xmp, &xm, msgpack_sbuffer_write);
		msgpack_pack_map(&xmp, nx);
		msgpack_sbuffer_write(&xm, xsb.data, xsb.size);
		mv.mv_size = xm.size;
		mv.mv_data = xm.data;
		snprintf(mkey, sizeof(mkey), "x:%s", m.id);
		mk.mv_size = strlen(mkey);
		mk.mv_data = mkey;
		rc = mdb_put(txn, R->db_ids, &mk, &mv, 0);
		msgpack_sbuffer_destroy(&xm);
		if (rc != 0)
			goto fail;
	}
	cv.last_ts = ts;
	snprintf(cv.last_dir, sizeof(cv.last_dir), "out");
	if (textlen == 0 && (media != NULL || file != NULL))
		snprintf(cv.last_text, sizeof(cv.last_text), "(media)");
	else
		preview(cv.last_text, sizeof(cv.last_text), text, textlen);
	cv.waiting_since = 0;
	if ((rc = conv_put(txn, &cv)) != 0)
		goto fail;
	snprintf(a->conv, sizeof(a->conv), "%s", cv.id);
	snprintf(a->msg, sizeof(a->msg), "%s", m.id);
	a->dispatch = 1;
	store_after(R->st, answered, a);
	goto out;
fail:
	store_after(R->st, answered, a);
	store_fail(R->st, rc, "queueing an outbound message");
out:
	free(expanded);
	free(rendered);
	msgpack_unpacked_destroy(&mup);
	msgpack_sbuffer_destroy(&msb);
	msgpack_sbuffer_destroy(&xsb);
}
