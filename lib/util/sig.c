/*
 * sig — webhook signatures, so that the channel daemons accept only what the
 * provider really sent.
 *
 * Twilio (X-Twilio-Signature): the URL Twilio requested, then every POST
 * parameter sorted by name (then value, byte order), each name immediately
 * followed by its decoded value; HMAC-SHA1 keyed with the auth token, base64
 * (standard alphabet, padded).  libsodium has no SHA-1, so the HMAC comes
 * from OpenSSL's libcrypto, through one EVP_MAC context kept keyed with the
 * last token (HMAC() fetches the algorithm and the digest by name on every
 * call, which cost more than the hash itself on each webhook).  Meta (X-Hub-Signature-256): "sha256=" and the
 * lowercase hex HMAC-SHA256 of the raw body keyed with the app secret, via
 * libsodium.  Checks compare lengths first, then bytes in constant time.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include "form.h"
#include "log.h"
#include "sig.h"

static void
sig_sodium_init(void)
{
	if (sodium_init() < 0)
		fatalx("sodium_init failed");
}

static int
pair_cmp(const void *a, const void *b)
{
	const struct form_pair *x = *(const struct form_pair *const *)a;
	const struct form_pair *y = *(const struct form_pair *const *)b;
	int c;

	/* strcmp compares as unsigned char: byte order, as Twilio sorts */
	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	return strcmp(x->value, y->value);
}

/*
 * HMAC-SHA1 of data keyed with key into md (20 bytes).  The context stays
 * keyed with the last key (a copy, wiped when the key changes): a daemon
 * signs or checks with one token, so each call only re-initialises it.
 */
static void
hmac_sha1(const char *key, const void *data, size_t len, unsigned char *md)
{
	static EVP_MAC *mac;
	static EVP_MAC_CTX *ctx;
	static char *ctx_key;
	OSSL_PARAM params[2];
	size_t mdlen = 0, kl = strlen(key);

	if (mac == NULL && (mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		fatalx("HMAC is not available");
	if (ctx == NULL || strcmp(ctx_key, key) != 0) {
		if (ctx_key != NULL) {
			sodium_memzero(ctx_key, strlen(ctx_key));
			free(ctx_key);
		}
		EVP_MAC_CTX_free(ctx);
		if ((ctx = EVP_MAC_CTX_new(mac)) == NULL ||
		    (ctx_key = strdup(key)) == NULL)
			fatalx("out of memory");
		params[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0);
		params[1] = OSSL_PARAM_construct_end();
		if (EVP_MAC_init(ctx, (const unsigned char *)key, kl,
		    params) != 1)
			fatalx("HMAC-SHA1 failed");
	} else if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1)
		fatalx("HMAC-SHA1 failed");
	if (EVP_MAC_update(ctx, data, len) != 1 ||
	    EVP_MAC_final(ctx, md, &mdlen, EVP_MAX_MD_SIZE) != 1 ||
	    mdlen != 20)
		fatalx("HMAC-SHA1 failed");
}

void
sig_twilio(const char *url, const struct form *f, const char *token,
    char out[SIG_TWILIO_LEN + 1])
{
	const struct form_pair **sorted = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t i, len, o;
	char *data;

	len = strlen(url);
	if (f->n > 0) {
		sorted = malloc(f->n * sizeof(*sorted));
		if (sorted == NULL)
			fatalx("out of memory");
	}
	for (i = 0; i < f->n; i++) {
		sorted[i] = &f->p[i];
		len += strlen(f->p[i].name) + strlen(f->p[i].value);
	}
	if (f->n > 1)
		qsort(sorted, f->n, sizeof(*sorted), pair_cmp);
	if ((data = malloc(len + 1)) == NULL)
		fatalx("out of memory");
	o = strlen(url);
	memcpy(data, url, o);
	for (i = 0; i < f->n; i++) {
		size_t nl = strlen(sorted[i]->name), vl = strlen(sorted[i]->value);

		memcpy(data + o, sorted[i]->name, nl);
		o += nl;
		memcpy(data + o, sorted[i]->value, vl);
		o += vl;
	}
	hmac_sha1(token, data, o, md);
	sodium_bin2base64(out, SIG_TWILIO_LEN + 1, md, 20,
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(md, sizeof(md));
	free(data);
	free(sorted);
}

int
sig_twilio_check(const char *url, const struct form *f, const char *token,
    const char *header)
{
	char want[SIG_TWILIO_LEN + 1];
	int r;

	if (header == NULL || strlen(header) != SIG_TWILIO_LEN)
		return -1;
	sig_sodium_init();
	sig_twilio(url, f, token, want);
	r = sodium_memcmp(want, header, SIG_TWILIO_LEN) == 0 ? 0 : -1;
	sodium_memzero(want, sizeof(want));
	return r;
}

void
sig_meta(const void *body, size_t len, const char *secret,
    char out[SIG_META_LEN + 1])
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	sig_sodium_init();
	if (crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret,
	    strlen(secret)) != 0 ||
	    crypto_auth_hmacsha256_update(&st, body, len) != 0 ||
	    crypto_auth_hmacsha256_final(&st, mac) != 0)
		fatalx("HMAC-SHA256 failed");
	memcpy(out, "sha256=", 7);
	sodium_bin2hex(out + 7, SIG_META_LEN + 1 - 7, mac, sizeof(mac));
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(mac, sizeof(mac));
}

int
sig_meta_check(const void *body, size_t len, const char *secret,
    const char *header)
{
	char want[SIG_META_LEN + 1];
	int r;

	if (header == NULL || strlen(header) != SIG_META_LEN)
		return -1;
	sig_meta(body, len, secret, want);
	r = sodium_memcmp(want, header, SIG_META_LEN) == 0 ? 0 : -1;
	sodium_memzero(want, sizeof(want));
	return r;
}
