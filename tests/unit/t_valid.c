/*
 * t_valid — the input rules campaignd and msg share.  Every validator is
 * given values it must take and values it must refuse (the edges of each
 * range: lengths, digits, calendar days, UTF-8 forms), and the reasons an
 * administrator reads are checked word for word for a few of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valid.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

/* A string of n copies of c. */
static char *
rep(const char *c, int times)
{
	static char buf[4][1024];
	static int k;
	char *b = buf[k++ % 4];
	int i;

	b[0] = '\0';
	for (i = 0; i < times; i++)
		strcat(b, c);
	return b;
}

/* Check a reason exactly; show it when it differs. */
static void
is_reason(const char *got, const char *want, const char *desc)
{
	ok(strcmp(got, want) == 0, desc);
	if (strcmp(got, want) != 0)
		printf("#   got:  %s\n#   want: %s\n", got, want);
}

static void
t_name(void)
{
	static const char *good[] = { "sales", "a", "0", "sales-q1",
	    "eu.support_2", "9lives", NULL };
	static const char *bad[] = { "", "Sales", "-sales", ".x", "_x",
	    "sales q1", "sales/q1", "sal\xc3\xa9s", "sales\n", NULL };
	char err[256];
	int i, g = 1, b = 1;

	for (i = 0; good[i] != NULL; i++)
		g &= valid_name(good[i], "campaign name", err, sizeof(err));
	for (i = 0; bad[i] != NULL; i++)
		b &= !valid_name(bad[i], "campaign name", err, sizeof(err)) &&
		    err[0] != '\0';
	ok(g, "valid_name takes lower-case identifiers with . _ -");
	ok(b, "valid_name refuses empty, upper case, bad first or other "
	    "characters, with a reason");
	ok(valid_name(rep("a", 64), "x", NULL, 0), "a name of 64 bytes is "
	    "valid");
	ok(!valid_name(rep("a", 65), "x", NULL, 0), "a name of 65 bytes is "
	    "not");

	valid_name("", "campaign name", err, sizeof(err));
	is_reason(err, "campaign name must not be empty", "reason: empty");
	valid_name("Sales", "campaign name", err, sizeof(err));
	is_reason(err, "campaign name \"Sales\" must start with a lower-case "
	    "letter or a digit, not 'S'", "reason: first character");
	valid_name("sales q1", "team name", err, sizeof(err));
	is_reason(err, "team name \"sales q1\" has ' ' at position 6: use "
	    "only a-z, 0-9, '.', '_' and '-'", "reason: names `what' and "
	    "the position");
	valid_name(rep("b", 65), "agent name", err, sizeof(err));
	is_reason(err, "agent name \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb..."
	    "\" is over 64 characters", "reason: too long, value cut");
	valid_name("a\"b\x01", "status name", err, sizeof(err));
	is_reason(err, "status name \"a\\\"b\\x01\" has '\"' at position 2: "
	    "use only a-z, 0-9, '.', '_' and '-'",
	    "reason: quotes and control characters escaped");
	ok(!valid_name("X", "x", err, 1) && err[0] == '\0',
	    "a 1-byte err gets an empty, terminated reason");
}

static void
t_e164(void)
{
	ok(valid_e164("+16505551234"), "E.164: +16505551234");
	ok(valid_e164("+12345678"), "E.164: 8 digits");
	ok(valid_e164("+123456789012345"), "E.164: 15 digits");
	ok(!valid_e164("+1234567"), "E.164: 7 digits refused");
	ok(!valid_e164("+1234567890123456"), "E.164: 16 digits refused");
	ok(!valid_e164("+06505551234"), "E.164: first digit 0 refused");
	ok(!valid_e164("16505551234"), "E.164: no '+' refused");
	ok(!valid_e164("+1 650 555 1234"), "E.164: spaces refused");
	ok(!valid_e164("+1650555123a"), "E.164: letters refused");
	ok(!valid_e164("") && !valid_e164("+"), "E.164: empty refused");
}

