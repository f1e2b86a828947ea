/*
 * msg channel — the channel daemons' sending addresses.
 *
 *   msg channel status [--json]
 *	Each address whatsappd knows (the numbers it has sent from or
 *	received on, and whatsapp_numbers) and each Page and Instagram
 *	account of messengerd's as active or inactive, with the reason and
 *	since when: an address turns inactive when Meta answers error 190
 *	(the access token expired or was revoked), and its daemon then sends
 *	nothing on it.  A daemon that is not running is named and skipped.
 *
 *   msg channel unsolicited [CHANNEL:ADDR [--campaign C] [--team T]...
 *	[--agent A]... | --clear]]
 *	A reusable number's unsolicited-message settings (campaignd's
 *	"unsolicited" kind, admin only to change): who receives what arrives
 *	on it when no active campaign owns it.  Without options it shows
 *	them; without an address it lists every number's.  msg channel
 *	status shows them beside the addresses.
 *
 *   msg channel token messenger|instagram ID [--file PATH]
 *	A Page's new token (an Instagram account's is its Page's): written
 *	as "<messenger_token_dir>/<page>.new", checked by messengerd with
 *	Meta, renamed into place only once Meta accepted it.
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
#include "msg_admin.h"
#include "rec.h"
#include "valid.h"

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

/* chstatus of one channel daemon into out (its channels as JSON objects
 * {channel, addr, active, reason?, since?, name?, page?}); -1 with why
 * when it cannot be asked. */
static int
chstatus_of(const char *daemon, json_t *out, char *why, size_t whysz)
{
	const msgpack_object *ans, *chs, *e;
	const char *w;
	struct busc c;
	struct fbuf fb;
	char ch[16], addr[64], reason[256], name[256], page[64];
	int64_t id, ms;
	int active;
	size_t i;
	json_t *j;

	if (msg_connect(&c, daemon, 5000, &w) == -1) {
		snprintf(why, whysz, "%s: %s", daemon, w);
		return -1;
	}
	fbuf_init(&fb);
	id = busc_next_id(&c);
	fbuf_begin(&fb, 2);
	mp_kv_str(&fb.pk, "t", "chstatus");
	mp_kv_int(&fb.pk, "id", id);
	if (busc_call(&c, &fb, id, &ans) == -1 ||
	    (chs = mp_get(ans, "channels")) == NULL ||
	    chs->type != MSGPACK_OBJECT_ARRAY) {
		snprintf(why, whysz, "%s: %s", daemon, c.err[0] ? c.err :
		    "its answer lists no channels");
		fbuf_free(&fb);
		busc_close(&c);
		return -1;
	}
	for (i = 0; i < chs->via.array.size; i++) {
		e = &chs->via.array.ptr[i];
		if (e->type != MSGPACK_OBJECT_MAP ||
		    !mp_strcpy(e, "addr", addr, sizeof(addr)))
			continue;
		if (!mp_strcpy(e, "channel", ch, sizeof(ch)))
			snprintf(ch, sizeof(ch), "whatsapp");
		active = 1;
		mp_bool(e, "active", &active);
		j = json_pack("{s:s, s:s, s:b}", "channel", ch, "addr", addr,
		    "active", active);
		if (j == NULL)
			continue;
		if (mp_int(e, "since", &ms) && ms > 0) {
			char since[32];

			rec_ts_format(ms, since);
			json_object_set_new(j, "since", json_string(since));
		}
		if (mp_strcpy(e, "reason", reason, sizeof(reason)) &&
		    reason[0])
			json_object_set_new(j, "reason", json_string(reason));
		if (mp_strcpy(e, "name", name, sizeof(name)) && name[0])
			json_object_set_new(j, "name", json_string(name));
		if (mp_strcpy(e, "page", page, sizeof(page)) && page[0])
			json_object_set_new(j, "page", json_string(page));
		json_array_append_new(out, j);
	}
	fbuf_free(&fb);
	busc_close(&c);
	return 0;
}

json_t *
msg_chstatus(char *why, size_t whysz)
{
	static const char *const daemons[] = { "whatsappd", "messengerd",
	    NULL };
	json_t *out = json_array();
	char w[300];
	size_t i, len = 0;

	why[0] = '\0';
	for (i = 0; daemons[i] != NULL; i++)
		if (chstatus_of(daemons[i], out, w, sizeof(w)) == -1 &&
		    len < whysz)
			len += (size_t)snprintf(why + len, whysz - len, "%s%s",
			    len ? "; " : "", w);
	return out;
}

