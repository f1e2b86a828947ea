/*
 * messengerd_graph — what every call messengerd makes to the Graph API
 * shares: the URL with the Page's token as access_token (as Meta's
 * Messenger examples pass it, providers.md §2.1), Meta's error envelope
 * {error: {message, type, code, error_subcode, fbtrace_id}} (branch on code
 * and subcode, never on the message, which embeds the time), the reasons a
 * token dies (190 and its subcodes, §2.5), and the token check:
 * GET /{PAGE-ID}?fields=name, which chtoken asks before it takes a token
 * and which gives the Page's name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "http_out.h"
#include "log.h"
#include "messengerd.h"

#define URL_MAX		4096

struct mg_check {
	struct messengerd *m;
	void		(*done)(int, const char *, void *);
	void		*arg;
	struct mg_check	*prev, *next;
};

/* s percent-encoded for a query value into out; -1 if it does not fit. */
static int
qenc(const char *s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~') {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= outsz)
				return -1;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (o >= outsz)
		return -1;
	out[o] = '\0';
	return 0;
}

int
mg_url(const struct messengerd *m, const char *path, const char *query,
    const char *token, char *out, size_t outsz)
{
	char tok[URL_MAX];
	int n;

	if (qenc(token, tok, sizeof(tok)) == -1)
		return -1;
	n = snprintf(out, outsz, "%s/%s/%s?%s%saccess_token=%s",
	    m->cf.api_url, m->cf.version, path, query ? query : "",
	    query ? "&" : "", tok);
	sodium_memzero(tok, sizeof(tok));
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

void
mg_graph_error(const struct http_resp *r, struct mg_err *ge)
{
	json_t *root, *e, *v;
	json_error_t je;

	memset(ge, 0, sizeof(*ge));
	ge->code = -1;
	root = json_loadb(r->body, r->bodylen, 0, &je);
	e = json_is_object(root) ? json_object_get(root, "error") : NULL;
	if (!json_is_object(e))
		goto done;
	v = json_object_get(e, "code");
	if (json_is_integer(v))
		ge->code = (long long)json_integer_value(v);
	else if (json_is_string(v))
		ge->code = strtoll(json_string_value(v), NULL, 10);
	v = json_object_get(e, "error_subcode");
	if (json_is_integer(v))
		ge->subcode = (long long)json_integer_value(v);
	else if (json_is_string(v))
		ge->subcode = strtoll(json_string_value(v), NULL, 10);
	v = json_object_get(e, "message");
	if (json_is_string(v))
		snprintf(ge->message, sizeof(ge->message), "%s",
		    json_string_value(v));
	v = json_object_get(e, "type");
	if (json_is_string(v))
		snprintf(ge->type, sizeof(ge->type), "%s",
		    json_string_value(v));
done:
	json_decref(root);
}

void
mg_token_reason(const struct mg_err *ge, char *out, size_t outsz)
{
	const char *why;

	switch (ge->subcode) {
	case 463:
		why = "the token expired";
		break;
	case 460:
		why = "the password changed or a security reset";
		break;
	case 458:
		why = "the app was removed from the Page";
		break;
	case 467:
		why = "the user logged out";
		break;
	case 464:
		why = "the user is not confirmed";
		break;
	case 492:
		why = "the session is invalid";
		break;
	default:
		why = "the token was refused";
		break;
	}
	if (ge->subcode > 0)
		snprintf(out, outsz, "%s (%lld/%lld)", why, ge->code,
		    ge->subcode);
	else
		snprintf(out, outsz, "%s (%lld)", why, ge->code);
}

/* --- the token check --- */

static void
check_unlink(struct mg_check *ck)
{
	struct messengerd *m = ck->m;

	if (ck->prev)
		ck->prev->next = ck->next;
	else
		m->checks = ck->next;
	if (ck->next)
		ck->next->prev = ck->prev;
}

static void
check_done(const struct http_resp *r, void *arg)
{
	struct mg_check *ck = arg;
	struct mg_err ge;
	json_t *root, *name;
	json_error_t je;
	char why[600];
	int ok = -1;

	check_unlink(ck);
	if (r->status == 0) {
		snprintf(why, sizeof(why), "the Graph API %s", r->timed_out ?
		    "timed out" : r->error ? r->error : "is out of reach");
	} else if (r->status >= 200 && r->status <= 299) {
		root = json_loadb(r->body, r->bodylen, 0, &je);
		name = json_is_object(root) ? json_object_get(root, "name") :
		    NULL;
		if (json_is_string(name) && json_string_length(name) > 0 &&
		    json_string_length(name) <= MG_NAME_MAX &&
		    strlen(json_string_value(name)) ==
		    json_string_length(name)) {
			snprintf(why, sizeof(why), "%s",
			    json_string_value(name));
			ok = 1;
		} else
			snprintf(why, sizeof(why), "HTTP %ld without the "
			    "Page's name", r->status);
		json_decref(root);
	} else {
		mg_graph_error(r, &ge);
		if (ge.code == 190) {
			mg_token_reason(&ge, why, sizeof(why));
			ok = 0;
		} else if (ge.code == -1)
			snprintf(why, sizeof(why), "HTTP %ld without a Graph "
			    "error", r->status);
		else
			snprintf(why, sizeof(why), "Meta error %lld%s%.300s",
			    ge.code, ge.message[0] ? ": " : "", ge.message);
		/* any 4xx other than 190 is Meta saying no to this token */
		if (ok == -1 && r->status >= 400 && r->status < 500 &&
		    ge.code != 4 && ge.code != 613 && ge.code != -1)
			ok = 0;
	}
	ck->done(ok, why, ck->arg);
	free(ck);
}

int
mg_check_token(struct messengerd *m, const char *page, const char *token,
    void (*done)(int, const char *, void *), void *arg)
{
	const char *hdrs[] = { "Accept: application/json", NULL };
	struct mg_check *ck;
	struct http_req rq;
	char url[URL_MAX];

	if (mg_url(m, page, "fields=name", token, url, sizeof(url)) == -1)
		return -1;
	if ((ck = calloc(1, sizeof(*ck))) == NULL)
		fatalx("out of memory");
	ck->m = m;
	ck->done = done;
	ck->arg = arg;
	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.url = url;
	rq.headers = hdrs;
	rq.timeout_ms = (long)m->cf.http_timeout_ms;
	if (http_out_start(m->e.ho, &rq, check_done, ck) == -1) {
		sodium_memzero(url, sizeof(url));
		free(ck);
		return -1;
	}
	sodium_memzero(url, sizeof(url));
	ck->next = m->checks;
	if (m->checks)
		m->checks->prev = ck;
	m->checks = ck;
	return 0;
}

void
mg_checks_free(struct messengerd *m)
{
	struct mg_check *ck;

	while ((ck = m->checks) != NULL) {
		check_unlink(ck);
		ck->done(-1, "shutting down", ck->arg);
		free(ck);
	}
}
