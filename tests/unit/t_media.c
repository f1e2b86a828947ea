/*
 * t_media — lib/media: MIME types from magic bytes (which win over the
 * name) and from extensions (office documents, text), and the channels'
 * attachment limits at their edges: WhatsApp image 5 MB, audio/video
 * 16 MB, document 100 MB, sticker 100 KB; Messenger/Instagram 25 MB;
 * SMS 5 MB.  TAP output.
 */
#include <stdio.h>
#include <string.h>

#include "media.h"

static int ntest, nfail;

static void
ok(int cond, const char *desc)
{
	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - %s\n", cond ? "" : "not ", ntest, desc);
}

static void
is(const char *got, const char *want, const char *desc)
{
	int same = (got == NULL && want == NULL) ||
	    (got && want && strcmp(got, want) == 0);

	ok(same, desc);
	if (!same)
		printf("#      got: %s\n# expected: %s\n", got ? got : "(null)",
		    want ? want : "(null)");
}

#define M(s)	(const unsigned char *)(s), sizeof(s) - 1

static void
magic(void)
{
	is(media_mime("x.bin", M("\xff\xd8\xff\xe0\0\x10JFIF")), "image/jpeg",
	    "JPEG by magic");
	is(media_mime("x", M("\x89PNG\r\n\x1a\n\0\0\0\rIHDR")), "image/png",
	    "PNG by magic");
	is(media_mime("x", M("GIF89a\x01\0")), "image/gif", "GIF89a");
	is(media_mime("x", M("GIF87a\x01\0")), "image/gif", "GIF87a");
	is(media_mime("x", M("RIFF\x10\0\0\0WEBPVP8 ")), "image/webp",
	    "WebP: RIFF....WEBP");
	is(media_mime("x", M("RIFF\x10\0\0\0WAVEfmt ")), NULL,
	    "RIFF that is not WebP is not taken for it");
	is(media_mime("x", M("%PDF-1.7\n")), "application/pdf", "PDF");
	is(media_mime("x", M("\0\0\0\x20" "ftypisom\0\0\x02\0")), "video/mp4",
	    "MP4: ftyp isom");
	is(media_mime("x", M("\0\0\0\x18" "ftyp3gp4\0\0\0\0")), "video/3gpp",
	    "3GP: ftyp 3gp4");
	is(media_mime("x", M("\0\0\0\x20" "ftypM4A \0\0\0\0")), "audio/mp4",
	    "M4A: ftyp M4A");
	is(media_mime("x", M("OggS\0\x02\0\0")), "audio/ogg", "Ogg");
	is(media_mime("x", M("ID3\x04\0\0\0\0")), "audio/mpeg", "MP3 with ID3");
	is(media_mime("x", M("\xff\xfb\x90\x64")), "audio/mpeg",
	    "MP3 frame sync (layer III)");
	is(media_mime("x", M("#!AMR\n\x3c")), "audio/amr", "AMR");
	is(media_mime("x", M("\xff\xf1\x50\x80")), "audio/aac",
	    "AAC ADTS (MPEG-4)");
	is(media_mime("x", M("\xff\xf9\x50\x80")), "audio/aac",
	    "AAC ADTS (MPEG-2)");
	is(media_mime("photo.pdf", M("\x89PNG\r\n\x1a\n")), "image/png",
	    "magic wins over a misleading extension");
	is(media_mime("x", M("\xff\xd8")), NULL, "two bytes of JPEG are not "
	    "enough");
	is(media_mime("x", M("%PDF")), NULL, "a truncated PDF header is not "
	    "a PDF");
	is(media_mime(NULL, NULL, 0), NULL, "nothing tells nothing");
}

static void
extension(void)
{
	static const unsigned char zip[] = "PK\x03\x04\x14\0";
	static const unsigned char ole[] = "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1";

	is(media_mime("report.docx", zip, 6), "application/vnd."
	    "openxmlformats-officedocument.wordprocessingml.document",
	    "docx (a zip) by extension");
	is(media_mime("sheet.XLSX", zip, 6), "application/vnd."
	    "openxmlformats-officedocument.spreadsheetml.sheet",
	    "xlsx, extension case ignored");
	is(media_mime("deck.pptx", NULL, 0), "application/vnd."
	    "openxmlformats-officedocument.presentationml.presentation",
	    "pptx");
	is(media_mime("old.doc", ole, 8), "application/msword", "doc (OLE)");
	is(media_mime("old.xls", ole, 8), "application/vnd.ms-excel", "xls");
	is(media_mime("old.ppt", ole, 8), "application/vnd.ms-powerpoint",
	    "ppt");
	is(media_mime("notes.txt", M("hello\n")), "text/plain", "txt");
	is(media_mime("list.csv", M("a,b\n")), "text/csv", "csv");
	is(media_mime("/home/a/dir.v2/pic.jpeg", NULL, 0), "image/jpeg",
	    "a path: the last component's extension");
	is(media_mime("https://cdn.example.com/m/a.png", NULL, 0), "image/png",
	    "a URL path");
	is(media_mime("dir.pdf/README", NULL, 0), NULL,
	    "a dot in a directory is no extension");
	is(media_mime(".pdf", NULL, 0), NULL, "a dot file has no extension");
	is(media_mime("x.", NULL, 0), NULL, "an empty extension");
	is(media_mime("x.exe", M("MZ\x90\0")), NULL, "unknown types are NULL");
}