/* "campaign C, teams a,b, agents x" of settings u into buf. */
static void
unsol_text(json_t *u, char *buf, size_t sz)
{
	static const char *const keys[] = { "teams", "agents", NULL };
	json_t *e;
	size_t i, k, n = 0;

	buf[0] = '\0';
	if (json_is_string(json_object_get(u, "campaign")))
		n += (size_t)snprintf(buf, sz, "campaign %s",
		    json_string_value(json_object_get(u, "campaign")));
	for (k = 0; keys[k] && n < sz; k++) {
		if (json_array_size(json_object_get(u, keys[k])) == 0)
			continue;
		n += (size_t)snprintf(buf + n, sz - n, "%s%s ", n ? ", " : "",
		    keys[k]);
		json_array_foreach(json_object_get(u, keys[k]), i, e)
			if (n < sz)
				n += (size_t)snprintf(buf + n, sz - n, "%s%s",
				    i ? "," : "", json_string_value(e));
	}
	if (n == 0)
		snprintf(buf, sz, "default");
}

/* Every number's unsolicited settings (campaignd), as a list; empty (and
 * said) when campaignd cannot be reached. */
static json_t *
unsol_all(void)
{
	struct busc c;
	json_t *res, *items, *all = json_array(), *args, *next;
	const char *why;
	int more;

	if (msg_connect(&c, "campaignd", 5000, &why) == -1) {
		msg_err("campaignd: %s; unsolicited settings not shown", why);
		return all;
	}
	args = json_object();
	do {
		res = admin_call_on(&c, "unsolicited", "list",
		    json_deep_copy(args));
		items = json_object_get(res, "items");
		json_array_extend(all, json_is_array(items) ? items :
		    json_array());
		next = json_object_get(res, "next");
		more = json_is_true(json_object_get(res, "more")) &&
		    json_is_string(next);
		if (more)
			json_object_set(args, "after", next);
		json_decref(res);
	} while (more);
	json_decref(args);
	busc_close(&c);
	return all;
}

static int
status(int json)
{
	json_t *all, *e, *unsol, *u;
	char why[700], *line, buf[1200], us[400];
	size_t i;

	all = msg_chstatus(why, sizeof(why));
	unsol = unsol_all();
	/* each address with its settings; settings of addresses no daemon
	 * lists (SMS numbers) as entries of their own */
	json_array_foreach(unsol, i, u) {
		size_t k;
		int found = 0;

		json_array_foreach(all, k, e)
			if (strcmp(rec_str(e, "channel", ""), rec_str(u,
			    "channel", "-")) == 0 && strcmp(rec_str(e, "addr",
			    ""), rec_str(u, "addr", "-")) == 0) {
				json_object_set(e, "unsolicited", u);
				found = 1;
			}
		if (!found)
			json_array_append_new(all, json_pack("{s:O,s:O,s:O}",
			    "channel", json_object_get(u, "channel"), "addr",
			    json_object_get(u, "addr"), "unsolicited", u));
	}
	json_decref(unsol);
	if (json_array_size(all) == 0 && why[0])
		msg_die(MSG_EX_UNREACH, "%s", why);
	if (why[0])
		msg_err("%s", why);
	if (!json && json_array_size(all) > 0)
		msg_out_line("CHANNEL   ADDRESS          STATE     SINCE"
		    "                     REASON");
	json_array_foreach(all, i, e) {
		const char *rs = json_string_value(json_object_get(e,
		    "reason")), *nm = json_string_value(json_object_get(e,
		    "name")), *since = json_string_value(json_object_get(e,
		    "since"));
		int active = json_is_true(json_object_get(e, "active"));

		if (json) {
			if ((line = json_dumps(e, JSON_COMPACT |
			    JSON_PRESERVE_ORDER)) != NULL)
				msg_out_line(line);
			free(line);
			continue;
		}
		us[0] = '\0';
		if (json_is_object(json_object_get(e, "unsolicited"))) {
			unsol_text(json_object_get(e, "unsolicited"), us + 16,
			    sizeof(us) - 16);
			memcpy(us, " unsolicited -> ", 16);
		}
		snprintf(buf, sizeof(buf), "%-9s %-16s %-9s %-25s %s%s%s%s%s",
		    json_string_value(json_object_get(e, "channel")),
		    json_string_value(json_object_get(e, "addr")),
		    json_object_get(e, "active") == NULL ? "-" :
		    active ? "active" : "inactive", since ? since : "-",
		    rs ? rs : "", nm ? (rs ? " (" : "(") : "", nm ? nm : "",
		    nm ? ")" : "", us);
		msg_out_line(buf);
	}
	if (!json && json_array_size(all) == 0)
		msg_err("no channel daemon knows an address yet (set "
		    "whatsapp_numbers or messenger_pages)");
	json_decref(all);
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

/* Write tok (len bytes and a newline) to path: mode 0600, synced, the
 * old file's owner kept when msg may give it; exits on failure. */
static void
token_write(const char *path, const char *old, char *tok, size_t len)
{
	struct stat sb;
	int fd;

	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
	    0600)) == -1)
		msg_die(MSG_EX_REFUSED, "%s: %s", path, strerror(errno));
	if (stat(old, &sb) == 0 && (sb.st_uid != geteuid() ||
	    sb.st_gid != getegid()) && fchown(fd, sb.st_uid, sb.st_gid) == -1)
		msg_err("%s: keeping the owner: %s", path, strerror(errno));
	tok[len] = '\n';
	if (write(fd, tok, len + 1) != (ssize_t)(len + 1) || fsync(fd) == -1 ||
	    close(fd) == -1) {
		unlink(path);
		msg_die(MSG_EX_REFUSED, "%s: %s", path, strerror(errno));
	}
	tok[len] = '\0';
}

