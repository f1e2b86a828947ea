/*
 * t_placeholder — canned responses as an agent uses them (lib/parley/placeholder.c):
 * "{name}" placeholders filled from a contact, UTF-8 names and values,
 * adjacent placeholders, "{{" and "}}" for literal braces, unknown and
 * unterminated placeholders refused with a line naming them (or kept for a
 * preview), values never expanded twice; and "/snippet" at the start of a
 * message, with what follows it.  TAP output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placeholder.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

/* The contact: name=value pairs. */
static const char *const contact[] = {
	"first_name", "Zoë",
	"last_name", "O'Brien",
	"order_id", "A-1042",
	"city", "東京",
	"prénom", "Zoé",
	"empty", "",
	"braces", "{first_name} }} {{",
	"x", "X",
	"y", "Y",
	NULL
};

static int lookups;

static const char *
look(const char *name, void *arg)
{
	const char *const *kv = arg;

	lookups++;
	for (; kv[0]; kv += 2)
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	return NULL;
}

static char err[256];

/* Expansion of text is want (NULL: refused, err holding e). */
static int
X(const char *text, int keep, const char *want, const char *e)
{
	char *r;
	int good;

	memset(err, 'Z', sizeof(err) - 1);
	err[sizeof(err) - 1] = '\0';
	r = placeholder_expand(text, look, (void *)contact, keep, err,
	    sizeof(err));
	if (want)
		good = r != NULL && strcmp(r, want) == 0;
	else
		good = r == NULL && strstr(err, e) != NULL &&
		    strchr(err, '\n') == NULL;
	if (!good)
		printf("# got \"%s\", err \"%s\"\n", r ? r : "(null)", err);
	else if (r == NULL)
		printf("# %s\n", err);
	free(r);
	return good;
}

