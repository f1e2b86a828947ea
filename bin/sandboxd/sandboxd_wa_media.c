/*
 * sandboxd_wa_media — media on the WhatsApp Cloud API:
 *
 *   POST /{version}/{phone_number_id}/media
 *	a multipart upload (messaging_product, file, type) checked against
 *	Meta's types and size limits; the media id it answers can be sent;
 *   GET, DELETE /{version}/{media_id}
 *	the media's URL and facts; forgetting it;
 *   GET /sandbox/whatsapp/media/{media_id}
 *	the bytes behind that URL (what Meta's lookaside host serves).
 *
 * Media ids (uploaded, or made up for a simulated customer's media) are
 * kept in memory, the oldest forgotten first, and their bytes only while
 * small enough (WA_KEEP_ONE, WA_KEEP_ALL).
 */
#include <sys/queue.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <sodium.h>

#include "log.h"
#include "media.h"
#include "sandboxd.h"
#include "sandboxd_wa.h"
#include "valid.h"

#define WA_KEEP_ONE		(16 * MEDIA_MB)	/* bytes kept of one upload */
#define WA_KEEP_ALL		(64 * MEDIA_MB)	/* bytes kept of all uploads */
#define WA_MAX_UPLOAD		(100 * MEDIA_MB + 256 * 1024)
#define WA_MAX_PARTS		16

/* --- media ids --- */

static void
media_free(struct wa_media *m)
{
	free(m->filename);
	free(m->bytes);
	free(m);
}

void
sbx_wa_media_forget(struct sbx_whatsapp *wa, struct wa_media *m)
{
	sbx_wa_del(&wa->media, &m->h);
	TAILQ_REMOVE(&wa->mq, m, fifo);
	if (m->bytes != NULL)
		wa->kept -= (size_t)m->size;
	media_free(m);
}

/* A new media id: 15 or 16 digits, not 0-led, not in use. */
void
sbx_wa_media_new_id(struct sbx_whatsapp *wa, char out[WA_ID_MAX + 1])
{
	unsigned char r[8];
	uint64_t v;
	int i;

	do {
		randombytes_buf(r, sizeof(r));
		for (v = 0, i = 0; i < 8; i++)
			v = (v << 8) | r[i];
		snprintf(out, WA_ID_MAX + 1, "%llu", (unsigned long long)
		    (1000000000000000ULL + v % 9000000000000000ULL));
	} while (sbx_wa_get(&wa->media, out) != NULL);
}

/*
 * Remember a media id with its facts; bytes (len) are copied when small
 * enough to keep.  The oldest ids, and kept bytes, go first.  NULL when out
 * of memory.
 */
struct wa_media *
sbx_wa_media_add(struct sbx_whatsapp *wa, const char *id, const char *mime,
    const char *filename, const unsigned char *data, size_t len)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	struct wa_media *m, *old;
	struct sbx_wa_node *nd;

	if ((nd = sbx_wa_get(&wa->media, id)) != NULL)
		sbx_wa_media_forget(wa, (struct wa_media *)nd);
	while (htab_count(&wa->media) >= WA_MAX_MEDIA && (old = TAILQ_FIRST(&wa->mq)))
		sbx_wa_media_forget(wa, old);
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (filename != NULL && (m->filename = strdup(filename)) == NULL)) {
		free(m);
		return NULL;
	}
	snprintf(m->h.key, sizeof(m->h.key), "%s", id);
	snprintf(m->mime, sizeof(m->mime), "%s", mime);
	m->size = (long long)len;
	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(m->sha256, sizeof(m->sha256), h, sizeof(h));
	sodium_bin2base64(m->sha256_b64, sizeof(m->sha256_b64), h, sizeof(h),
	    sodium_base64_VARIANT_ORIGINAL);
	if (len <= WA_KEEP_ONE) {
		for (old = TAILQ_FIRST(&wa->mq); old != NULL &&
		    wa->kept + len > WA_KEEP_ALL; old = TAILQ_NEXT(old, fifo))
			if (old->bytes != NULL) {
				free(old->bytes);
				old->bytes = NULL;
				wa->kept -= (size_t)old->size;
			}
		if (wa->kept + len <= WA_KEEP_ALL &&
		    (m->bytes = malloc(len ? len : 1)) != NULL) {
			memcpy(m->bytes, data, len);
			wa->kept += len;
		}
	}
	if (sbx_wa_add(&wa->media, &m->h) == -1) {
		if (m->bytes != NULL)
			wa->kept -= len;
		media_free(m);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&wa->mq, m, fifo);
	return m;
}

