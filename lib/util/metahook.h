/*
 * metahook — what every Meta webhook receiver does the same way (whatsappd,
 * messengerd): the GET subscription handshake with the verify token, and
 * the X-Hub-Signature-256 gate in front of a POST (providers.md §1.4,
 * §2.3), and the form of a Graph API version.  Both answer through
 * lib/hook and log one line per refusal.
 */
#ifndef PARLEY_METAHOOK_H
#define PARLEY_METAHOOK_H

#include <stddef.h>

struct hook;
struct httpd_req;

#define METAHOOK_CHALLENGE_MAX	1024

/* 1 when v is a Graph API version as Meta writes them: "v" digits "."
 * digits, at most 16 bytes ("v23.0"). */
int	metahook_version_ok(const char *v);

/*
 * GET ...?hub.mode=subscribe&hub.verify_token=..&hub.challenge=.. (the
 * query decoded as a form: %XX and '+'): answer 200 with hub.challenge as
 * the raw text/plain body when the mode is "subscribe" and the token is
 * verify_token (compared in constant time), 400 when the challenge is
 * missing or over METAHOOK_CHALLENGE_MAX bytes, 403 otherwise.
 */
void	metahook_verify(struct hook *, struct httpd_req *,
	    const char *verify_token);
/*
 * A POST: 0 when X-Hub-Signature-256 is the HMAC-SHA256 of the exact body
 * received keyed with app_secret (*body and *len then name that body);
 * otherwise the request is answered (401 without the header, 403 when it
 * is wrong), nothing of it is to be parsed, and -1.
 */
int	metahook_signed(struct hook *, struct httpd_req *,
	    const char *app_secret, const char **body, size_t *len);

#endif
