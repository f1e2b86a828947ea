/*
 * routerd_out — what an outbound message carries besides its text, checked
 * when it is queued and kept for dispatch under "x:<msg>" in the ids
 * database (one msgpack map):
 *
 *   media     [{url, mime?}]       send by link (msg send --media-url)
 *   file      {spool, name, mime, size, uid}  upload first (msg send
 *                                  --file: the copy msg put in
 *                                  $home/spool/, and who sent it)
 *   template  {name, lang, header?, body, buttons?}  a WhatsApp template
 *   reply_to  the provider id of the customer's message being answered
 *   tag       "HUMAN_AGENT" when Messenger's 7-day window needs it
 *
 * The channel daemon gets these fields as they are in its "out" request.
 * A rule module: the send path and routerd_result call it; it calls
 * routerd_store (messages, extras), routerd_campaign (templates) and lib/.
 *
 * A file is only ever a name in the spool, checked (lib/spool) as a regular
 * file with one link owned by the Unix user on the other end of the socket
 * (SO_PEERCRED), which is recorded with it: the channel daemon checks the
 * same again before it uploads, since any agent can drop entries in the
 * spool under any name.  The agent is told one reason whatever the entry
 * was, so a refusal reveals nothing about what a link pointed at.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "log.h"
#include "mp.h"
#include "routerd.h"
#include "spool.h"
#include "valid.h"

#define TPL_PARAM_MAX	1024	/* characters of one parameter */
#define TPL_PARAMS_MAX	32

/* The components of a template document: params of HEADER and BODY, the
 * indexes of its QUICK_REPLY buttons, the body's text. */
struct tpl {
	int		 nhead, nbody;
	int		 qr[10];
	int		 nqr;
	const char	*body;
	size_t		 bodylen;
};

static void
tpl_read(const msgpack_object *doc, struct tpl *t)
{
	const msgpack_object *comps, *c, *btns, *b;
	char type[16];
	int64_t n;
	size_t i, j;

	memset(t, 0, sizeof(*t));
	if ((comps = mp_get(doc, "components")) == NULL ||
	    comps->type != MSGPACK_OBJECT_ARRAY)
		return;
	for (i = 0; i < comps->via.array.size; i++) {
		c = &comps->via.array.ptr[i];
		if (c->type != MSGPACK_OBJECT_MAP ||
		    !mp_strcpy(c, "type", type, sizeof(type)))
			continue;
		if (strcmp(type, "HEADER") == 0 && mp_int(c, "params", &n))
			t->nhead = (int)n;
		else if (strcmp(type, "BODY") == 0) {
			if (mp_int(c, "params", &n))
				t->nbody = (int)n;
			mp_str(c, "text", &t->body, &t->bodylen);
		} else if (strcmp(type, "BUTTONS") == 0 &&
		    (btns = mp_get(c, "buttons")) != NULL &&
		    btns->type == MSGPACK_OBJECT_ARRAY) {
			for (j = 0; j < btns->via.array.size && t->nqr < 10;
			    j++) {
				b = &btns->via.array.ptr[j];
				if (b->type == MSGPACK_OBJECT_MAP &&
				    mp_strcpy(b, "type", type, sizeof(type)) &&
				    strcmp(type, "QUICK_REPLY") == 0)
					t->qr[t->nqr++] = (int)j;
			}
		}
	}
}

/* A list of 0..max text parameters; its size, or -1 with why. */
static int
params(const msgpack_object *o, const char *what, int max, char *why,
    size_t whysz)
{
	const msgpack_object *e;
	size_t i;

	if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > (size_t)max) {
		snprintf(why, whysz, "send: template %s parameters are a list "
		    "of at most %d", what, max);
		return -1;
	}
	for (i = 0; i < o->via.array.size; i++) {
		e = &o->via.array.ptr[i];
		if (e->type != MSGPACK_OBJECT_STR || e->via.str.size == 0 ||
		    !valid_utf8(e->via.str.ptr, e->via.str.size) ||
		    valid_utf8_chars(e->via.str.ptr, e->via.str.size) >
		    TPL_PARAM_MAX) {
			snprintf(why, whysz, "send: template %s parameter %zu "
			    "must be 1 to %d characters of text", what, i + 1,
			    TPL_PARAM_MAX);
			return -1;
		}
	}
	return (int)o->via.array.size;
}