struct wa_media *
sbx_wa_media_get(struct sbx_whatsapp *wa, const char *id)
{
	if (strlen(id) >= sizeof(((struct sbx_wa_node *)0)->key))
		return NULL;
	return (struct wa_media *)sbx_wa_get(&wa->media, id);
}

/* The base MIME type of a type value (parameters dropped, lower case). */
static void
base_mime(const char *t, char *out, size_t outsz)
{
	size_t n, i;

	while (*t == ' ')
		t++;
	n = strcspn(t, "; ");
	if (n >= outsz)
		n = outsz - 1;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)t[i]);
	out[n] = '\0';
}

/* The upload as the log shows it: fields, and the file without its bytes. */
static char *
upload_for_log(const struct sbx_mp_part *parts, size_t n, const char *sha)
{
	struct sbx_jw jw;
	char v[1024];
	size_t i;

	sbx_jw_init(&jw);
	sbx_jw_open(&jw, NULL);
	for (i = 0; i < n; i++) {
		if (parts[i].has_filename) {
			sbx_jw_open(&jw, parts[i].name);
			sbx_jw_str(&jw, "filename", parts[i].filename);
			sbx_jw_str(&jw, "content_type", parts[i].ctype[0] ?
			    parts[i].ctype : NULL);
			sbx_jw_int(&jw, "size", (long long)parts[i].len);
			if (strcmp(parts[i].name, "file") == 0 && sha != NULL)
				sbx_jw_str(&jw, "sha256", sha);
			sbx_jw_close(&jw);
		} else if (sbx_mp_value(&parts[i], v, sizeof(v)) == 0)
			sbx_jw_str(&jw, parts[i].name, v);
		else
			sbx_jw_str(&jw, parts[i].name, "(binary or long value)");
	}
	sbx_jw_close(&jw);
	if (jw.oom) {
		sbx_jw_free(&jw);
		return NULL;
	}
	return jw.buf;	/* taken over */
}