static void
t_contact(void)
{
	char out[32], small[8], err[256];

	ok(valid_contact("+16505551234", out, sizeof(out), err, sizeof(err)) &&
	    strcmp(out, "+16505551234") == 0, "contact: an E.164 number as given");
	ok(valid_contact("Ada@Example.COM", out, sizeof(out), err,
	    sizeof(err)) && strcmp(out, "ada@example.com") == 0,
	    "contact: an e-mail address lower-cased");
	ok(!valid_contact("+1234567", out, sizeof(out), err, sizeof(err)),
	    "contact: 7 digits refused, as valid_e164");
	is_reason(err, "\"+1234567\" is not an E.164 phone number ('+' and 8 "
	    "to 15 digits, the first not 0)", "contact: reason for a number");
	ok(!valid_contact("16505551234", out, sizeof(out), err, sizeof(err)),
	    "contact: digits without '+' refused");
	is_reason(err, "\"16505551234\" is neither an E.164 phone number "
	    "(+15551234567), an e-mail address, a WhatsApp business-scoped "
	    "user id (US.13491208655302741918) nor a Messenger or Instagram "
	    "id (messenger:PSID, instagram:IGSID)",
	    "contact: reason for neither");
	ok(valid_psid("6543210987654321") && valid_psid("1") &&
	    valid_psid("12345678901234567890123456789012"),
	    "psid: 1 to 32 digits");
	ok(!valid_psid("") && !valid_psid(NULL) && !valid_psid("+1650") &&
	    !valid_psid("123456789012345678901234567890123") &&
	    !valid_psid("12 34"), "psid: empty, signs, 33 digits, spaces refused");
	ok(valid_contact("messenger:6543210987654321", out, sizeof(out), err,
	    sizeof(err)) && strcmp(out, "messenger:6543210987654321") == 0,
	    "contact: a PSID with its channel, as given");
	ok(valid_contact("instagram:98765", out, sizeof(out), err,
	    sizeof(err)), "contact: an IGSID with its channel");
	ok(!valid_contact("messenger:", out, sizeof(out), err, sizeof(err)) &&
	    !valid_contact("messenger:12a", out, sizeof(out), err,
	    sizeof(err)) && !valid_contact("instagram:+1650", out, sizeof(out),
	    err, sizeof(err)), "contact: a page-scoped id is digits only");
	ok(!valid_contact("messenger:123456789012345678901234567890123", out,
	    sizeof(out) + 0, err, sizeof(err)),
	    "contact: a page-scoped id of 33 digits refused");
	ok(valid_contact("US.13491208655302741918", out, sizeof(out), err,
	    sizeof(err)) && strcmp(out, "US.13491208655302741918") == 0,
	    "contact: a WhatsApp business-scoped user id as given");
	ok(!valid_contact("us.1349", out, sizeof(out), err, sizeof(err)),
	    "contact: a lower-case country is not a BSUID");
	ok(!valid_contact("a@b", out, sizeof(out), err, sizeof(err)),
	    "contact: a bad e-mail address refused");
	ok(!valid_contact("", out, sizeof(out), err, sizeof(err)) &&
	    !valid_contact(NULL, out, sizeof(out), err, sizeof(err)),
	    "contact: empty or missing refused");
	ok(!valid_contact("+16505551234", small, sizeof(small), err,
	    sizeof(err)), "contact: one that does not fit is refused");
	valid_contact_key("Bob@X.Org", out, sizeof(out));
	ok(strcmp(out, "bob@x.org") == 0, "key: e-mail lower-cased");
	valid_contact_key("PSID12AB", out, sizeof(out));
	ok(strcmp(out, "PSID12AB") == 0, "key: anything else as given");
	valid_contact_key("+16505551234", small, sizeof(small));
	ok(strcmp(small, "+165055") == 0, "key: cut at the buffer's size");
}