static void
limits(void)
{
	char why[200];

	ok(media_limit("whatsapp", "image/jpeg") == 5 * MEDIA_MB,
	    "WhatsApp image 5 MB");
	ok(media_limit("whatsapp", "image/webp") == 100 * MEDIA_KB,
	    "WhatsApp sticker (webp) 100 KB");
	ok(media_limit("whatsapp", "audio/ogg") == 16 * MEDIA_MB,
	    "WhatsApp audio 16 MB");
	ok(media_limit("whatsapp", "video/mp4") == 16 * MEDIA_MB,
	    "WhatsApp video 16 MB");
	ok(media_limit("whatsapp", "application/pdf") == 100 * MEDIA_MB,
	    "WhatsApp document 100 MB");
	ok(media_limit("messenger", "video/mp4") == 25 * MEDIA_MB,
	    "Messenger 25 MB");
	ok(media_limit("instagram", "image/png") == 8 * MEDIA_MB,
	    "Instagram images 8 MB");
	ok(media_limit("instagram", "video/mp4") == 25 * MEDIA_MB,
	    "Instagram video 25 MB");
	ok(media_check_type("instagram", "image/png", why, sizeof(why)) == 0 &&
	    media_check_type("instagram", "audio/mp4", why, sizeof(why)) == 0,
	    "Instagram takes png images and m4a audio");
	ok(media_check_type("instagram", "image/webp", why, sizeof(why)) ==
	    -1 && strstr(why, "image/webp") != NULL,
	    "Instagram refuses webp, naming it");
	ok(media_check_type("instagram", "application/msword", why,
	    sizeof(why)) == -1, "Instagram refuses a Word document");
	ok(media_check_type("messenger", "application/msword", why,
	    sizeof(why)) == 0, "Messenger takes any file type");
	ok(media_limit("sms", "image/png") == 5 * MEDIA_MB, "SMS 5 MB");
	ok(media_limit("fax", "image/png") == 0, "unknown channel: nothing");
	ok(media_max_count("sms") == 10 && media_max_count("whatsapp") == 1,
	    "SMS takes 10 media, WhatsApp 1");

	ok(media_check_size("sms", "image/png", 5 * MEDIA_MB, why,
	    sizeof(why)) == 0, "SMS: exactly 5 MB fits");
	ok(media_check_size("sms", "image/png", 5 * MEDIA_MB + 1, why,
	    sizeof(why)) == -1, "SMS: 5 MB + 1 byte does not");
	ok(strstr(why, "5 MB") != NULL, "the reason names the limit");
	ok(media_check_size("sms", "image/png", 0, why, sizeof(why)) == 0,
	    "an empty file fits");
	ok(media_check_size("whatsapp", "image/webp", 100 * MEDIA_KB, why,
	    sizeof(why)) == 0, "sticker: exactly 100 KB fits");
	ok(media_check_size("whatsapp", "image/webp", 100 * MEDIA_KB + 1, why,
	    sizeof(why)) == -1 && strstr(why, "100 KB") != NULL,
	    "sticker: 100 KB + 1 refused, the reason says 100 KB");
	ok(media_check_size("whatsapp", "video/mp4", 16 * MEDIA_MB, why,
	    sizeof(why)) == 0 && media_check_size("whatsapp", "video/mp4",
	    16 * MEDIA_MB + 1, why, sizeof(why)) == -1, "WhatsApp video edge");
	ok(media_check_size("whatsapp", "application/pdf", 6 * MEDIA_MB, why,
	    sizeof(why)) == 0, "a 6 MB PDF fits WhatsApp");
	ok(media_check_size("whatsapp", "image/jpeg", 6 * MEDIA_MB, why,
	    sizeof(why)) == -1, "a 6 MB image does not");
	ok(media_check_size("messenger", "application/pdf", 25 * MEDIA_MB + 1,
	    why, sizeof(why)) == -1, "Messenger 25 MB + 1 refused");
	ok(media_check_size("sms", "image/png", -1, why, sizeof(why)) == -1,
	    "a negative size is refused");
	ok(media_check_size("fax", "image/png", 1, why, sizeof(why)) == -1,
	    "an unknown channel takes no files");
}

int
main(void)
{
	magic();
	extension();
	limits();
	printf("1..%d\n", ntest);
	return nfail != 0;
}
