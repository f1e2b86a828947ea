/*
 * fz_form — fuzz target for form_parse, which smsd runs on every webhook
 * body the network sends.  An accepted body must round-trip: encoding the
 * parsed pairs and parsing that again gives the same pairs, in order (the
 * Twilio signature is computed over decoded pairs, so decoding must be
 * exact).  A refusal must say why and leave the form empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct form f, g;
	const char *why = NULL;
	char *enc;
	size_t len, i;

	form_init(&f);
	form_init(&g);
	if (form_parse(&f, (const char *)data, size, &why) == -1) {
		if (why == NULL || f.n != 0)
			abort();
		goto done;
	}
	if (f.n > FORM_MAXPAIRS)
		abort();
	for (i = 0; i < f.n; i++)
		if (form_get(&f, f.p[i].name) == NULL || f.p[i].name[0] == '\0')
			abort();
	enc = form_encode(&f, &len);
	if (enc == NULL || strlen(enc) != len)
		abort();
	if (form_parse(&g, enc, len, &why) == -1 || g.n != f.n)
		abort();
	for (i = 0; i < f.n; i++)
		if (strcmp(f.p[i].name, g.p[i].name) != 0 ||
		    strcmp(f.p[i].value, g.p[i].value) != 0)
			abort();
	free(enc);
done:
	form_free(&f);
	form_free(&g);
	return 0;
}
