/*
 * t_sig — webhook signature checks against the providers' published test
 * vectors (providers.md §1.4 and §3.4): a user relies on parley accepting
 * exactly what Twilio and Meta sign, and nothing else.
 */
#include <stdio.h>
#include <string.h>

#include "form.h"
#include "sig.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

static void
twilio_params(struct form *f, int reversed)
{
	static const char *kv[][2] = {
		{ "CallSid", "CA1234567890ABCDE" },
		{ "Caller", "+12349013030" },
		{ "Digits", "1234" },
		{ "From", "+12349013030" },
		{ "To", "+18005551212" },
	};
	int i;

	form_init(f);
	for (i = 0; i < 5; i++) {
		int j = reversed ? 4 - i : i;

		form_add(f, kv[j][0], kv[j][1]);
	}
}

int
main(void)
{
	const char *url = "https://mycompany.com/myapp.php?foo=1&bar=2";
	const char *want = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
	const char *mwant = "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee"
	    "3a876fce9a881ebb488c0914";
	char out[SIG_TWILIO_LEN + 1], mout[SIG_META_LEN + 1];
	struct form f, g, e;
	const char *why;
	const char *body = "CallSid=CA1234567890ABCDE&Caller=%2B12349013030"
	    "&Digits=1234&From=%2B12349013030&To=%2B18005551212";

	printf("1..14\n");
	twilio_params(&f, 0);
	sig_twilio(url, &f, "12345", out);
	ok(strcmp(out, want) == 0, "twilio: providers.md test vector");
	ok(sig_twilio_check(url, &f, "12345", want) == 0,
	    "twilio: right signature accepted");
	ok(sig_twilio_check(url, &f, "12345", "1/KCTR6DLpKmkAf8muzZqo1nDgQ=")
	    == -1, "twilio: wrong signature rejected");
	ok(sig_twilio_check(url, &f, "12345", NULL) == -1,
	    "twilio: missing signature rejected");
	ok(sig_twilio_check(url, &f, "12345", "") == -1,
	    "twilio: empty signature rejected");
	ok(sig_twilio_check(url, &f, "12346", want) == -1,
	    "twilio: wrong auth token rejected");
	ok(sig_twilio_check("https://mycompany.com/myapp.php?foo=1&bar=3", &f,
	    "12345", want) == -1, "twilio: other URL rejected");

	twilio_params(&g, 1);
	ok(sig_twilio_check(url, &g, "12345", want) == 0,
	    "twilio: parameter order in the body does not matter");
	form_free(&g);

	form_init(&g);
	ok(form_parse(&g, body, strlen(body), &why) == 0 &&
	    sig_twilio_check(url, &g, "12345", want) == 0,
	    "twilio: signature over a decoded form body");
	form_add(&g, "Extra", "1");
	ok(sig_twilio_check(url, &g, "12345", want) == -1,
	    "twilio: an added parameter breaks the signature");
	form_free(&g);

	form_init(&e);
	sig_twilio("https://example.test/twilio/status", &e, "tok", out);
	ok(strlen(out) == SIG_TWILIO_LEN && sig_twilio_check(
	    "https://example.test/twilio/status", &e, "tok", out) == 0,
	    "twilio: no parameters signs the URL alone");

	sig_meta("test", 4, "secret", mout);
	ok(strcmp(mout, mwant) == 0, "meta: providers.md test vector");
	ok(sig_meta_check("test", 4, "secret", mwant) == 0 &&
	    sig_meta_check("tesT", 4, "secret", mwant) == -1,
	    "meta: right accepted, other body rejected");
	ok(sig_meta_check("test", 4, "secret", NULL) == -1 &&
	    sig_meta_check("test", 4, "secret", "sha256=0329") == -1 &&
	    sig_meta_check("test", 4, "other", mwant) == -1,
	    "meta: missing, short or wrong-secret signature rejected");

	form_free(&f);
	return failed ? 1 : 0;
}