static void
t_email(void)
{
	static const char *good[] = { "ada@example.com", "a.b+tag@mail.ex-ample.co.uk",
	    "o'neil@x.io", "x@a1.b2", "user_1!#$%&*/=?^`{|}~-@example.org",
	    NULL };
	static const char *bad[] = { "", "ada", "@example.com", "ada@",
	    "ada@example", "ada@@example.com", "a@b@example.com",
	    ".ada@example.com", "ada.@example.com", "a..b@example.com",
	    "ada@-example.com", "ada@example-.com", "ada@example..com",
	    "ada@example.com.", "ada@.example.com", "ada lovelace@example.com",
	    "ada@exa_mple.com", "\"ada\"@example.com", "ada@ex\xc3\xa4mple.com",
	    NULL };
	char big[300];
	int i, g = 1, b = 1;

	for (i = 0; good[i] != NULL; i++) {
		if (!valid_email(good[i]))
			printf("# refused %s\n", good[i]);
		g &= valid_email(good[i]);
	}
	for (i = 0; bad[i] != NULL; i++) {
		if (valid_email(bad[i]))
			printf("# took %s\n", bad[i]);
		b &= !valid_email(bad[i]);
	}
	ok(g, "valid_email takes ordinary addresses");
	ok(b, "valid_email refuses missing or repeated @, dots misplaced, "
	    "bad labels, spaces");
	snprintf(big, sizeof(big), "%s@%s.%s.%s.%s.com", rep("a", 64),
	    rep("b", 63), rep("c", 63), rep("d", 55), "e");
	ok(strlen(big) == 254 && valid_email(big), "254 bytes is valid");
	snprintf(big, sizeof(big), "%s@%s.%s.%s.%s.com", rep("a", 64),
	    rep("b", 63), rep("c", 63), rep("d", 56), "e");
	ok(strlen(big) == 255 && !valid_email(big), "255 bytes is not");
	snprintf(big, sizeof(big), "%s@example.com", rep("a", 65));
	ok(!valid_email(big), "a local part over 64 bytes is refused");
	snprintf(big, sizeof(big), "a@%s.com", rep("b", 64));
	ok(!valid_email(big), "a label over 63 bytes is refused");
}

static void
t_tag(void)
{
	char err[256];

	ok(valid_tag("vip", err, sizeof(err)), "tag: vip");
	ok(valid_tag("black friday", err, sizeof(err)), "tag: inner space");
	ok(valid_tag(rep("x", 30), err, sizeof(err)), "tag: 30 characters");
	ok(valid_tag(rep("\xc3\xa9", 30), err, sizeof(err)),
	    "tag: 30 two-byte characters (60 bytes) is valid");
	ok(valid_tag(rep("\xf0\x9f\x98\x80", 30), err, sizeof(err)),
	    "tag: 30 emoji (120 bytes) is valid");
	ok(!valid_tag(rep("\xc3\xa9", 31), err, sizeof(err)),
	    "tag: 31 characters is not");
	ok(!valid_tag("", err, sizeof(err)), "tag: empty refused");
	ok(!valid_tag("a,b", err, sizeof(err)), "tag: comma refused");
	ok(!valid_tag("a\tb", err, sizeof(err)), "tag: tab refused");
	ok(!valid_tag("a\x7f", err, sizeof(err)), "tag: DEL refused");
	ok(!valid_tag("a\xc2\x85", err, sizeof(err)), "tag: C1 control (NEL) "
	    "refused");
	ok(!valid_tag("a\xff", err, sizeof(err)), "tag: bad UTF-8 refused");
	ok(!valid_tag(" vip", err, sizeof(err)) &&
	    !valid_tag("vip ", err, sizeof(err)), "tag: edge spaces refused");

	valid_tag(rep("x", 31), err, sizeof(err));
	is_reason(err, "tag \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\" is over 30 "
	    "characters", "reason: tag too long");
	valid_tag("north,south", err, sizeof(err));
	is_reason(err, "tag \"north,south\" contains a comma",
	    "reason: tag comma");
	valid_tag("a\nb", err, sizeof(err));
	is_reason(err, "tag \"a\\x0ab\" contains a control character",
	    "reason: tag control character, escaped");
	valid_tag("caf\xc3", err, sizeof(err));
	is_reason(err, "tag \"caf\\xc3\" is not valid UTF-8",
	    "reason: tag not UTF-8, escaped");
	valid_tag("", err, sizeof(err));
	is_reason(err, "tag must not be empty", "reason: tag empty");
}

