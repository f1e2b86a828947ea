/*
 * fz_campaign — fuzz target for lib/campaign_check, the validation
 * campaignd applies to every campaign document (`msg campaign apply`,
 * create, edit).  The input is the document as msg(1) reads it, JSON text,
 * and goes the way `msg campaign apply FILE` sends it: packed into a frame
 * by rec_pack_json, decoded (frame_decode) and converted (rec_to_json) on
 * campaignd's side, which must give the same document back.  Input that is
 * not JSON is taken as the frame's msgpack body itself, as any admin's
 * client can send it.  Then, as op_apply does, the lifecycle fields are
 * dropped and campaign_check_norm runs.  A refusal is one line.  A
 * document it accepts must be canonical:
 *
 *   - a fixed point: normalised again it is the same, key order included
 *     (what makes apply idempotent);
 *   - its keys in the order campaign_check_config gives them, and with the
 *     lifecycle fields campaignd adds (state and times) it is still
 *     accepted, those kept;
 *   - `msg campaign export | msg campaign apply -`: its configuration as
 *     text, read back, sent and normalised, is the same configuration;
 *   - campaign_check_mark of all its addresses succeeds and leaves it
 *     canonical with each of them provisioned; of an address it does not
 *     have, it fails with a reason.
 *
 * The input is also applied as an edit (campaign_check_merge, as op_edit)
 * to a stored campaign with every part filled in: whatever the merge gives
 * is either refused by campaign_check_norm or canonical.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "campaign_check.h"
#include "frame.h"
#include "rec.h"

#define DUMP	(JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)

/* A stored campaign, as campaignd keeps one: canonical, with lifecycle. */
static const char base_text[] =
    "{\"name\":\"sales\",\"title\":\"Sales\",\"teams\":[\"support\"],"
    "\"tags\":[\"vip\",\"new\"],\"channels\":{\"sms\":{\"addresses\":["
    "\"+15550001111\",{\"addr\":\"+15550002222\",\"mode\":\"provisioned\"}]},"
    "\"whatsapp\":{\"enabled\":false,\"addresses\":[\"106540352242922\"]}},"
    "\"idk\":{\"mode\":\"custom\",\"message\":\"One moment\"},"
    "\"strategy\":\"ringall\",\"timezone\":\"Europe/Paris\","
    "\"schedule\":{\"mon\":[[\"09:00\",\"12:00\"],[\"13:00\",\"18:00\"]],"
    "\"sat\":[[\"10:00\",\"24:00\"]]},\"holidays\":[\"2026-12-25=Christmas\","
    "{\"date\":\"2026-01-01\"}],\"files\":{\"enabled\":true,\"types\":"
    "{\"whatsapp\":[\"image/jpeg\",\"application/pdf\"]}},"
    "\"canned\":[\"/hello\"],\"templates\":[\"order_update\"],"
    "\"dispositions\":[\"sales/won\"],\"state\":\"active\","
    "\"created_ts\":\"2026-11-21T10:00:00.123Z\","
    "\"updated_ts\":\"2026-11-22T10:00:00.000Z\"}";

static json_t *base;

static char *
dump(const json_t *j)
{
	char *s;

	if ((s = json_dumps(j, DUMP)) == NULL)
		abort();
	return s;
}

/* a and b the same, key order included. */
static int
same(const json_t *a, const json_t *b)
{
	char *x = dump(a), *y = dump(b);
	int r = strcmp(x, y) == 0;

	free(x);
	free(y);
	return r;
}

/*
 * doc sent as msg sends it ({"doc": doc} in a frame) and read as campaignd
 * reads it; NULL when the frame is refused (over the size or depth limits:
 * msg or campaignd says so, nothing is applied).
 */
static json_t *
send_doc(const json_t *doc)
{
	struct fbuf fb;
	msgpack_unpacked up;
	const char *why;
	size_t used;
	json_t *args, *got = NULL;

	fbuf_init(&fb);
	fbuf_begin(&fb, 1);
	msgpack_pack_str(&fb.pk, 3);
	msgpack_pack_str_body(&fb.pk, "doc", 3);
	if (rec_pack_json(&fb.pk, doc) == -1)
		abort();
	msgpack_unpacked_init(&up);
	if (fbuf_finish(&fb) == 0 && frame_decode(fbuf_data(&fb),
	    fbuf_len(&fb), &up, &used, &why) == 1) {
		if ((args = rec_to_json(&up.data)) == NULL)
			abort();
		if ((got = json_object_get(args, "doc")) == NULL)
			abort();
		json_incref(got);
		json_decref(args);
	}
	msgpack_unpacked_destroy(&up);
	fbuf_free(&fb);
	return got;
}

/* A copy of in without the lifecycle fields, as op_apply makes. */
static json_t *
no_lifecycle(const json_t *in)
{
	json_t *f = json_deep_copy(in), *v;
	const char *k;
	void *tmp;

	if (f == NULL)
		abort();
	json_object_foreach_safe(f, tmp, k, v) {
		if (campaign_check_lifecycle(k))
			json_object_del(f, k);
	}
	return f;
}

static void
one_line(const char *err, size_t errsz)
{
	if (memchr(err, '\0', errsz) == NULL || err[0] == '\0' ||
	    strchr(err, '\n') != NULL) {
		fprintf(stderr, "fz_campaign: refusal not one line: \"%.*s\"\n",
		    (int)errsz, err);
		abort();
	}
}