/* POST /{version}/{phone_number_id}/media */
void
sbx_wa_upload_call(struct sbx_whatsapp *wa, struct evhttp_request *req,
    struct wa_rec *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct sbx_mp_part parts[WA_MAX_PARTS];
	const struct sbx_mp_part *mpp, *typ, *file;
	struct wa_media *m;
	const unsigned char *b = NULL;
	const char *ct, *why = NULL;
	char boundary[80], v[256], mime[128], d[1024];
	size_t len = evbuffer_get_length(in), n = 0;
	long long limit;
	struct sbx_jw ans;

	sbx_jw_init(&ans);
	r->auth = sbx_wa_check_auth(wa, req);
	ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	if (len > WA_MAX_UPLOAD) {
		r->status = 413;
		r->code = 100;
		sbx_wa_graph_error(&ans, r->code, NULL, "The request body is over "
		    "100 MiB.");
		goto done;
	}
	if (r->auth != WA_AUTH_OK) {
		r->status = 401;
		r->code = sbx_wa_auth_error(req, &ans);
		goto done;
	}
	r->status = 400;
	r->code = 100;
	if (sbx_mp_boundary(ct, boundary, sizeof(boundary)) == -1) {
		/* Shown in the log as text, its start only. */
		b = evbuffer_pullup(in, len < WA_LOG_BODY_MAX ? (ev_ssize_t)len :
		    WA_LOG_BODY_MAX);
		r->body = sbx_wa_body_for_log(NULL, (const char *)b, len <
		    WA_LOG_BODY_MAX ? len : WA_LOG_BODY_MAX);
		sbx_wa_graph_error(&ans, r->code, NULL, "Content-Type must be "
		    "multipart/form-data with a boundary.");
		goto done;
	}
	/* One contiguous copy at most; the parts point into it. */
	if (len > 0 && (b = evbuffer_pullup(in, -1)) == NULL) {
		r->status = 500;
		r->code = 131000;
		sbx_wa_graph_error(&ans, r->code, NULL, "Out of memory.");
		goto done;
	}
	if (sbx_mp_parse(b, len, boundary, parts, WA_MAX_PARTS, &n, &why) == -1) {
		snprintf(d, sizeof(d), "The multipart body is malformed: %s.",
		    why);
		sbx_wa_graph_error(&ans, r->code, NULL, d);
		goto done;
	}
	mpp = sbx_mp_find(parts, n, "messaging_product");
	typ = sbx_mp_find(parts, n, "type");
	file = sbx_mp_find(parts, n, "file");
	if (file != NULL && !file->has_filename)
		file = NULL;
	if (mpp == NULL) {
		sbx_wa_graph_error(&ans, r->code, NULL, "The parameter "
		    "messaging_product is required.");
		goto done;
	}
	if (sbx_mp_value(mpp, v, sizeof(v)) == -1 || strcmp(v, "whatsapp") != 0) {
		sbx_wa_graph_error(&ans, r->code, NULL, "Param messaging_product must "
		    "be \"whatsapp\".");
		goto done;
	}
	if (file == NULL) {
		sbx_wa_graph_error(&ans, r->code, NULL, "The parameter file is "
		    "required (a file part with a filename).");
		goto done;
	}
	if (typ == NULL) {
		sbx_wa_graph_error(&ans, r->code, NULL, "The parameter type is "
		    "required.");
		goto done;
	}
	if (sbx_mp_value(typ, v, sizeof(v)) == -1)
		v[0] = '\0';
	base_mime(v, mime, sizeof(mime));
	r->code = 131053;
	if (!sbx_wa_in_list(mime, valid_whatsapp_mimes)) {
		snprintf(d, sizeof(d), "Param file must be a file with one of "
		    "the following types: audio/aac, audio/amr, audio/mpeg, "
		    "audio/mp4, audio/ogg, text/plain, application/pdf, "
		    "application/vnd.ms-powerpoint, application/msword, "
		    "application/vnd.ms-excel, application/vnd.openxmlformats-"
		    "officedocument.wordprocessingml.document, application/vnd."
		    "openxmlformats-officedocument.presentationml.presentation, "
		    "application/vnd.openxmlformats-officedocument.spreadsheetml."
		    "sheet, image/jpeg, image/png, image/webp, video/3gpp, "
		    "video/mp4. Received file of type '%.100s'.", v);
		sbx_wa_graph_error(&ans, r->code, NULL, d);
		goto done;
	}
	limit = media_limit("whatsapp", mime);
	if (file->len == 0 || (long long)file->len > limit) {
		snprintf(d, sizeof(d), file->len == 0 ? "The file is empty." :
		    "The file is %zu bytes; %s media may be at most %lld bytes.",
		    file->len, mime, limit);
		sbx_wa_graph_error(&ans, r->code, NULL, d);
		goto done;
	}
	sbx_wa_media_new_id(wa, r->id);
	if ((m = sbx_wa_media_add(wa, r->id, mime, file->filename, file->data,
	    file->len)) == NULL) {
		r->id[0] = '\0';
		r->status = 500;
		r->code = 131000;
		sbx_wa_graph_error(&ans, r->code, NULL, "Out of memory.");
		goto done;
	}
	r->status = 200;
	r->code = 0;
	r->body = upload_for_log(parts, n, m->sha256);
	sbx_jw_open(&ans, NULL);
	sbx_jw_str(&ans, "id", r->id);
	sbx_jw_close(&ans);
	log_debug("whatsapp: media %s uploaded: %s, %zu bytes", r->id, mime,
	    file->len);
done:
	if (r->body == NULL && n > 0)
		r->body = upload_for_log(parts, n, NULL);
	sbx_wa_finish(wa, req, r, &ans);
}

