/*
 * msg channel — the channel daemons' sending addresses.
 *
 *   msg channel status [--json]
 *	Each address whatsappd knows (the numbers it has sent from or
 *	received on, and whatsapp_numbers) as active or inactive, with the
 *	reason and since when: a number turns inactive when Meta answers
 *	error 190 (the access token expired or was revoked), and whatsappd
 *	then sends nothing on it.
 *
 *   msg channel token whatsapp [--file PATH]
 *	Replace the access token: the first line of PATH (or of stdin) is
 *	written to whatsapp_token_file (a new file, mode 0600, synced, then
 *	renamed over the old one, with the old one's owner when msg may
 *	give it) and whatsappd is told to read it; every
 *	number is active again at once, without a restart.  Who may write the
 *	secrets directory may change the token: nothing else is checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <jansson.h>

#include "conf.h"
#include "mp.h"
#include "msg.h"
#include "rec.h"

#define TOKEN_MAX	4096

/* A request {t, id} to whatsappd; the answer, or exit. */
static const msgpack_object *
wa_call(struct busc *c, struct fbuf *fb, const char *t)
{
	int64_t id;

	msg_connect_or_die(c, "whatsappd");
	fbuf_init(fb);
	id = busc_next_id(c);
	fbuf_begin(fb, 2);
	mp_kv_str(&fb->pk, "t", t);
	mp_kv_int(&fb->pk, "id", id);
	return msg_call(c, fb, id);
}

static int
status(int json)
{
	const msgpack_object *ans, *chs, *e;
	struct busc c;
	struct fbuf fb;
	json_t *j;
	char addr[64], reason[256], since[32], *line;
	int64_t ms;
	int active;
	size_t i;

	ans = wa_call(&c, &fb, "chstatus");
	chs = mp_get(ans, "channels");
	if (chs == NULL || chs->type != MSGPACK_OBJECT_ARRAY)
		msg_die(MSG_EX_REFUSED, "whatsappd's answer lists no channels");
	if (!json && chs->via.array.size > 0)
		msg_out_line("CHANNEL   ADDRESS          STATE     SINCE"
		    "                     REASON");
	for (i = 0; i < chs->via.array.size; i++) {
		e = &chs->via.array.ptr[i];
		if (e->type != MSGPACK_OBJECT_MAP ||
		    !mp_strcpy(e, "addr", addr, sizeof(addr)))
			continue;
		active = 1;
		mp_bool(e, "active", &active);
		reason[0] = since[0] = '\0';
		mp_strcpy(e, "reason", reason, sizeof(reason));
		if (mp_int(e, "since", &ms) && ms > 0)
			rec_ts_format(ms, since);
		if (json) {
			j = json_pack("{s:s, s:s, s:b}", "channel", "whatsapp",
			    "addr", addr, "active", active);
			if (j == NULL)
				continue;
			if (since[0])
				json_object_set_new(j, "since",
				    json_string(since));
			if (reason[0])
				json_object_set_new(j, "reason",
				    json_string(reason));
			if ((line = json_dumps(j, JSON_COMPACT |
			    JSON_PRESERVE_ORDER)) != NULL)
				msg_out_line(line);
			free(line);
			json_decref(j);
		} else {
			char buf[512];

			snprintf(buf, sizeof(buf), "%-9s %-16s %-9s %-25s %s",
			    "whatsapp", addr, active ? "active" : "inactive",
			    since[0] ? since : "-", reason);
			msg_out_line(buf);
		}
	}
	if (!json && chs->via.array.size == 0)
		msg_err("whatsappd knows no numbers yet (set whatsapp_numbers "
		    "to list them)");
	fbuf_free(&fb);
	busc_close(&c);
	return MSG_EX_OK;
}

/* The token: the first line of path ("-": stdin), without its newline. */
static char *
read_token(const char *path)
{
	char *buf, *end;
	size_t n = 0;
	ssize_t r;
	int fd = 0;

	if (strcmp(path, "-") != 0 &&
	    (fd = open(path, O_RDONLY | O_NOCTTY)) == -1)
		msg_die(MSG_EX_REFUSED, "%s: %s", path, strerror(errno));
	if ((buf = malloc(TOKEN_MAX + 2)) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	while (n <= TOKEN_MAX && memchr(buf, '\n', n) == NULL &&
	    (r = read(fd, buf + n, TOKEN_MAX + 1 - n)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			msg_die(MSG_EX_REFUSED, "%s: %s", path, strerror(errno));
		}
		n += (size_t)r;
	}
	if (fd != 0)
		close(fd);
	if ((end = memchr(buf, '\n', n)) == NULL) {
		if (n > TOKEN_MAX)
			msg_die(MSG_EX_REFUSED, "the token is longer than %d "
			    "bytes", TOKEN_MAX);
		end = buf + n;
	}
	if (end > buf && end[-1] == '\r')
		end--;
	*end = '\0';
	if (buf[0] == '\0' || strlen(buf) != (size_t)(end - buf) ||
	    strpbrk(buf, " \t\r") != NULL)
		msg_die(MSG_EX_REFUSED, "the token must be one non-empty line "
		    "without spaces");
	return buf;
}

static int
token(const char *channel, const char *from)
{
	const msgpack_object *ans;
	struct conf *cf;
	struct busc c;
	struct fbuf fb;
	char tmp[PATH_MAX + 8], *path, *tok;
	struct stat sb;
	size_t len;
	int fd;

	if (strcmp(channel, "whatsapp") != 0)
		msg_die(MSG_EX_REFUSED, "channel %s has no token to replace "
		    "(only whatsapp)", channel);
	cf = msg_conf();
	if ((path = conf_path(cf, conf_get(cf, "whatsapp_token_file"))) ==
	    NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	tok = read_token(from);
	len = strlen(tok);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600))
	    == -1)
		msg_die(MSG_EX_REFUSED, "%s: %s", tmp, strerror(errno));
	/* the daemon must still read it: keep the old file's owner (root may) */
	if (stat(path, &sb) == 0 && (sb.st_uid != geteuid() ||
	    sb.st_gid != getegid()) && fchown(fd, sb.st_uid, sb.st_gid) == -1)
		msg_err("%s: keeping the owner: %s", tmp, strerror(errno));
	tok[len] = '\n';
	if (write(fd, tok, len + 1) != (ssize_t)(len + 1) || fsync(fd) == -1 ||
	    close(fd) == -1 || rename(tmp, path) == -1) {
		unlink(tmp);
		msg_die(MSG_EX_REFUSED, "%s: %s", path, strerror(errno));
	}
	explicit_bzero(tok, len + 1);
	free(tok);
	ans = wa_call(&c, &fb, "chtoken");
	(void)ans;
	printf("whatsapp: token written to %s and taken up by whatsappd\n",
	    path);
	msg_out_flush();
	fbuf_free(&fb);
	busc_close(&c);
	free(path);
	return MSG_EX_OK;
}

int
msg_channel(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = "-";
	int ch, json = !msg_stdout_tty();

	while ((ch = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		case 'f':
			file = optarg;
			break;
		default:
			msg_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 1 && strcmp(argv[0], "status") == 0)
		return status(json);
	if (argc == 2 && strcmp(argv[0], "token") == 0)
		return token(argv[1], file);
	msg_usage();
}
