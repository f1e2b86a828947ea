/*
 * valid — input rules shared by campaignd, msg and the channel daemons.
 *
 * An administrator who types a bad value must be told which rule it broke,
 * in one line, with the value shown; the daemon applies the same rules to
 * what arrives over its socket, because msg is not the only client.  The
 * value is echoed safely: control characters, quotes and bytes that are not
 * UTF-8 are escaped, and a long value is cut (on a character boundary) so a
 * reason always fits on one line of a terminal.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "str.h"
#include "utf8.h"
#include "valid.h"

const char *const valid_strategies[] = {
	"ringall", "linear", "rrmemory", "leastrecent", "fewestcalls",
	"random", "wrandom", "leastbusy", "manual", NULL
};

const char *const valid_channels[] = {
	"sms", "whatsapp", "messenger", "instagram", NULL
};

/* Meta's list for WhatsApp Cloud API media (image/webp for stickers). */
const char *const valid_whatsapp_mimes[] = {
	"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg",
	"text/plain", "application/pdf", "application/vnd.ms-powerpoint",
	"application/msword", "application/vnd.ms-excel",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"image/jpeg", "image/png", "image/webp", "video/3gpp", "video/mp4",
	NULL
};

#define SHOW_CHARS	40	/* characters of a value echoed in a reason */

int
valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t k;

	if (s == NULL)
		return len == 0;
	while (len > 0) {
		if (*p == 0 || (k = utf8_decode(p, len, &cp)) == 0)
			return 0;
		p += k;
		len -= k;
	}
	return 1;
}

size_t
valid_utf8_next(const char *s, size_t len, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	uint32_t cp;
	size_t k, need;

	if ((k = utf8_decode(p, len, &cp)) > 0)
		return k;
	/* how far it looked right (Unicode's table 3-7) */
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		need = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 3;
		lo = p[0] == 0xe0 ? 0xa0 : 0x80;
		hi = p[0] == 0xed ? 0x9f : 0xbf;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 4;
		lo = p[0] == 0xf0 ? 0x90 : 0x80;
		hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	} else
		need = 1;
	for (k = 1; k < need && k < len && p[k] >= lo && p[k] <= hi; k++) {
		lo = 0x80;
		hi = 0xbf;
	}
	*bad = k;
	return 0;
}