/* The body with {{n}} replaced by the parameters: malloc'd. */
static char *
render(const struct tpl *t, const msgpack_object *body)
{
	size_t cap = t->bodylen + 1, len = 0, i = 0, pl;
	const char *p;
	char *out;
	int n;

	if (body != NULL && body->type == MSGPACK_OBJECT_ARRAY)
		for (n = 0; n < (int)body->via.array.size; n++)
			cap += body->via.array.ptr[n].via.str.size;
	if ((out = malloc(cap)) == NULL)
		fatalx("out of memory");
	while (i < t->bodylen) {
		if (t->body[i] == '{' && i + 4 < t->bodylen &&
		    t->body[i + 1] == '{' && isdigit((unsigned char)t->body[i + 2])) {
			size_t j = i + 2;

			n = 0;
			while (j < t->bodylen && isdigit((unsigned char)t->body[j]) &&
			    n < 1000)
				n = n * 10 + (t->body[j++] - '0');
			if (j + 1 < t->bodylen && t->body[j] == '}' &&
			    t->body[j + 1] == '}' && n >= 1 && body != NULL &&
			    body->type == MSGPACK_OBJECT_ARRAY &&
			    n <= (int)body->via.array.size) {
				p = body->via.array.ptr[n - 1].via.str.ptr;
				pl = body->via.array.ptr[n - 1].via.str.size;
				memcpy(out + len, p, pl);
				len += pl;
				i = j + 2;
				continue;
			}
		}
		out[len++] = t->body[i++];
	}
	out[len] = '\0';
	return out;
}

