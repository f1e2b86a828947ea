/*
 * metahook — Meta's webhook handshake and signature gate (see metahook.h),
 * once for every daemon that receives Meta's webhooks.  It was whatsappd's
 * until messengerd needed exactly the same: the rules are Meta's, not a
 * channel's, and two copies would drift apart.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "form.h"
#include "hook.h"
#include "httpd.h"
#include "log.h"
#include "metahook.h"
#include "sig.h"

void
metahook_verify(struct hook *h, struct httpd_req *req,
    const char *verify_token)
{
	struct form q;
	const char *mode, *tok, *ch, *why = NULL;
	const char *query = httpd_req_query(req);
	size_t tl, vl;
	int good;

	form_init(&q);
	if (query == NULL || form_parse(&q, query, strlen(query), &why) == -1) {
		log_warnx("verification from %s: no or bad query, answered 403",
		    httpd_req_peer(req));
		hook_reply(h, req, 403, "verification failed");
		form_free(&q);
		return;
	}
	mode = form_get(&q, "hub.mode");
	tok = form_get(&q, "hub.verify_token");
	ch = form_get(&q, "hub.challenge");
	tl = tok ? strlen(tok) : 0;
	vl = strlen(verify_token);
	good = mode != NULL && strcmp(mode, "subscribe") == 0 && tok != NULL &&
	    tl == vl && sodium_memcmp(tok, verify_token, vl) == 0;
	if (!good) {
		log_warnx("verification from %s: %s, answered 403",
		    httpd_req_peer(req), mode == NULL ||
		    strcmp(mode, "subscribe") ? "hub.mode is not subscribe" :
		    tok == NULL ? "no hub.verify_token" :
		    "wrong hub.verify_token");
		hook_reply(h, req, 403, "verification failed");
	} else if (ch == NULL || strlen(ch) > METAHOOK_CHALLENGE_MAX) {
		log_warnx("verification from %s: no usable hub.challenge, "
		    "answered 400", httpd_req_peer(req));
		hook_reply(h, req, 400, "hub.challenge missing");
	} else {
		log_info("webhook subscription verified (from %s)",
		    httpd_req_peer(req));
		hook_reply_body(h, req, 200, "text/plain", ch, strlen(ch));
	}
	form_free(&q);
}

int
metahook_signed(struct hook *h, struct httpd_req *req,
    const char *app_secret, const char **body, size_t *len)
{
	const char *sig;

	*body = httpd_req_body(req, len);
	sig = httpd_req_header(req, "X-Hub-Signature-256");
	if (sig == NULL) {
		log_warnx("notification from %s: no X-Hub-Signature-256, "
		    "answered 401", httpd_req_peer(req));
		hook_reply(h, req, 401, "signature missing");
		return -1;
	}
	if (sig_meta_check(*body, *len, app_secret, sig) == -1) {
		log_warnx("notification from %s: wrong X-Hub-Signature-256, "
		    "answered 403", httpd_req_peer(req));
		hook_reply(h, req, 403, "bad signature");
		return -1;
	}
	return 0;
}

int
metahook_version_ok(const char *v)
{
	const char *p = v;

	if (*p++ != 'v' || *p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p++ != '.' || *p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	return *p == '\0' && p - v <= 16;
}
