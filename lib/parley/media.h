/*
 * media — what a file is and where it may go: the MIME type of a file from
 * its first bytes (magic numbers for the common image, audio, video and
 * PDF formats) or else from its name's extension (office documents, text),
 * and each channel's size and count limits for attachments.  Pure: no I/O,
 * so msg, routerd and the tests agree on the same answers.
 */
#ifndef PARLEY_MEDIA_H
#define PARLEY_MEDIA_H

#include <stddef.h>

#define MEDIA_MAGIC_LEN	16		/* bytes media_mime looks at */
#define MEDIA_KB	1024LL
#define MEDIA_MB	(1024LL * 1024)

/*
 * The MIME type of a file named name (a path or URL path: only its last
 * component's extension counts) whose first n bytes are buf (NULL, 0 when
 * unknown, as for a URL).  Magic bytes win over the extension; NULL when
 * neither tells.
 */
const char *media_mime(const char *name, const unsigned char *buf, size_t n);

/*
 * The largest attachment of type mime the channel takes, in bytes; 0 when
 * the channel is unknown.  WhatsApp: image 5 MB, audio and video 16 MB,
 * sticker (image/webp) 100 KB, documents 100 MB; Messenger 25 MB;
 * Instagram images 8 MB, the rest 25 MB; SMS (Twilio MMS) 5 MB for all of
 * a message's media together.
 */
long long media_limit(const char *channel, const char *mime);

/*
 * Does channel take files of type mime at all?  0, or -1 with a one-line
 * reason naming what it takes.  Only Instagram lists its types (png, jpeg
 * and gif images; aac, m4a and wav audio; mp4, ogg, avi, mov and webm
 * video; pdf); the other channels take any type their size limits allow.
 */
int	media_check_type(const char *channel, const char *mime, char *why,
	    size_t whysz);

/* How many attachments one message may carry on channel (SMS 10, else 1). */
int	media_max_count(const char *channel);

/*
 * Does an attachment of size bytes and type mime fit channel?  0, or -1
 * with a one-line reason in why ("... is 6.0 MB; sms takes at most 5 MB").
 */
int	media_check_size(const char *channel, const char *mime,
	    long long size, char *why, size_t whysz);

#endif