static void
t_expand(void)
{
	ok(X("", 0, "", NULL), "empty text");
	ok(X("no placeholders here.", 0, "no placeholders here.", NULL),
	    "text without braces unchanged");
	ok(X("Hi {first_name}, order {order_id} is on its way.", 0,
	    "Hi Zoë, order A-1042 is on its way.", NULL),
	    "the msg-canned(1) example, UTF-8 value");
	ok(X("{first_name}", 0, "Zoë", NULL), "the whole text one placeholder");
	ok(X("{x}{y}{x}", 0, "XYX", NULL), "adjacent placeholders");
	ok(X("{first_name} {last_name}", 0, "Zoë O'Brien", NULL),
	    "two placeholders, a space between");
	ok(X("Bonjour {prénom} !", 0, "Bonjour Zoé !", NULL),
	    "a UTF-8 placeholder name");
	ok(X("「{city}」へようこそ", 0, "「東京」へようこそ", NULL),
	    "UTF-8 around and in the value");
	ok(X("[{empty}]", 0, "[]", NULL), "an empty value is a known value");
	ok(X("{braces}", 0, "{first_name} }} {{", NULL),
	    "a value holding braces is copied, not expanded again");

	ok(X("{{first_name}}", 0, "{first_name}", NULL),
	    "{{name}} gives a literal {name}");
	ok(X("{{", 0, "{", NULL) && X("}}", 0, "}", NULL),
	    "{{ and }} alone");
	ok(X("{{{x}}}", 0, "{X}", NULL), "{{{x}}}: a brace, a value, a brace");
	ok(X("set = {{ {x} }}", 0, "set = { X }", NULL),
	    "escaped braces around a placeholder");
	ok(X("a } b", 0, "a } b", NULL) && X("{x}}", 0, "X}", NULL),
	    "a lone '}' is itself");
	ok(X("{{{{", 0, "{{", NULL), "{{{{ gives {{");

	ok(X("Your order {order} ships", 0, NULL,
	    "unknown placeholder {order}") && strcmp(err,
	    "unknown placeholder {order}") == 0,
	    "unknown: refused, err exactly \"unknown placeholder {order}\"");
	ok(X("{a} {b} {a} {x}", 0, NULL, "unknown placeholders {a}, {b}") &&
	    strstr(err, "{a}, {b}, {a}") == NULL,
	    "several unknown: each named once");
	ok(X("{a}{b}{c}{d}{e}{f}", 0, NULL, "{a}, {b}, {c}, {d} and more"),
	    "many unknown: four named, then 'and more'");
	ok(X("{}", 0, NULL, "unknown placeholder {}"),
	    "{}: an empty name is unknown");
	ok(X("{First_Name}", 0, NULL, "unknown placeholder {First_Name}"),
	    "names are case-sensitive");
	ok(X("{ first_name }", 0, NULL, "unknown placeholder { first_name }"),
	    "spaces inside braces are part of the name");
	ok(X("{Straße}", 0, NULL, "unknown placeholder {Straße}"),
	    "an unknown UTF-8 name is named as written");
	ok(X("{aééééééééééééééééééééééééééééééé}", 0, NULL,
	    "unknown placeholder {aééééééééééééééééééé...}"),
	    "a long name is cut at 40 bytes, never inside a UTF-8 character");

	ok(X("Hi {name", 0, NULL, "unterminated placeholder {name"),
	    "unterminated \"{name\" at the end");
	ok(X("Hi {first_name, bye", 0, NULL,
	    "unterminated placeholder {first_name, bye"),
	    "unterminated runs to the end");
	ok(X("{a{x}", 0, NULL, "unterminated placeholder {a"),
	    "a '{' before the '}' leaves the first unterminated");
	ok(X("{x\n}", 0, NULL, "unterminated placeholder {x"),
	    "a newline ends a placeholder: unterminated, err one line");
	ok(X("{", 0, NULL, "unterminated placeholder {"), "a lone '{'");
	ok(X("{zz} then {oops", 0, NULL, "unknown placeholder {zz}; "
	    "unterminated placeholder {oops"),
	    "unknown and unterminated in one line");

	ok(X("Hi {first_name}, {order} {{ok}} {x", 1,
	    "Hi Zoë, {order} {ok} {x", NULL),
	    "keep_unknown: known filled, unknown and unterminated kept");
	ok(X("{a{x}", 1, "{aX", NULL),
	    "keep_unknown: \"{a{x}\" keeps {a and fills {x}");

	{
		char *r;

		lookups = 0;
		r = placeholder_expand("{x} {nope}", NULL, NULL, 0, err,
		    sizeof(err));
		ok(r == NULL && strstr(err, "{x}, {nope}") != NULL,
		    "NULL lookup: everything unknown");
		free(r);
		r = placeholder_expand(NULL, look, (void *)contact, 0, err,
		    sizeof(err));
		ok(r == NULL && err[0] != '\0', "NULL text refused");
		r = placeholder_expand("{nope}", look, (void *)contact, 0,
		    NULL, 0);
		ok(r == NULL, "NULL err buffer is allowed");
		r = placeholder_expand("{nope}", look, (void *)contact, 0,
		    err, 8);
		ok(r == NULL && strlen(err) == 7,
		    "a short err buffer is filled and terminated");
	}
	{
		/* a long text: the buffer grows */
		size_t i, len = 20000;
		char *big = malloc(len * 3 + 1), *r;
		int good = 1;

		for (i = 0; i < len; i++)
			memcpy(big + 3 * i, "{x}", 3);
		big[len * 3] = '\0';
		r = placeholder_expand(big, look, (void *)contact, 0, err,
		    sizeof(err));
		good = r != NULL && strlen(r) == len;
		for (i = 0; good && i < len; i++)
			good = r[i] == 'X';
		ok(good, "20000 adjacent placeholders");
		free(r);
		free(big);
	}
}

/* placeholder_snippet of text is want (NULL: not a snippet), rest r. */
static int
S(const char *text, const char *want, const char *r)
{
	char buf[PLACEHOLDER_SNIPPET_MAX + 1];
	const char *rest = "unset";
	int got;

	memset(buf, 'Z', sizeof(buf));
	got = placeholder_snippet(text, buf, sizeof(buf), &rest);
	if (want == NULL)
		return got == 0 && buf[0] == '\0' && strcmp(rest, "unset") == 0;
	return got == 1 && strcmp(buf, want) == 0 && strcmp(rest, r) == 0;
}