size_t
valid_utf8_chars(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* Append to a bounded string, always NUL-terminated. */
struct sbuf {
	char	*p;
	size_t	 len, cap;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	size_t room;

	if (b->cap == 0)
		return;
	room = b->cap - 1 - b->len;
	if (n > room)
		n = room;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/*
 * The value s as it appears in a reason: at most SHOW_CHARS characters (then
 * "..."), with '"', '\\', control characters and bytes that are not UTF-8
 * escaped.  Returns buf.
 */
static char *
show(char *buf, size_t bufsz, const char *s)
{
	struct sbuf b = { buf, 0, bufsz };
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), k, nch = 0;
	uint32_t cp;
	char esc[8];

	if (bufsz)
		buf[0] = '\0';
	while (len > 0) {
		if (nch++ == SHOW_CHARS) {
			sb_add(&b, "...", 3);
			break;
		}
		k = utf8_decode(p, len, &cp);
		if (k == 0 || cp < 0x20 || cp == 0x7f ||
		    (cp >= 0x80 && cp < 0xa0)) {
			if (k == 0)
				k = 1;
			snprintf(esc, sizeof(esc), "\\x%02x", p[0]);
			sb_add(&b, esc, strlen(esc));
			if (k > 1) {	/* a C1 control: show every byte */
				snprintf(esc, sizeof(esc), "\\x%02x", p[1]);
				sb_add(&b, esc, strlen(esc));
			}
		} else if (cp == '"' || cp == '\\') {
			sb_add(&b, "\\", 1);
			sb_add(&b, (const char *)p, 1);
		} else
			sb_add(&b, (const char *)p, k);
		p += k;
		len -= k;
	}
	return buf;
}

static void
reason(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_alnum(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* 1 if s is lo..hi ASCII digits and nothing else. */
static int
all_digits(const char *s, size_t lo, size_t hi)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (!is_digit((unsigned char)s[n]))
			return 0;
	return n >= lo && n <= hi;
}

int
valid_name(const char *s, const char *what, char *err, size_t errsz)
{
	char v[SHOW_CHARS * 4 + 8], c[8];
	size_t n, i;

	if (what == NULL)
		what = "name";
	if (s == NULL || (n = strlen(s)) == 0) {
		reason(err, errsz, "%s must not be empty", what);
		return 0;
	}
	if (n > VALID_NAME_MAX) {
		reason(err, errsz, "%s \"%s\" is over %d characters", what,
		    show(v, sizeof(v), s), VALID_NAME_MAX);
		return 0;
	}
	for (i = 0; i < n; i++) {
		unsigned char ch = s[i];

		if ((ch >= 'a' && ch <= 'z') || is_digit(ch))
			continue;
		if (i > 0 && (ch == '.' || ch == '_' || ch == '-'))
			continue;
		if (ch >= 0x20 && ch < 0x7f)
			snprintf(c, sizeof(c), "'%c'", ch);
		else
			snprintf(c, sizeof(c), "\\x%02x", ch);
		if (i == 0)
			reason(err, errsz, "%s \"%s\" must start with a "
			    "lower-case letter or a digit, not %s", what,
			    show(v, sizeof(v), s), c);
		else
			reason(err, errsz, "%s \"%s\" has %s at position %zu: "
			    "use only a-z, 0-9, '.', '_' and '-'", what,
			    show(v, sizeof(v), s), c, i + 1);
		return 0;
	}
	return 1;
}

int
valid_e164(const char *s)
{
	return s != NULL && s[0] == '+' && s[1] >= '1' && s[1] <= '9' &&
	    all_digits(s + 1, 8, 15);
}

int
valid_bsuid(const char *s)
{
	size_t n, i;

	if (s == NULL || (n = strlen(s)) < 4 || n > VALID_BSUID_MAX ||
	    s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' || s[2] != '.')
		return 0;
	for (i = 3; i < n; i++)
		if (!is_alnum(s[i]) && !(s[i] == '.' && s[i - 1] != '.' &&
		    i + 1 < n))
			return 0;
	return 1;
}

void
valid_contact_key(const char *in, char *out, size_t outsz)
{
	size_t i;
	int mail;

	if (outsz == 0)
		return;
	if (in == NULL)
		in = "";
	mail = strchr(in, '@') != NULL;
	for (i = 0; in[i] != '\0' && i + 1 < outsz; i++)
		out[i] = mail && in[i] >= 'A' && in[i] <= 'Z' ?
		    (char)(in[i] - 'A' + 'a') : in[i];
	out[i] = '\0';
}

int
valid_contact(const char *in, char *out, size_t outsz, char *err,
    size_t errsz)
{
	char v[SHOW_CHARS * 4 + 8];

	if (in == NULL || *in == '\0') {
		reason(err, errsz, "a contact (an E.164 phone number or an "
		    "e-mail address) is required");
		return 0;
	}
	if (in[0] == '+') {
		if (!valid_e164(in) || strlen(in) >= outsz) {
			reason(err, errsz, "\"%s\" is not an E.164 phone number "
			    "('+' and 8 to 15 digits, the first not 0)",
			    show(v, sizeof(v), in));
			return 0;
		}
	} else if (strchr(in, '@') != NULL) {
		if (!valid_email(in) || strlen(in) >= outsz) {
			reason(err, errsz, "\"%s\" is not a valid e-mail "
			    "address", show(v, sizeof(v), in));
			return 0;
		}
	} else if (strncmp(in, "messenger:", 10) == 0 ||
	    strncmp(in, "instagram:", 10) == 0) {
		/* a page-scoped id means nothing without its channel: it is
		 * keyed with it, as given */
		if (!valid_psid(in + 10) || strlen(in) >= outsz) {
			reason(err, errsz, "\"%s\": a Messenger or Instagram "
			    "id is 1 to 32 digits after messenger: or "
			    "instagram:", show(v, sizeof(v), in));
			return 0;
		}
	} else if (!valid_bsuid(in) || strlen(in) >= outsz) {
		reason(err, errsz, "\"%s\" is neither an E.164 phone number "
		    "(+15551234567), an e-mail address, a WhatsApp "
		    "business-scoped user id (US.13491208655302741918) nor a "
		    "Messenger or Instagram id (messenger:PSID, "
		    "instagram:IGSID)", show(v, sizeof(v), in));
		return 0;
	}
	valid_contact_key(in, out, outsz);
	return 1;
}

/* RFC 5322 atext. */
static int
is_atext(int c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c)
	    != NULL);
}

int
valid_email(const char *s)
{
	const char *at, *p, *label;
	size_t n;

	if (s == NULL || (n = strlen(s)) > VALID_EMAIL_MAX)
		return 0;
	if ((at = strchr(s, '@')) == NULL || strchr(at + 1, '@') != NULL)
		return 0;
	/* local part: atext runs separated by single dots */
	if (at == s || at - s > 64 || s[0] == '.' || at[-1] == '.')
		return 0;
	for (p = s; p < at; p++) {
		if (*p == '.') {
			if (p[1] == '.')
				return 0;
		} else if (!is_atext((unsigned char)*p))
			return 0;
	}
	/* domain: two or more labels */
	label = at + 1;
	for (p = label;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label || p - label > 63 || label[0] == '-' ||
			    p[-1] == '-')
				return 0;
			if (*p == '\0')
				break;
			label = p + 1;
		} else if (!is_alnum((unsigned char)*p) && *p != '-')
			return 0;
	}
	return strchr(at + 1, '.') != NULL;
}

