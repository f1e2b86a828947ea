/*
 * media — MIME types from magic bytes and extensions, and the channels'
 * attachment limits (providers.md: WhatsApp Cloud API media, Messenger
 * attachments, Twilio MMS).  See media.h.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "media.h"

static int
has(const unsigned char *buf, size_t n, size_t off, const char *m, size_t ml)
{
	return n >= off + ml && memcmp(buf + off, m, ml) == 0;
}

/* ISO base media (mp4, 3gp, m4a): "ftyp" at 4, the major brand at 8. */
static const char *
ftyp(const unsigned char *buf, size_t n)
{
	if (!has(buf, n, 4, "ftyp", 4) || n < 12)
		return NULL;
	if (memcmp(buf + 8, "3g", 2) == 0)
		return "video/3gpp";
	if (memcmp(buf + 8, "M4A ", 4) == 0)
		return "audio/mp4";
	return "video/mp4";
}

static const char *
magic(const unsigned char *buf, size_t n)
{
	const char *t;

	if (buf == NULL)
		return NULL;
	if (has(buf, n, 0, "\xff\xd8\xff", 3))
		return "image/jpeg";
	if (has(buf, n, 0, "\x89PNG\r\n\x1a\n", 8))
		return "image/png";
	if (has(buf, n, 0, "GIF87a", 6) || has(buf, n, 0, "GIF89a", 6))
		return "image/gif";
	if (has(buf, n, 0, "RIFF", 4) && has(buf, n, 8, "WEBP", 4))
		return "image/webp";
	if (has(buf, n, 0, "%PDF-", 5))
		return "application/pdf";
	if ((t = ftyp(buf, n)) != NULL)
		return t;
	if (has(buf, n, 0, "OggS", 4))
		return "audio/ogg";
	if (has(buf, n, 0, "#!AMR\n", 6))
		return "audio/amr";
	if (has(buf, n, 0, "ID3", 3))
		return "audio/mpeg";
	if (n >= 2 && buf[0] == 0xff) {
		/* ADTS (AAC): sync 0xFFF, layer 00; MPEG audio: layer != 00 */
		if ((buf[1] & 0xf6) == 0xf0)
			return "audio/aac";
		if ((buf[1] & 0xe0) == 0xe0 && (buf[1] & 0x06) != 0)
			return "audio/mpeg";
	}
	return NULL;
}

