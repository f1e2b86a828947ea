/*
 * routerd_qa — quality scores: a supervisor scores a closed conversation
 * against one of campaignd's quality models (msg qa score), and the score
 * is an event of the conversation, so it is kept, replayed and folded like
 * every other fact (msg qa scores lists them from the event log).
 *
 *   {t:"qa", id, conv, model, answers:[n, ...], note?}
 *       -> {conv, agent, model, score, max}
 *
 * One answer per question of the model, in the order msg qa show prints
 * them, each a whole number from 0 to the question's maximum.  The score
 * is their total, against the model's maximum.  Supervisors (of the
 * conversation's campaign) and admins only; the conversation must be
 * closed and have had an agent.  A handler: routerd_campaign reads the
 * model, routerd_store appends the event.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mp.h"
#include "valid.h"
#include "routerd.h"

#define QA_NOTE_MAX	1000	/* characters of a note */

/* The model's questions' maxima, in order, into max (at most maxn); the
 * count, or -1 when the model cannot be read. */
static int
model_maxima(const char *model, int64_t *max, int maxn)
{
	const msgpack_object *cats, *qs, *q;
	msgpack_unpacked up;
	MDB_txn *ct;
	uint32_t i, j;
	int n = -1;

	if (camp_rtxn(&ct) == -1)
		return -1;
	msgpack_unpacked_init(&up);
	if (camp_doc(ct, "qa", model, &up) == 0 &&
	    (cats = mp_get(&up.data, "categories")) != NULL &&
	    cats->type == MSGPACK_OBJECT_ARRAY) {
		n = 0;
		for (i = 0; i < cats->via.array.size; i++) {
			qs = mp_get(&cats->via.array.ptr[i], "questions");
			if (qs == NULL || qs->type != MSGPACK_OBJECT_ARRAY)
				continue;
			for (j = 0; j < qs->via.array.size; j++) {
				q = &qs->via.array.ptr[j];
				if (n == maxn) {
					n = -1;
					goto out;
				}
				if (!mp_int(q, "max_score", &max[n]))
					max[n] = 0;
				n++;
			}
		}
	}
out:
	msgpack_unpacked_destroy(&up);
	mdb_txn_abort(ct);
	return n;
}

void
qa_request(struct rclient *cl, const msgpack_object *f)
{
	static int64_t max[5000];
	struct who *w = auth_who(cl);
	char id[R_IDLEN], model[80], note[4 * QA_NOTE_MAX + 1] = "";
	const msgpack_object *ans;
	int64_t re = 0, v, score = 0, total = 0;
	msgpack_packer *pk;
	struct conv cv;
	struct held *h;
	MDB_txn *txn;
	uint32_t i;
	int n, rc;

	mp_int(f, "id", &re);
	if (w->role < RR_SUPERVISOR) {
		bus_caller_refuse(&cl->bc, re, "denied", "qa: scoring needs the "
		    "supervisor role");
		return;
	}
	if (!mp_strcpy(f, "conv", id, sizeof(id)) || id[0] == '\0' ||
	    !mp_strcpy(f, "model", model, sizeof(model)) || model[0] == '\0') {
		bus_caller_refuse(&cl->bc, re, "invalid", "qa: conv and model "
		    "are required");
		return;
	}
	if (mp_get(f, "note") && (!mp_strcpy(f, "note", note, sizeof(note)) ||
	    !valid_utf8(note, strlen(note)) ||
	    valid_utf8_chars(note, strlen(note)) > QA_NOTE_MAX)) {
		bus_caller_refuse(&cl->bc, re, "invalid", "qa: a note is at most "
		    "%d characters of text", QA_NOTE_MAX);
		return;
	}
	if ((n = model_maxima(model, max, (int)(sizeof(max) /
	    sizeof(max[0])))) < 0) {
		bus_caller_refuse(&cl->bc, re, "notfound", "qa: no quality model "
		    "%s (msg qa list)", model);
		return;
	}
	ans = mp_get(f, "answers");
	if (ans == NULL || ans->type != MSGPACK_OBJECT_ARRAY ||
	    ans->via.array.size != (uint32_t)n) {
		bus_caller_refuse(&cl->bc, re, "invalid", "qa: model %s has %d "
		    "question%s: give one answer each", model, n, n == 1 ? "" :
		    "s");
		return;
	}
	for (i = 0; i < ans->via.array.size; i++) {
		const msgpack_object *a = &ans->via.array.ptr[i];

		if (a->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
		    a->via.u64 <= (uint64_t)max[i])
			v = (int64_t)a->via.u64;
		else {
			bus_caller_refuse(&cl->bc, re, "invalid", "qa: answer %u "
			    "must be 0 to %lld", i + 1, (long long)max[i]);
			return;
		}
		score += v;
		total += max[i];
	}
	if ((txn = store_txn(R->st)) == NULL) {
		bus_caller_refuse(&cl->bc, re, "store", "%s",
		    store_error(R->st));
		return;
	}
	if (rs_conv_get(txn, id, &cv) != 0) {
		bus_caller_refuse(&cl->bc, re, "notfound", "qa: no conversation "
		    "%s", id);
		return;
	}
	if (auth_check_conv(cl, re, &cv) != 0)
		return;
	if (cv.status != CV_CLOSED || cv.agent[0] == '\0') {
		bus_caller_refuse(&cl->bc, re, "invalid", "qa: %s is %s; a "
		    "closed conversation an agent had is scored", id,
		    cv.status != CV_CLOSED ? "open" : "without an agent");
		return;
	}
	pk = rs_event(11 + (note[0] != '\0'));
	mp_kv_str(pk, "type", "qa");
	mp_kv_str(pk, "conv", cv.id);
	mp_kv_str(pk, "campaign", cv.campaign);
	mp_kv_str(pk, "agent", cv.agent);
	mp_kv_str(pk, "model", model);
	mp_pack_cstr(pk, "answers");
	msgpack_pack_object(pk, *ans);
	mp_kv_int(pk, "score", score);
	mp_kv_int(pk, "max", total);
	mp_kv_str(pk, "by", w->agent[0] ? w->agent : "admin");
	if (note[0])
		mp_kv_str(pk, "note", note);
	mp_kv_str(pk, "disposition", cv.disposition[0] ? cv.disposition :
	    NULL);
	mp_kv_int(pk, "ts", daemon_now_ms());
	h = held_new(&cl->bc, re);
	if ((rc = rs_append(txn, cv.id, NULL)) != 0) {
		held_fail(h, R->st, rc, "recording a quality score");
		return;
	}
	pk = held_ok(h, 5);
	mp_kv_str(pk, "conv", cv.id);
	mp_kv_str(pk, "agent", cv.agent);
	mp_kv_str(pk, "model", model);
	mp_kv_int(pk, "score", score);
	mp_kv_int(pk, "max", total);
	held_after(h, R->st);
}