/*
 * msg channel token messenger|instagram ID: the token of a Page (an
 * Instagram account's is its Page's) written beside the old one as
 * "<page>.new", checked by messengerd with Meta, and renamed into place
 * only when Meta took it; refused otherwise, the old one kept.
 */
static int
token_page(const char *channel, const char *id, const char *from)
{
	const msgpack_object *ans, *err;
	struct conf *cf;
	struct busc c;
	struct fbuf fb;
	json_t *all, *e;
	char page[64], name[256] = "", code[32] = "", why[700], *dir, *tok;
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	int64_t rid;
	size_t i;

	if (!valid_psid(id))
		msg_die(MSG_EX_REFUSED, "%s is not a %s id (1 to 32 digits)",
		    id, strcmp(channel, "messenger") == 0 ? "Page" :
		    "Instagram account");
	snprintf(page, sizeof(page), "%s", id);
	if (strcmp(channel, "instagram") == 0) {
		/* the account's token is its Page's */
		page[0] = '\0';
		all = msg_chstatus(why, sizeof(why));
		json_array_foreach(all, i, e)
			if (json_is_string(json_object_get(e, "page")) &&
			    strcmp(json_string_value(json_object_get(e,
			    "addr")), id) == 0)
				snprintf(page, sizeof(page), "%s",
				    json_string_value(json_object_get(e,
				    "page")));
		json_decref(all);
		if (page[0] == '\0')
			msg_die(MSG_EX_REFUSED, "messengerd knows no Page of "
			    "Instagram account %s", id);
	}
	cf = msg_conf();
	if ((dir = conf_path(cf, conf_get(cf, "messenger_token_dir"))) ==
	    NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	snprintf(path, sizeof(path), "%s/%s", dir, page);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	free(dir);
	tok = read_token(from);
	token_write(tmp, path, tok, strlen(tok));
	explicit_bzero(tok, strlen(tok));
	free(tok);
	/* messengerd asks Meta (GET /PAGE-ID?fields=name) before taking it */
	msg_connect_or_die(&c, "messengerd");
	fbuf_init(&fb);
	rid = busc_next_id(&c);
	fbuf_begin(&fb, 4);
	mp_kv_str(&fb.pk, "t", "chtoken");
	mp_kv_int(&fb.pk, "id", rid);
	mp_kv_str(&fb.pk, "page", page);
	mp_kv_bool(&fb.pk, "candidate", 1);
	if (busc_call(&c, &fb, rid, &ans) == -1) {
		unlink(tmp);
		msg_die(MSG_EX_UNREACH, "messengerd: %s", c.err);
	}
	if ((err = mp_get(ans, "err")) != NULL) {
		mp_strcpy(err, "code", code, sizeof(code));
		msg_answer_err(ans, why, sizeof(why));
		unlink(tmp);
		msg_die(MSG_EX_REFUSED, "%s: the token was not taken (%s); the "
		    "old one stays", page, why);
	}
	mp_strcpy(ans, "name", name, sizeof(name));
	if (rename(tmp, path) == -1) {
		unlink(tmp);
		msg_die(MSG_EX_REFUSED, "%s: %s", path, strerror(errno));
	}
	printf("%s %s: token accepted by Meta for Page %s%s%s%s, written to "
	    "%s; active\n", channel, id, page, name[0] ? " (" : "", name,
	    name[0] ? ")" : "", path);
	msg_out_flush();
	fbuf_free(&fb);
	busc_close(&c);
	return MSG_EX_OK;
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

	if (strcmp(channel, "messenger") == 0 ||
	    strcmp(channel, "instagram") == 0)
		msg_die(MSG_EX_REFUSED, "msg channel token %s ID: which "
		    "Page's (or account's) token", channel);
	if (strcmp(channel, "whatsapp") != 0)
		msg_die(MSG_EX_REFUSED, "channel %s has no token to replace",
		    channel);
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

/* msg channel unsolicited [CHANNEL:ADDR [options]] */
static int
unsolicited(int argc, char **argv, int json)
{
	static const struct option lopts[] = {
		{ "campaign", required_argument, NULL, 'c' },
		{ "team", required_argument, NULL, 't' },
		{ "agent", required_argument, NULL, 'a' },
		{ "clear", no_argument, NULL, 'x' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *args = json_object(), *teams = json_array(),
	    *agents = json_array(), *res, *all, *u;
	char line[600];
	size_t i;
	int ch, set = 0, clear = 0;

	optind = 0;	/* afresh (glibc) */
	while ((ch = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			json_object_set_new(args, "campaign",
			    json_string(optarg));
			set = 1;
			break;
		case 't':
			json_array_append_new(teams, json_string(optarg));
			set = 1;
			break;
		case 'a':
			json_array_append_new(agents, json_string(optarg));
			set = 1;
			break;
		case 'x':
			clear = 1;
			break;
		case 'j':
			json = 1;
			break;
		default:
			msg_usage();
		}
	}
	if (argc - optind > 1 || (clear && set) ||
	    ((set || clear) && argc - optind != 1))
		msg_usage();
	if (argc - optind == 0) {
		all = unsol_all();
		json_array_foreach(all, i, u) {
			if (json)
				msg_work_print(u);
			else {
				unsol_text(u, line + 300, 300);
				snprintf(line, 300, "%s:%s", rec_str(u,
				    "channel", "?"), rec_str(u, "addr", "?"));
				printf("%-28s %s\n", line, line + 300);
			}
		}
		msg_out_flush();
		json_decref(all);
		json_decref(args);
		json_decref(teams);
		json_decref(agents);
		return MSG_EX_OK;
	}
	json_object_set_new(args, "name", json_string(argv[optind]));
	if (clear) {
		json_decref(teams);
		json_decref(agents);
		res = admin_call("unsolicited", "delete", args);
	} else if (set) {
		json_object_set_new(args, "teams", teams);
		json_object_set_new(args, "agents", agents);
		res = admin_call("unsolicited", "set", args);
	} else {
		json_decref(teams);
		json_decref(agents);
		res = admin_call("unsolicited", "show", args);
	}
	u = json_object_get(res, "doc");
	if (json || !json_is_object(u))
		msg_work_print(json_is_object(u) ? u : res);
	else {
		unsol_text(u, line, sizeof(line));
		printf("%s:%s unsolicited -> %s\n", rec_str(u, "channel", "?"),
		    rec_str(u, "addr", "?"), line);
	}
	msg_out_flush();
	json_decref(res);
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

	if (argc >= 2 && strcmp(argv[1], "unsolicited") == 0)
		return unsolicited(argc - 1, argv + 1, json);
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
	if (argc == 3 && strcmp(argv[0], "token") == 0 &&
	    (strcmp(argv[1], "messenger") == 0 ||
	    strcmp(argv[1], "instagram") == 0))
		return token_page(argv[1], argv[2], file);
	msg_usage();
}