static const struct {
	const char	*ext;
	const char	*mime;
} exts[] = {
	{ "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
	{ "png", "image/png" }, { "gif", "image/gif" },
	{ "webp", "image/webp" }, { "pdf", "application/pdf" },
	{ "mp4", "video/mp4" }, { "3gp", "video/3gpp" },
	{ "ogg", "audio/ogg" }, { "opus", "audio/ogg" },
	{ "mp3", "audio/mpeg" }, { "amr", "audio/amr" },
	{ "aac", "audio/aac" }, { "m4a", "audio/mp4" },
	{ "txt", "text/plain" }, { "csv", "text/csv" },
	{ "doc", "application/msword" },
	{ "xls", "application/vnd.ms-excel" },
	{ "ppt", "application/vnd.ms-powerpoint" },
	{ "docx", "application/vnd.openxmlformats-officedocument."
	    "wordprocessingml.document" },
	{ "xlsx", "application/vnd.openxmlformats-officedocument."
	    "spreadsheetml.sheet" },
	{ "pptx", "application/vnd.openxmlformats-officedocument."
	    "presentationml.presentation" },
};

static const char *
by_ext(const char *name)
{
	const char *base, *dot;
	size_t i;

	if (name == NULL)
		return NULL;
	base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if ((dot = strrchr(base, '.')) == NULL || dot == base || dot[1] == '\0')
		return NULL;
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (strcasecmp(dot + 1, exts[i].ext) == 0)
			return exts[i].mime;
	return NULL;
}

const char *
media_mime(const char *name, const unsigned char *buf, size_t n)
{
	const char *t;

	if ((t = magic(buf, n)) != NULL)
		return t;
	return by_ext(name);
}

long long
media_limit(const char *channel, const char *mime)
{
	if (channel == NULL || mime == NULL)
		return 0;
	if (strcmp(channel, "sms") == 0)
		return 5 * MEDIA_MB;
	if (strcmp(channel, "instagram") == 0 &&
	    strncmp(mime, "image/", 6) == 0)
		return 8 * MEDIA_MB;
	if (strcmp(channel, "messenger") == 0 ||
	    strcmp(channel, "instagram") == 0)
		return 25 * MEDIA_MB;
	if (strcmp(channel, "whatsapp") != 0)
		return 0;
	if (strcmp(mime, "image/webp") == 0)
		return 100 * MEDIA_KB;		/* a sticker */
	if (strncmp(mime, "image/", 6) == 0)
		return 5 * MEDIA_MB;
	if (strncmp(mime, "audio/", 6) == 0 || strncmp(mime, "video/", 6) == 0)
		return 16 * MEDIA_MB;
	return 100 * MEDIA_MB;
}

int
media_max_count(const char *channel)
{
	return channel != NULL && strcmp(channel, "sms") == 0 ? 10 : 1;
}

static void
human(long long n, char *out, size_t outsz)
{
	if (n >= MEDIA_MB)
		snprintf(out, outsz, "%.1f MB", (double)n / MEDIA_MB);
	else if (n >= MEDIA_KB)
		snprintf(out, outsz, "%.1f KB", (double)n / MEDIA_KB);
	else
		snprintf(out, outsz, "%lld bytes", n);
}

int
media_check_size(const char *channel, const char *mime, long long size,
    char *why, size_t whysz)
{
	long long max = media_limit(channel, mime);
	char has[32], lim[32];

	if (max == 0) {
		snprintf(why, whysz, "channel %s takes no files", channel ?
		    channel : "?");
		return -1;
	}
	if (size < 0 || size > max) {
		human(size < 0 ? 0 : size, has, sizeof(has));
		if (max % MEDIA_MB == 0)
			snprintf(lim, sizeof(lim), "%lld MB", max / MEDIA_MB);
		else
			snprintf(lim, sizeof(lim), "%lld KB", max / MEDIA_KB);
		snprintf(why, whysz, "the file is %s; %s takes at most %s%s%s",
		    has, channel, lim, strcmp(channel, "sms") == 0 ?
		    " of media per message" : " for ", strcmp(channel, "sms") ==
		    0 ? "" : mime);
		return -1;
	}
	return 0;
}

/* The types Instagram takes (Meta's send-message page). */
static const char *const ig_types[] = {
	"image/png", "image/jpeg", "image/gif",
	"audio/aac", "audio/mp4", "audio/x-m4a", "audio/wav", "audio/x-wav",
	"audio/wave", "video/mp4", "video/ogg", "video/x-msvideo",
	"video/quicktime", "video/webm", "application/pdf", NULL
};

int
media_check_type(const char *channel, const char *mime, char *why,
    size_t whysz)
{
	size_t i, n;

	if (channel == NULL || mime == NULL)
		goto refused;
	if (strcmp(channel, "instagram") != 0)
		return 0;
	/* the type without parameters ("audio/ogg; codecs=opus") */
	n = strcspn(mime, "; ");
	for (i = 0; ig_types[i] != NULL; i++)
		if (strlen(ig_types[i]) == n &&
		    strncasecmp(ig_types[i], mime, n) == 0)
			return 0;
refused:
	snprintf(why, whysz, "%s takes no %.64s files (images png, jpeg, gif; "
	    "audio aac, m4a, wav; video mp4, ogg, avi, mov, webm; pdf)",
	    channel ? channel : "?", mime ? mime : "untyped");
	return -1;
}