/* This sandbox as the client reached it: the Host header, else the listener. */
static const char *
sandbox_host(struct sbx_whatsapp *wa, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Host");

	if (h != NULL && *h != '\0' && strlen(h) < 256 &&
	    strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-:[]") == strlen(h))
		return h;
	return wa->listen;
}

/* GET or DELETE /{version}/{media_id} */
void
sbx_wa_media_call(struct sbx_whatsapp *wa, struct evhttp_request *req,
    struct wa_rec *r, const char *id)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct wa_media *m;
	struct sbx_jw ans;
	char msg[512], url[512];

	sbx_jw_init(&ans);
	r->auth = sbx_wa_check_auth(wa, req);
	if (r->auth != WA_AUTH_OK) {
		r->status = 401;
		r->code = sbx_wa_auth_error(req, &ans);
		goto done;
	}
	if ((m = sbx_wa_media_get(wa, id)) == NULL ||
	    (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_DELETE)) {
		r->status = 400;
		r->code = 100;
		snprintf(msg, sizeof(msg), WA_UNSUPPORTED, sbx_wa_graph_method(req), id);
		sbx_wa_graph_error(&ans, r->code, msg, NULL);
		goto done;
	}
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->status = 200;
	sbx_jw_open(&ans, NULL);
	if (cmd == EVHTTP_REQ_DELETE) {
		sbx_jw_raw(&ans, "success", "true", 4);
		sbx_jw_close(&ans);
		sbx_wa_media_forget(wa, m);
		goto done;
	}
	snprintf(url, sizeof(url), "http://%s/sandbox/whatsapp/media/%s",
	    sandbox_host(wa, req), id);
	sbx_jw_str(&ans, "messaging_product", "whatsapp");
	sbx_jw_str(&ans, "url", url);
	sbx_jw_str(&ans, "mime_type", m->mime);
	sbx_jw_str(&ans, "sha256", m->sha256);
	sbx_jw_int(&ans, "file_size", m->size);
	sbx_jw_str(&ans, "id", id);
	sbx_jw_close(&ans);
done:
	sbx_wa_finish(wa, req, r, &ans);
}

void
sbx_whatsapp_media_bytes(struct sbx *sb, struct evhttp_request *req,
    const char *id)
{
	struct sbx_whatsapp *wa = sb->whatsapp;
	struct wa_rec r;
	struct wa_media *m;
	struct evbuffer *b;
	struct sbx_jw ans;

	memset(&r, 0, sizeof(r));
	r.path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	sbx_jw_init(&ans);
	r.auth = sbx_wa_check_auth(wa, req);
	if (r.auth != WA_AUTH_OK) {
		r.status = 401;
		r.code = sbx_wa_auth_error(req, &ans);
		sbx_wa_finish(wa, req, &r, &ans);
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		r.status = 405;
		sbx_jw_open(&ans, NULL);
		sbx_jw_str(&ans, "error", "use GET");
		sbx_jw_close(&ans);
		sbx_wa_finish(wa, req, &r, &ans);
		return;
	}
	if ((m = sbx_wa_media_get(wa, id)) == NULL || m->bytes == NULL) {
		r.status = 404;
		sbx_jw_open(&ans, NULL);
		sbx_jw_str(&ans, "error", m == NULL ? "no such media id" :
		    "the bytes of this media were not kept (over 16 MiB, or "
		    "64 MiB of newer media kept)");
		sbx_jw_close(&ans);
		sbx_wa_finish(wa, req, &r, &ans);
		return;
	}
	snprintf(r.id, sizeof(r.id), "%s", id);
	r.status = 200;
	sbx_wa_record(wa, req, &r);
	if ((b = evbuffer_new()) == NULL ||
	    evbuffer_add(b, m->bytes, (size_t)m->size) == -1) {
		evhttp_send_error(req, 500, NULL);
	} else {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Type", m->mime);
		evhttp_send_reply(req, 200, NULL, b);
	}
	if (b != NULL)
		evbuffer_free(b);
}


