/*
 * sig — webhook signatures.  Twilio: X-Twilio-Signature, base64 of
 * HMAC-SHA1(auth token, URL + sorted name/value pairs) (libcrypto; libsodium
 * has no SHA-1).  Meta: X-Hub-Signature-256, "sha256=" + hex of
 * HMAC-SHA256(app secret, raw body) (libsodium).  Comparisons are constant
 * time.
 */
#ifndef PARLEY_SIG_H
#define PARLEY_SIG_H

#include <stddef.h>

struct form;

#define SIG_TWILIO_LEN	28	/* base64 of 20 bytes */
#define SIG_META_LEN	71	/* "sha256=" + 64 hex */

/* Twilio's signature of url and the (decoded) form parameters into out[29]. */
void	sig_twilio(const char *url, const struct form *, const char *token,
	    char out[SIG_TWILIO_LEN + 1]);
/* 0 if header is the right signature, -1 otherwise (NULL header too). */
int	sig_twilio_check(const char *url, const struct form *,
	    const char *token, const char *header);
/* "sha256=<hex>" of body with secret into out[72]. */
void	sig_meta(const void *body, size_t len, const char *secret,
	    char out[SIG_META_LEN + 1]);
int	sig_meta_check(const void *body, size_t len, const char *secret,
	    const char *header);

#endif