int
out_template(const struct who *w, const struct conv *cv,
    const msgpack_object *tpl, msgpack_packer *pk, char **text, char *tname,
    size_t tnamesz, char *why, size_t whysz)
{
	char name[128], lang[32];
	const msgpack_object *head, *body, *btns, *e;
	msgpack_unpacked up;
	MDB_txn *ct = NULL;
	struct tpl t;
	int nh, nb, rc = -1;
	size_t i;

	*text = NULL;
	if (cv->channel != CH_WHATSAPP) {
		/* a global text template: plain text, filled here */
		if (tpl->type != MSGPACK_OBJECT_MAP ||
		    !mp_strcpy(tpl, "name", name, sizeof(name)) ||
		    name[0] == '\0') {
			snprintf(why, whysz, "send: a template needs a name");
			return -1;
		}
		if (canned_template(w, cv, name, text, why, whysz) == -1)
			return -1;
		snprintf(tname, tnamesz, "%s", name);
		return 1;
	}
	if (tpl->type != MSGPACK_OBJECT_MAP ||
	    !mp_strcpy(tpl, "name", name, sizeof(name)) || name[0] == '\0' ||
	    !mp_strcpy(tpl, "lang", lang, sizeof(lang)) || lang[0] == '\0') {
		snprintf(why, whysz, "send: a template needs a name and a "
		    "language");
		return -1;
	}
	head = mp_get(tpl, "header");
	body = mp_get(tpl, "body");
	btns = mp_get(tpl, "buttons");
	if ((nh = params(head, "header", 1, why, whysz)) == -1 ||
	    (nb = params(body, "body", TPL_PARAMS_MAX, why, whysz)) == -1)
		return -1;
	msgpack_unpacked_init(&up);
	if (camp_rtxn(&ct) != 0 || camp_wtemplate(ct, name, lang, &up) != 0) {
		snprintf(why, whysz, "send: no WhatsApp template %s in %s (msg "
		    "template wa list)", name, lang);
		goto done;
	}
	tpl_read(&up.data, &t);
	if (nb != t.nbody || nh != t.nhead) {
		snprintf(why, whysz, "send: template %s (%s) takes %d body "
		    "parameter%s%s; %d given%s", name, lang, t.nbody,
		    t.nbody == 1 ? "" : "s", t.nhead ? " and 1 header "
		    "parameter" : "", nb, nh ? " and a header parameter" : "");
		goto done;
	}
	if (btns != NULL && btns->type != MSGPACK_OBJECT_NIL &&
	    (btns->type != MSGPACK_OBJECT_ARRAY ||
	    btns->via.array.size > (size_t)t.nqr)) {
		snprintf(why, whysz, "send: template %s (%s) has %d quick-reply "
		    "button%s to give a payload", name, lang, t.nqr,
		    t.nqr == 1 ? "" : "s");
		goto done;
	}
	if (btns != NULL && btns->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < btns->via.array.size; i++) {
			e = &btns->via.array.ptr[i];
			if (e->type != MSGPACK_OBJECT_STR || e->via.str.size == 0 ||
			    e->via.str.size > 256 ||
			    !valid_utf8(e->via.str.ptr, e->via.str.size)) {
				snprintf(why, whysz, "send: button payload %zu "
				    "must be 1 to 256 bytes of text", i + 1);
				goto done;
			}
		}
	snprintf(tname, tnamesz, "%s", name);
	*text = render(&t, body);
	/* template: {name, lang, header?, body, buttons?[{index, payload}]} */
	mp_pack_cstr(pk, "template");
	msgpack_pack_map(pk, 3 + (nh > 0) + (btns != NULL &&
	    btns->type == MSGPACK_OBJECT_ARRAY && btns->via.array.size > 0));
	mp_kv_str(pk, "name", name);
	mp_kv_str(pk, "lang", lang);
	if (nh > 0)
		mp_kv_obj(pk, "header", head);
	if (body != NULL && body->type == MSGPACK_OBJECT_ARRAY)
		mp_kv_obj(pk, "body", body);
	else {
		mp_pack_cstr(pk, "body");
		msgpack_pack_array(pk, 0);
	}
	if (btns != NULL && btns->type == MSGPACK_OBJECT_ARRAY &&
	    btns->via.array.size > 0) {
		mp_pack_cstr(pk, "buttons");
		msgpack_pack_array(pk, btns->via.array.size);
		for (i = 0; i < btns->via.array.size; i++) {
			e = &btns->via.array.ptr[i];
			msgpack_pack_map(pk, 2);
			mp_kv_int(pk, "index", t.qr[i]);
			mp_kv_strn(pk, "payload", e->via.str.ptr,
			    e->via.str.size);
		}
	}
	rc = 0;
done:
	if (ct)
		mdb_txn_abort(ct);
	msgpack_unpacked_destroy(&up);
	return rc;
}

int
out_reply_to(MDB_txn *txn, const struct conv *cv, const char *msgid,
    char *pid, size_t pidsz, char *why, size_t whysz)
{
	struct mrec m;
	int rc;

	if ((rc = rs_mrec_get(txn, msgid, &m)) != 0) {
		if (rc == MDB_NOTFOUND)
			snprintf(why, whysz, "send: reply to %.40s: no such "
			    "message", msgid);
		else
			snprintf(why, whysz, "send: reply to: %s",
			    mdb_strerror(rc));
		return -1;
	}
	rc = -1;
	if (strcmp(m.conv, cv->id) != 0)
		snprintf(why, whysz, "send: message %s is not in conversation "
		    "%s", msgid, cv->id);
	else if (m.pid[0] == '\0')
		snprintf(why, whysz, "send: message %s has no provider id to "
		    "reply to", msgid);
	else {
		snprintf(pid, pidsz, "%s", m.pid);
		rc = 0;
	}
	rs_mrec_free(&m);
	return rc;
}

#define MID_SCAN	5000	/* events looked at for a folded mid */