static void
t_lists(void)
{
	static const char *strat[] = { "ringall", "linear", "rrmemory",
	    "leastrecent", "fewestcalls", "random", "wrandom", "leastbusy",
	    "manual" };
	int i, g = 1;

	for (i = 0; i < 9; i++)
		g &= valid_strategy(strat[i]) &&
		    strcmp(valid_strategies[i], strat[i]) == 0;
	ok(g && valid_strategies[9] == NULL, "the nine strategies, in order, "
	    "NULL-terminated");
	ok(!valid_strategy("RingAll") && !valid_strategy("roundrobin") &&
	    !valid_strategy(""), "unknown strategies refused");
	ok(valid_channel("sms") && valid_channel("whatsapp") &&
	    valid_channel("messenger") && valid_channel("instagram"),
	    "the four channels");
	ok(!valid_channel("email") && !valid_channel("SMS") &&
	    !valid_channel(""), "unknown channels refused");
}

static void
t_addr(void)
{
	char err[256];

	ok(valid_addr("sms", "+16505551234", err, sizeof(err)),
	    "sms: E.164");
	ok(!valid_addr("sms", "16505551234", err, sizeof(err)),
	    "sms: not E.164");
	is_reason(err, "sms address \"16505551234\" is not an E.164 number "
	    "('+' and 8 to 15 digits, the first not 0)", "reason: sms");
	ok(valid_addr("whatsapp", "106540352242922", err, sizeof(err)) &&
	    valid_addr("whatsapp", "1", err, sizeof(err)) &&
	    valid_addr("whatsapp", rep("9", 32), err, sizeof(err)),
	    "whatsapp: phone-number ids of 1..32 digits");
	ok(!valid_addr("whatsapp", "+16505551234", err, sizeof(err)),
	    "whatsapp: a phone number is not a phone-number id");
	is_reason(err, "whatsapp address \"+16505551234\" is not a "
	    "phone-number id (1 to 32 digits)", "reason: whatsapp");
	ok(!valid_addr("whatsapp", rep("9", 33), err, sizeof(err)) &&
	    !valid_addr("whatsapp", "", err, sizeof(err)),
	    "whatsapp: 33 digits or none refused");
	ok(valid_addr("messenger", "1234567890", err, sizeof(err)) &&
	    valid_addr("instagram", "17841400000000000", err, sizeof(err)),
	    "messenger, instagram: page ids");
	ok(!valid_addr("instagram", "@brand", err, sizeof(err)),
	    "instagram: a handle is not a page id");
	is_reason(err, "instagram address \"@brand\" is not a page id (1 to "
	    "32 digits)", "reason: instagram");
	ok(!valid_addr("fax", "123", err, sizeof(err)), "unknown channel");
	is_reason(err, "unknown channel \"fax\": use sms, whatsapp, messenger "
	    "or instagram", "reason: unknown channel");
}

static void
t_hhmm(void)
{
	int m = -1;

	ok(valid_hhmm("00:00", &m) && m == 0, "00:00 is minute 0");
	ok(valid_hhmm("09:30", &m) && m == 570, "09:30 is minute 570");
	ok(valid_hhmm("23:59", &m) && m == 1439, "23:59 is minute 1439");
	ok(valid_hhmm("24:00", &m) && m == 1440, "24:00 is minute 1440");
	ok(valid_hhmm("12:00", NULL), "minutes may be NULL");
	ok(!valid_hhmm("24:01", &m) && !valid_hhmm("25:00", &m),
	    "past 24:00 refused");
	ok(!valid_hhmm("12:60", &m), "minute 60 refused");
	ok(!valid_hhmm("9:30", &m) && !valid_hhmm("09:3", &m) &&
	    !valid_hhmm("0930", &m) && !valid_hhmm("09:30:00", &m) &&
	    !valid_hhmm("09.30", &m) && !valid_hhmm("", &m) &&
	    !valid_hhmm("+9:30", &m) && !valid_hhmm("09: 3", &m),
	    "other shapes refused");
}

