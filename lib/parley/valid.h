/*
 * valid — the input rules campaignd, msg and the channel daemons share:
 * names, phone numbers, contacts, e-mail addresses, tags, strategies,
 * channels and their addresses, times of day, dates, MIME types and UTF-8
 * text.  One definition of each rule, so the admin command and the daemon
 * never disagree about what is valid.
 *
 * Every validator returns 1 when the input is valid and 0 when it is not.
 * Those that take err/errsz write a one-line reason naming the rule that
 * failed (err may be NULL or errsz 0 when the reason is not wanted).
 * A NULL value is invalid (a field missing from a request must not crash
 * the daemon checking it).
 */
#ifndef PARLEY_VALID_H
#define PARLEY_VALID_H

#include <stddef.h>

#define VALID_NAME_MAX		64	/* bytes */
#define VALID_TAG_MAX		30	/* UTF-8 characters */
#define VALID_EMAIL_MAX		254	/* bytes */
#define VALID_ADDRID_MAX	32	/* digits of a phone-number or page id */
#define VALID_BSUID_MAX		140	/* bytes of a business-scoped user id */

/* Routing strategies, in the order the documentation lists them; NULL-ended. */
extern const char *const valid_strategies[];
/* Channels a campaign can have; NULL-ended. */
extern const char *const valid_channels[];
/* MIME types WhatsApp Cloud API accepts: a campaign's default; NULL-ended. */
extern const char *const valid_whatsapp_mimes[];

/*
 * An identifier (campaign, agent, team, status, template...): 1..64 bytes,
 * [a-z0-9] first, then [a-z0-9._-].  what names the thing in the reason
 * ("campaign name" gives "campaign name must not be empty").
 */
int	valid_name(const char *s, const char *what, char *err, size_t errsz);
/*
 * E.164: '+', then 8..15 digits, the first not 0.  The one number rule of
 * parley: campaign addresses, contacts, msg send's recipients, and
 * sandboxd's stand-in for Twilio all check numbers with it.
 */
int	valid_e164(const char *s);
/*
 * A WhatsApp business-scoped user id (BSUID), which Meta gives instead of,
 * or beside, a customer's phone number: two upper-case letters (the ISO
 * country), '.', then 1.. [A-Za-z0-9] runs joined by single '.' (a parent
 * BSUID is "US.ENT.1181..."), at most VALID_BSUID_MAX bytes in all.
 */
int	valid_bsuid(const char *s);
/*
 * The form every program keys a customer's contact by (blacklist, consent,
 * campaignd's contact index, routerd's lookups): an e-mail address (it has
 * an '@') lower-cased, anything else as given.  No check: it never fails,
 * and cuts a longer contact at outsz - 1 bytes.
 */
void	valid_contact_key(const char *in, char *out, size_t outsz);
/*
 * A contact a person or a provider gave: an E.164 number, an e-mail
 * address, a WhatsApp business-scoped user id (valid_bsuid), or a
 * Messenger or Instagram customer's page-scoped id with its channel
 * ("messenger:<1..32 digits>", "instagram:..."; routerd looks such a
 * customer up the same way), written into out as valid_contact_key keys
 * it.  0 with the reason when it is none of them, or does not fit in
 * outsz.
 */
int	valid_contact(const char *in, char *out, size_t outsz, char *err,
	    size_t errsz);
/*
 * A pragmatic e-mail address: at most 254 bytes, one '@', a local part of
 * 1..64 RFC 5322 atext characters and non-adjacent inner dots, a domain of
 * two or more dot-separated labels of 1..63 [A-Za-z0-9-], no label starting
 * or ending with '-'.
 */
int	valid_email(const char *s);
/*
 * A tag: well-formed UTF-8, 1..30 characters, no control character, no
 * comma (tags are given as comma-separated lists), no leading or trailing
 * white space.
 */
int	valid_tag(const char *s, char *err, size_t errsz);
/* One of valid_strategies[]. */
int	valid_strategy(const char *s);
/* One of valid_channels[]. */
int	valid_channel(const char *s);
/*
 * An address on a channel: sms, an E.164 number; whatsapp, a phone-number
 * id; messenger and instagram, a page id (ids: 1..32 digits).  An unknown
 * channel is invalid.
 */
int	valid_addr(const char *channel, const char *addr, char *err,
	    size_t errsz);
/*
 * A Messenger or Instagram customer's page-scoped id (PSID, IGSID), or a
 * Page's or an Instagram account's id: 1 to VALID_ADDRID_MAX digits.
 */
int	valid_psid(const char *s);
/*
 * "HH:MM", 00:00 to 23:59, and 24:00 for the end of a day; *minutes (if not
 * NULL) gets minutes since midnight, 0..1440.
 */
int	valid_hhmm(const char *s, int *minutes);
/*
 * "YYYY-MM-DD", a real Gregorian date (year 0001..9999, leap years
 * counted); y, m, d (each may be NULL) get its parts.
 */
int	valid_date(const char *s, int *y, int *m, int *d);
/*
 * A bare MIME type: type "/" subtype, each an RFC 6838 restricted-name
 * (1..127 characters, alphanumeric first, then [A-Za-z0-9!#$&^_.+-]); no
 * parameters, no wildcards.
 */
int	valid_mime(const char *s);
/* len bytes of well-formed UTF-8 (no overlong forms, no surrogates, at most
 * U+10FFFF) without a NUL byte. */
int	valid_utf8(const char *s, size_t len);
/*
 * At s (len > 0 bytes): the length of the well-formed UTF-8 sequence that
 * starts there, 1 to 4; or 0, with *bad the length of the maximal ill-formed
 * subpart there (1 to 3): the bytes one U+FFFD replaces, as Unicode
 * recommends (section 3.9, "U+FFFD substitution of maximal subparts").
 */
size_t	valid_utf8_next(const char *s, size_t len, size_t *bad);
/* Number of characters in well-formed UTF-8 s (undefined if it is not). */
size_t	valid_utf8_chars(const char *s, size_t len);
/*
 * Text a person wrote (a title, a message): well-formed UTF-8 of at most
 * maxchars characters; what names it in the reason.
 */
int	valid_text(const char *s, size_t maxchars, const char *what, char *err,
	    size_t errsz);

#endif