int
out_reply_mid(MDB_txn *txn, const struct conv *cv, const char *msgid,
    char *mid, size_t midsz)
{
	struct rs_cursor c;
	msgpack_unpacked up;
	MDB_val rec;
	uint64_t seq;
	size_t off, n = 0;
	int rc, found = 0;

	mid[0] = '\0';
	if (rs_convev_open(txn, cv->id, &c) != 0)
		return 0;
	msgpack_unpacked_init(&up);
	for (rc = rs_convev_last(&c, &seq); rc == 0 && !found &&
	    n++ < MID_SCAN; rc = rs_convev_prev(&c, &seq)) {
		off = 0;
		if (rs_event_get(txn, seq, &rec) != 0 ||
		    msgpack_unpack_next(&up, rec.mv_data, rec.mv_size, &off) !=
		    MSGPACK_UNPACK_SUCCESS ||
		    !mp_str_is(&up.data, "type", "message") ||
		    !mp_str_is(&up.data, "id", msgid))
			continue;
		found = mp_strcpy(mp_get(&up.data, "data"), "mid", mid, midsz);
		break;
	}
	msgpack_unpacked_destroy(&up);
	rs_cursor_close(&c);
	return found;
}

int
out_spool_name(const msgpack_object *file, char *spool, size_t spoolsz)
{
	if (file == NULL || file->type != MSGPACK_OBJECT_MAP ||
	    !mp_strcpy(file, "spool", spool, spoolsz) || !spool_name_ok(spool))
		return -1;
	return 0;
}

void
out_spool_of(MDB_txn *txn, const char *msgid, char *spool, size_t spoolsz)
{
	msgpack_unpacked up;
	const msgpack_object *file;
	MDB_val v;
	size_t off = 0;

	spool[0] = '\0';
	if (rs_extras_get(txn, msgid, &v) != 0)
		return;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, v.mv_data, v.mv_size, &off) ==
	    MSGPACK_UNPACK_SUCCESS && (file = mp_get(&up.data, "file")) !=
	    NULL && out_spool_name(file, spool, spoolsz) == -1)
		spool[0] = '\0';
	msgpack_unpacked_destroy(&up);
}

void
out_spool_drop(const msgpack_object *file, uid_t uid)
{
	char spool[SPOOL_NAMELEN + 1], detail[128];
	struct stat sb;
	int fd;

	/* only the sender's own copy: never an entry another agent made */
	if (out_spool_name(file, spool, sizeof(spool)) == -1 ||
	    (fd = spool_open(R->d.home, spool, uid, &sb, detail,
	    sizeof(detail))) == -1)
		return;
	close(fd);
	if (spool_unlink(R->d.home, spool) == -1)
		log_warnx("spool %s: %s", spool, strerror(errno));
}

int
out_file(const msgpack_object *file, uid_t uid, msgpack_packer *pk,
    char *why, size_t whysz)
{
	char spool[SPOOL_NAMELEN + 1], name[256], mime[128], detail[128];
	int64_t size = -1;
	struct stat sb;
	int fd;

	if (out_spool_name(file, spool, sizeof(spool)) == -1) {
		snprintf(why, whysz, "send: the file was not put in the spool "
		    "(msg send --file does that)");
		return -1;
	}
	mp_strcpy(file, "name", name, sizeof(name));
	mp_strcpy(file, "mime", mime, sizeof(mime));
	mp_int(file, "size", &size);
	if ((fd = spool_open(R->d.home, spool, uid, &sb, detail,
	    sizeof(detail))) == -1) {
		/* the why for the log; the agent gets one reason for all */
		log_warnx("uid=%lu send refused: spool %s: %s",
		    (unsigned long)uid, spool, detail);
		snprintf(why, whysz, "send: %s", SPOOL_REFUSED);
		return -1;
	}
	close(fd);
	/* the sender's own file: a mismatch tells them nothing new */
	if ((int64_t)sb.st_size != size) {
		snprintf(why, whysz, "send: the file in the spool is not the "
		    "size declared");
		return -1;
	}
	mp_pack_cstr(pk, "file");
	msgpack_pack_map(pk, 5);
	mp_kv_str(pk, "spool", spool);
	mp_kv_str(pk, "name", name);
	mp_kv_str(pk, "mime", mime);
	mp_kv_int(pk, "size", size);
	mp_kv_int(pk, "uid", (int64_t)uid);
	return 0;
}