static void
t_date(void)
{
	int y = 0, m = 0, d = 0;

	ok(valid_date("2025-12-25", &y, &m, &d) && y == 2025 && m == 12 &&
	    d == 25, "2025-12-25 and its parts");
	ok(valid_date("2024-02-29", NULL, NULL, NULL), "2024-02-29 (leap)");
	ok(valid_date("2000-02-29", NULL, NULL, NULL),
	    "2000-02-29 (divisible by 400)");
	ok(!valid_date("1900-02-29", NULL, NULL, NULL),
	    "1900-02-29 refused (divisible by 100)");
	ok(!valid_date("2025-02-29", NULL, NULL, NULL), "2025-02-29 refused");
	ok(valid_date("2025-01-31", NULL, NULL, NULL) &&
	    !valid_date("2025-04-31", NULL, NULL, NULL) &&
	    valid_date("2025-04-30", NULL, NULL, NULL),
	    "month lengths: 31 January, no 31 April");
	ok(!valid_date("2025-13-01", NULL, NULL, NULL) &&
	    !valid_date("2025-00-10", NULL, NULL, NULL) &&
	    !valid_date("2025-01-00", NULL, NULL, NULL) &&
	    !valid_date("0000-01-01", NULL, NULL, NULL),
	    "month 0 or 13, day 0, year 0 refused");
	ok(!valid_date("2025-1-01", NULL, NULL, NULL) &&
	    !valid_date("25-01-01", NULL, NULL, NULL) &&
	    !valid_date("2025/01/01", NULL, NULL, NULL) &&
	    !valid_date("2025-01-01T00", NULL, NULL, NULL) &&
	    !valid_date("2025-0a-01", NULL, NULL, NULL) &&
	    !valid_date("", NULL, NULL, NULL), "other shapes refused");
}

static void
t_mime(void)
{
	int i, g = 1;

	for (i = 0; valid_whatsapp_mimes[i] != NULL; i++)
		g &= valid_mime(valid_whatsapp_mimes[i]);
	ok(g && i == 18, "the 18 WhatsApp media types are valid MIME types");
	ok(strcmp(valid_whatsapp_mimes[0], "audio/aac") == 0 &&
	    strcmp(valid_whatsapp_mimes[15], "image/webp") == 0 &&
	    strcmp(valid_whatsapp_mimes[17], "video/mp4") == 0,
	    "the WhatsApp list starts and ends as Meta's");
	ok(valid_mime("image/svg+xml") && valid_mime("Text/Plain") &&
	    valid_mime("application/x-7z-compressed"), "other good types");
	ok(!valid_mime("") && !valid_mime("image") && !valid_mime("image/") &&
	    !valid_mime("/png") && !valid_mime("image/png/x") &&
	    !valid_mime("image/*") && !valid_mime("text/plain; charset=utf-8")
	    && !valid_mime("image/ png") && !valid_mime("-image/png"),
	    "bad types refused: missing parts, wildcards, parameters");
}

static void
t_utf8(void)
{
	ok(valid_utf8("", 0), "UTF-8: empty");
	ok(valid_utf8("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15),
	    "UTF-8: 1- to 4-byte characters");
	ok(valid_utf8("\xf4\x8f\xbf\xbf", 4), "UTF-8: U+10FFFF");
	ok(!valid_utf8("\xc0\xaf", 2) && !valid_utf8("\xe0\x80\xaf", 3) &&
	    !valid_utf8("\xf0\x80\x80\xaf", 4), "UTF-8: overlong forms refused");
	ok(!valid_utf8("\xed\xa0\x80", 3), "UTF-8: surrogate refused");
	ok(!valid_utf8("\xf4\x90\x80\x80", 4), "UTF-8: above U+10FFFF refused");
	ok(!valid_utf8("\x80", 1) && !valid_utf8("\xc3", 1) &&
	    !valid_utf8("\xe2\x82", 2) && !valid_utf8("\xff", 1),
	    "UTF-8: stray continuation, truncated, 0xff refused");
	ok(!valid_utf8("a\0b", 3), "UTF-8: NUL refused");
	{
		/* Unicode's examples of maximal subparts (table 3-8 and on) */
		static const struct {
			const char *s;
			size_t len, ok, bad;
		} v[] = {
			{ "\xe2\x82\xac", 3, 3, 0 }, { "a", 1, 1, 0 },
			{ "\xe2\x82x", 3, 0, 2 }, { "\xe2\x82", 2, 0, 2 },
			{ "\xf0\x80\x80", 3, 0, 1 }, { "\xed\xa0\x80", 3, 0, 1 },
			{ "\xc0\xaf", 2, 0, 1 }, { "\xf4\x90\x80", 3, 0, 1 },
			{ "\xf0\x9f\x98", 3, 0, 3 }, { "\x80", 1, 0, 1 },
			{ "\xff", 1, 0, 1 }, { "\xf0\x9f\x98\x80", 4, 4, 0 },
		};
		size_t i, k, bad, right = 0;

		for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
			bad = 0;
			k = valid_utf8_next(v[i].s, v[i].len, &bad);
			right += k == v[i].ok && (k > 0 || bad == v[i].bad);
		}
		ok(right == sizeof(v) / sizeof(v[0]), "UTF-8: the next "
		    "sequence, or the maximal bad subpart one U+FFFD replaces");
	}
	ok(valid_utf8_chars("h\xc3\xa9\xf0\x9f\x98\x80", 7) == 3,
	    "characters, not bytes, are counted");
}

