/*
 * t_str — lib/util/str's routines as their callers use them: a URL's file
 * name (the name whatsappd and messengerd give a document sent by link),
 * and a double written short (a location's latitude in a record).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metahook.h"
#include "str.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

static int
fname_is(const char *url, const char *want)
{
	char out[16];

	str_url_filename(url, out, sizeof(out));
	if (strcmp(out, want) != 0)
		printf("# %s: got \"%s\", want \"%s\"\n", url, out, want);
	return strcmp(out, want) == 0;
}

static int
num_is(double d, const char *want)
{
	char buf[64];

	str_num(buf, sizeof(buf), d);
	if (strcmp(buf, want) != 0)
		printf("# %.17g: got \"%s\", want \"%s\"\n", d, buf, want);
	return strcmp(buf, want) == 0;
}

int
main(void)
{
	ok(fname_is("https://example.com/docs/invoice.pdf", "invoice.pdf"),
	    "a URL's last path component");
	ok(fname_is("https://example.com/a/b.pdf?sig=x/y#frag", "b.pdf"),
	    "the query and fragment are not part of it, slashes in them "
	    "neither");
	ok(fname_is("https://example.com", "") &&
	    fname_is("https://example.com/", "") &&
	    fname_is("https://example.com/dir/", ""),
	    "no path, or a path ending in a slash: no name");
	ok(fname_is("not a url", ""), "no scheme: no name");
	ok(fname_is("https://example.com/a-name-too-long-for-it.pdf", ""),
	    "a name that does not fit is left out, not cut");
	ok(num_is(37.483307, "37.483307") && num_is(-122.148981,
	    "-122.148981"), "coordinates as written, not ...9996");
	ok(num_is(40, "40") && num_is(0.5, "0.5"),
	    "whole and short numbers without an exponent");
	ok(metahook_version_ok("v23.0") && metahook_version_ok("v9.12"),
	    "Graph API versions as Meta writes them");
	ok(!metahook_version_ok("23.0") && !metahook_version_ok("v23") &&
	    !metahook_version_ok("v23.0/") && !metahook_version_ok("v.1") &&
	    !metahook_version_ok("v1234567890.12345"),
	    "anything else is not a version (no v, no dot, a slash, too long)");
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