int
valid_tag(const char *s, char *err, size_t errsz)
{
	const unsigned char *p = (const unsigned char *)s;
	char v[SHOW_CHARS * 4 + 8];
	size_t len = s != NULL ? strlen(s) : 0, k, nch = 0;
	uint32_t cp;

	if (len == 0) {
		reason(err, errsz, "tag must not be empty");
		return 0;
	}
	if (!valid_utf8(s, len)) {
		reason(err, errsz, "tag \"%s\" is not valid UTF-8",
		    show(v, sizeof(v), s));
		return 0;
	}
	while (len > 0) {
		k = utf8_decode(p, len, &cp);
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
			reason(err, errsz, "tag \"%s\" contains a control "
			    "character", show(v, sizeof(v), s));
			return 0;
		}
		if (cp == ',') {
			reason(err, errsz, "tag \"%s\" contains a comma",
			    show(v, sizeof(v), s));
			return 0;
		}
		nch++;
		p += k;
		len -= k;
	}
	if (nch > VALID_TAG_MAX) {
		reason(err, errsz, "tag \"%s\" is over %d characters",
		    show(v, sizeof(v), s), VALID_TAG_MAX);
		return 0;
	}
	len = strlen(s);
	if (s[0] == ' ' || s[len - 1] == ' ') {
		reason(err, errsz, "tag \"%s\" starts or ends with a space",
		    show(v, sizeof(v), s));
		return 0;
	}
	return 1;
}

int
valid_strategy(const char *s)
{
	return str_in(valid_strategies, s);
}

int
valid_channel(const char *s)
{
	return str_in(valid_channels, s);
}

int
valid_addr(const char *channel, const char *addr, char *err, size_t errsz)
{
	char v[SHOW_CHARS * 4 + 8], c[SHOW_CHARS * 4 + 8];

	if (!valid_channel(channel)) {
		reason(err, errsz, "unknown channel \"%s\": use sms, whatsapp, "
		    "messenger or instagram",
		    show(c, sizeof(c), channel ? channel : ""));
		return 0;
	}
	if (addr == NULL)
		addr = "";
	if (strcmp(channel, "sms") == 0) {
		if (valid_e164(addr))
			return 1;
		reason(err, errsz, "sms address \"%s\" is not an E.164 number "
		    "('+' and 8 to 15 digits, the first not 0)",
		    show(v, sizeof(v), addr));
		return 0;
	}
	if (all_digits(addr, 1, VALID_ADDRID_MAX))
		return 1;
	reason(err, errsz, "%s address \"%s\" is not a %s id (1 to %d digits)",
	    channel, show(v, sizeof(v), addr),
	    strcmp(channel, "whatsapp") == 0 ? "phone-number" : "page",
	    VALID_ADDRID_MAX);
	return 0;
}

int
valid_psid(const char *s)
{
	return s != NULL && all_digits(s, 1, VALID_ADDRID_MAX);
}

int
valid_hhmm(const char *s, int *minutes)
{
	int h, m;

	if (s == NULL || strlen(s) != 5 || !is_digit((unsigned char)s[0]) ||
	    !is_digit((unsigned char)s[1]) || s[2] != ':' ||
	    !is_digit((unsigned char)s[3]) || !is_digit((unsigned char)s[4]))
		return 0;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		return 0;
	if (minutes != NULL)
		*minutes = h * 60 + m;
	return 1;
}

int
valid_date(const char *s, int *y, int *m, int *d)
{
	static const int mdays[12] =
	    { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int yy = 0, mm, dd, dim, i;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !is_digit((unsigned char)s[i]))
			return 0;
	for (i = 0; i < 4; i++)
		yy = yy * 10 + (s[i] - '0');
	mm = (s[5] - '0') * 10 + (s[6] - '0');
	dd = (s[8] - '0') * 10 + (s[9] - '0');
	if (yy < 1 || mm < 1 || mm > 12 || dd < 1)
		return 0;
	dim = mdays[mm - 1];
	if (mm == 2 && ((yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0))
		dim = 29;
	if (dd > dim)
		return 0;
	if (y != NULL)
		*y = yy;
	if (m != NULL)
		*m = mm;
	if (d != NULL)
		*d = dd;
	return 1;
}

/* An RFC 6838 restricted-name of n bytes at s. */
static int
mime_name(const char *s, size_t n)
{
	size_t i;

	if (n < 1 || n > 127 || !is_alnum((unsigned char)s[0]))
		return 0;
	for (i = 1; i < n; i++)
		if (!is_alnum((unsigned char)s[i]) &&
		    strchr("!#$&-^_.+", s[i]) == NULL)
			return 0;
	return 1;
}

int
valid_mime(const char *s)
{
	const char *slash = s != NULL ? strchr(s, '/') : NULL;

	return slash != NULL && mime_name(s, slash - s) &&
	    mime_name(slash + 1, strlen(slash + 1));
}

int
valid_text(const char *s, size_t maxchars, const char *what, char *err,
    size_t errsz)
{
	size_t len, n;

	if (what == NULL)
		what = "text";
	if (s == NULL) {
		reason(err, errsz, "%s is missing", what);
		return 0;
	}
	len = strlen(s);
	if (!valid_utf8(s, len)) {
		reason(err, errsz, "%s is not valid UTF-8", what);
		return 0;
	}
	if ((n = valid_utf8_chars(s, len)) > maxchars) {
		reason(err, errsz, "%s is over %zu characters (it has %zu)",
		    what, maxchars, n);
		return 0;
	}
	return 1;
}