static void
t_snippet(void)
{
	char small[6];
	const char *rest;

	ok(S("/hello", "hello", ""), "\"/hello\": the whole message");
	ok(S("/hello Anything else?", "hello", "Anything else?"),
	    "\"/hello Anything else?\": rest after the space");
	ok(S("/shipped   \n  PS: tracking soon", "shipped",
	    "PS: tracking soon"), "whitespace and newlines before the rest "
	    "skipped");
	ok(S("/hello   ", "hello", ""), "trailing whitespace only: rest empty");
	ok(S("/Hello", "hello", ""), "upper case folded: /Hello is hello");
	ok(S("/after-hours_2", "after-hours_2", ""),
	    "'-', '_' and digits in a name");
	ok(S("/2fa", "2fa", ""), "a name may start with a digit");
	ok(S("/abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz"
	    "012345", ""), "a 32-byte name");
	ok(S("/abcdefghijklmnopqrstuvwxyz0123456", NULL, NULL),
	    "a 33-byte name is not a snippet");
	ok(S("/hello Zoë, ça va ?", "hello", "Zoë, ça va ?"),
	    "UTF-8 in the rest");

	ok(S("hello", NULL, NULL), "no slash: not a snippet");
	ok(S(" /hello", NULL, NULL), "a space before the slash: not a snippet");
	ok(S("/", NULL, NULL), "\"/\" alone: not a snippet");
	ok(S("/ hello", NULL, NULL), "\"/ hello\": not a snippet");
	ok(S("//hello", NULL, NULL), "\"//hello\": not a snippet");
	ok(S("/etc/hosts is a file", NULL, NULL),
	    "\"/etc/hosts ...\": a path is not a snippet");
	ok(S("/hello, there", NULL, NULL),
	    "\"/hello,\": punctuation after the name: not a snippet");
	ok(S("/-x", NULL, NULL) && S("/_x", NULL, NULL),
	    "a name starting with '-' or '_' is not a snippet");
	ok(S("/héllo", NULL, NULL), "a UTF-8 letter in the name: not a snippet");
	ok(S("", NULL, NULL), "empty message");
	ok(placeholder_snippet(NULL, small, sizeof(small), &rest) == 0,
	    "NULL message");

	ok(placeholder_snippet("/hello", small, sizeof(small), &rest) == 1 &&
	    strcmp(small, "hello") == 0, "a name that just fits buf");
	ok(placeholder_snippet("/hellos", small, sizeof(small), &rest) == 0 &&
	    small[0] == '\0', "a name too long for buf: 0, buf empty");
	ok(placeholder_snippet("/hello x", small, sizeof(small), NULL) == 1,
	    "rest may be NULL");
}

/* "{name|fallback}": the fallback when the value is absent or empty. */
static void
t_fallback(void)
{
	ok(X("Hi {first_name|there}!", 0, "Hi Zoë!", NULL),
	    "a value wins over its fallback");
	ok(X("Hi {nickname|there}!", 0, "Hi there!", NULL),
	    "an unknown name takes its fallback, no error");
	ok(X("Hi {empty|there}!", 0, "Hi there!", NULL),
	    "an empty value takes its fallback");
	ok(X("Hi {empty|}!", 0, "Hi !", NULL),
	    "an empty fallback is allowed");
	ok(X("{nickname|dear customer}, {city|your city}", 0,
	    "dear customer, 東京", NULL), "fallbacks with spaces, UTF-8 value");
	ok(X("{nickname|a|b}", 0, "a|b", NULL),
	    "the first '|' splits; the rest is the fallback as written");
	ok(X("{nickname|{x}}", 0, "{nickname|{x}}", NULL) == 0,
	    "a fallback cannot hold a placeholder (unterminated)");
	ok(X("{nickname|there} {order}", 0, NULL,
	    "unknown placeholder {order}"),
	    "a fallback does not hide another unknown placeholder");
	ok(X("{{nickname|there}}", 0, "{nickname|there}", NULL),
	    "doubled braces stay literal");
}

int
main(void)
{
	t_expand();
	t_fallback();
	t_snippet();
	printf("1..%d\n", n);
	if (failed)
		printf("# %d of %d failed\n", failed, n);
	return failed != 0;
}