static void
t_text(void)
{
	char err[256];

	ok(valid_text("Hello", 5, "title", err, sizeof(err)),
	    "text: 5 of 5");
	ok(valid_text("line one\nline two", 100, "body", err, sizeof(err)),
	    "text: line breaks are allowed");
	ok(valid_text(rep("\xe2\x82\xac", 10), 10, "body", err, sizeof(err)),
	    "text: the limit is in characters");
	ok(!valid_text(rep("\xe2\x82\xac", 11), 10, "message body", err,
	    sizeof(err)), "text: 11 of 10 refused");
	is_reason(err, "message body is over 10 characters (it has 11)",
	    "reason: text too long");
	ok(!valid_text("caf\xe9", 100, "after-hours message", err, sizeof(err)),
	    "text: Latin-1 refused");
	is_reason(err, "after-hours message is not valid UTF-8",
	    "reason: text not UTF-8");
}

/* A field missing from a request arrives as NULL: refused, never a crash. */
static void
t_null(void)
{
	char err[256];
	int y, m, d, min;

	ok(!valid_name(NULL, "campaign name", err, sizeof(err)) &&
	    strcmp(err, "campaign name must not be empty") == 0 &&
	    !valid_e164(NULL) && !valid_email(NULL) &&
	    !valid_tag(NULL, err, sizeof(err)) && !valid_strategy(NULL) &&
	    !valid_channel(NULL) && !valid_addr(NULL, "1", err, sizeof(err)) &&
	    !valid_addr("sms", NULL, err, sizeof(err)) &&
	    !valid_hhmm(NULL, &min) && !valid_date(NULL, &y, &m, &d) &&
	    !valid_mime(NULL) && !valid_utf8(NULL, 1) && valid_utf8(NULL, 0),
	    "NULL values are refused");
	ok(!valid_text(NULL, 80, "holiday name", err, sizeof(err)) &&
	    strcmp(err, "holiday name is missing") == 0,
	    "reason: text missing");
}

static void
t_bsuid(void)
{
	char big[VALID_BSUID_MAX + 2];

	ok(valid_bsuid("US.13491208655302741918"), "bsuid: country and digits");
	ok(valid_bsuid("US.ENT.11815799212886844830"), "bsuid: a parent BSUID");
	ok(valid_bsuid("BR.1502576394655843aZ"), "bsuid: letters too");
	ok(!valid_bsuid("us.1349") && !valid_bsuid("US1349") &&
	    !valid_bsuid("US.") && !valid_bsuid("U.1349") &&
	    !valid_bsuid("+15551234567") && !valid_bsuid("15551234567"),
	    "bsuid: country, dot and id required");
	ok(!valid_bsuid("US..1349") && !valid_bsuid("US.1349.") &&
	    !valid_bsuid("US.13 49") && !valid_bsuid("US.13/49") &&
	    !valid_bsuid(NULL), "bsuid: no empty run, space or other byte");
	memset(big, '7', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "US.", 3);
	ok(!valid_bsuid(big), "bsuid: at most VALID_BSUID_MAX bytes");
	big[VALID_BSUID_MAX] = '\0';
	ok(valid_bsuid(big), "bsuid: VALID_BSUID_MAX bytes is fine");
}

int
main(void)
{
	t_null();
	t_name();
	t_e164();
	t_bsuid();
	t_contact();
	t_email();
	t_tag();
	t_lists();
	t_addr();
	t_hhmm();
	t_date();
	t_mime();
	t_utf8();
	t_text();
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