/* doc, accepted by campaign_check_norm, is canonical. */
static void
canonical(const json_t *doc)
{
	json_t *again, *cfg, *plain, *text, *sent, *life, *v;
	char err[512], *s;
	const char *k;

	/* a fixed point */
	if ((again = campaign_check_norm(doc, err, sizeof(err))) == NULL ||
	    !same(doc, again))
		abort();
	json_decref(again);

	/* in canonical order: its configuration, then its lifecycle */
	cfg = campaign_check_config(doc);
	plain = no_lifecycle(doc);
	if (!same(cfg, plain))
		abort();
	json_object_foreach((json_t *)doc, k, v)
		if (campaign_check_lifecycle(k) &&
		    json_object_get(cfg, k) != NULL)
			abort();

	/* export | apply: the same configuration */
	s = dump(cfg);
	if ((text = json_loads(s, 0, NULL)) == NULL)
		abort();
	if ((sent = send_doc(text)) != NULL) {
		json_t *f = no_lifecycle(sent), *fin, *c2;

		if ((fin = campaign_check_norm(f, err, sizeof(err))) ==
		    NULL)
			abort();
		c2 = campaign_check_config(fin);
		if (!same(c2, cfg))
			abort();
		json_decref(c2);
		json_decref(fin);
		json_decref(f);
	}
	free(s);
	json_decref(text);
	json_decref(sent);

	/* stored with its lifecycle, as campaignd's save() checks it */
	life = json_deep_copy(doc);
	json_object_set_new(life, "state", json_string("draft"));
	json_object_set_new(life, "created_ts",
	    json_string("2026-11-21T10:00:00.123Z"));
	json_object_set_new(life, "updated_ts",
	    json_string("2026-11-21T10:00:00.123+01:00"));
	if ((again = campaign_check_norm(life, err, sizeof(err))) == NULL ||
	    !json_equal(again, life))
		abort();
	json_decref(again);
	json_decref(life);
	json_decref(cfg);
	json_decref(plain);
}

/* Every address of doc marked provisioned; then one it does not have. */
static void
mark(const json_t *doc)
{
	json_t *d = json_deep_copy(doc), *addrs = json_array(), *ch, *e,
	    *again, *none;
	const char *k;
	char err[256];
	size_t i;

	json_object_foreach(json_object_get(d, "channels"), k, ch)
		json_array_foreach(json_object_get(ch, "addresses"), i, e)
			json_array_append(addrs, json_object_get(e, "addr"));
	if (campaign_check_mark(d, addrs, "provisioned", err,
	    sizeof(err)) == -1)
		abort();
	json_object_foreach(json_object_get(d, "channels"), k, ch)
		json_array_foreach(json_object_get(ch, "addresses"), i, e)
			if (strcmp(json_string_value(json_object_get(e,
			    "mode")), "provisioned") != 0)
				abort();
	if ((again = campaign_check_norm(d, err, sizeof(err))) == NULL ||
	    !same(again, d))
		abort();
	none = json_pack("[s]", "+19999999999x");
	err[0] = '\0';
	if (campaign_check_mark(d, none, "reusable", err, sizeof(err)) != -1)
		abort();
	one_line(err, sizeof(err));
	json_decref(none);
	json_decref(again);
	json_decref(addrs);
	json_decref(d);
}

/* The input as an edit of the stored campaign. */
static void
edit(const json_t *patch)
{
	json_t *doc = json_deep_copy(base), *fin;
	const char *k;
	json_t *v;
	char err[512];

	json_object_foreach((json_t *)patch, k, v)
		if (campaign_check_lifecycle(k))
			goto out;	/* op_edit refuses these */
	err[0] = '\0';
	if (campaign_check_merge(doc, patch, err, sizeof(err)) == -1)
		abort();
	if ((fin = campaign_check_norm(doc, err, sizeof(err))) == NULL) {
		one_line(err, sizeof(err));
		goto out;
	}
	if (strcmp(json_string_value(json_object_get(fin, "state")),
	    "active") != 0)
		abort();	/* the lifecycle is kept */
	canonical(fin);
	json_decref(fin);
out:
	json_decref(doc);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_t *in;
	char err[512];

	if ((in = json_loads(base_text, 0, NULL)) == NULL ||
	    (base = campaign_check_norm(in, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fz_campaign: base campaign: %s\n", err);
		abort();
	}
	json_decref(in);
	return 0;
}

/* The input as campaignd may get it: JSON text, or a msgpack map. */
static json_t *
read_input(const uint8_t *data, size_t size)
{
	msgpack_unpacked up;
	json_t *in, *got = NULL;
	const char *why;
	size_t off = 0;

	if ((in = json_loadb((const char *)data, size, 0, NULL)) != NULL) {
		if (!json_is_object(in)) {
			json_decref(in);
			return NULL;	/* msg refuses it */
		}
		got = send_doc(in);
		if (got != NULL && !json_equal(got, in))
			abort();	/* sending changed it */
		json_decref(in);
		return got;
	}
	if (frame_prescan(data, size, &why) == -1)
		return NULL;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, (const char *)data, size, &off) ==
	    MSGPACK_UNPACK_SUCCESS && (got = rec_to_json(&up.data)) == NULL)
		abort();
	msgpack_unpacked_destroy(&up);
	return got;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in, *f, *doc;
	char err[512];

	if (base == NULL)
		LLVMFuzzerInitialize(NULL, NULL);
	if ((in = read_input(data, size)) == NULL)
		return 0;
	f = no_lifecycle(in);
	memset(err, 'x', sizeof(err));
	if ((doc = campaign_check_norm(f, err, sizeof(err))) == NULL)
		one_line(err, sizeof(err));
	else {
		if (strcmp(json_string_value(json_object_get(doc, "state")),
		    "draft") != 0)
			abort();
		canonical(doc);
		mark(doc);
		json_decref(doc);
	}
	edit(f);
	json_decref(f);
	json_decref(in);
	return 0;
}
