/*
 * msg — parley's command line, git style: "msg <command> [options]".
 *
 * Each command is a plain filter over conversation streams (DESIGN §5, §6):
 * records in and out as JSON Lines, aligned tables only on a terminal.  This
 * file holds main, the dispatch table, "msg help", running msg-<name> from
 * PATH for commands we do not know, and the helpers every command shares:
 * error lines (stderr is line-buffered: one write per line), the
 * configuration, connecting to a daemon, a request as JSON, the --json
 * option, stdout and text on a terminal.  Beside it, the helpers of groups
 * of commands: msg_work.c (the agent workspace), msg_sub.c (the event-log
 * subscription of tail and transcript) and msg_admin.c (the admin groups).
 *
 * Exit status: 0 success, 1 refused (one line on stderr), 2 usage, 3 a
 * daemon could not be reached.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "mp.h"
#include "natsmap.h"
#include "rec.h"
#include "utf8.h"
#include "msg.h"
#include "msg_stats.h"

struct msg_cmd {
	const char	*name;
	int		(*run)(int, char **);
	const char	*usage;
	const char	*what;
};

static const struct msg_cmd cmds[] = {
	{ "inbox", msg_inbox, "msg inbox [--json]",
	    "your conversations: needs attention, agent- and bot-operated" },
	{ "status", msg_status, "msg status [available | break [REASON] | "
	    "busy | offline | STATUS [REASON]] [--json]",
	    "show or set your agent status" },
	{ "claim", msg_claim, "msg claim CONV [--json]",
	    "take a waiting or offered conversation" },
	{ "close", msg_close, "msg close CONV [--disposition PATH] [--json]",
	    "close a conversation" },
	{ "transfer", msg_transfer, "msg transfer CONV --to AGENT | "
	    "--campaign C [--json]", "hand a conversation over" },
	{ "mode", msg_mode, "msg mode CONV bot|agent [--json]",
	    "switch a conversation between bot and agents" },
	{ "tag", msg_tag, "msg tag CONV [+TAG | -TAG ...] [--json]",
	    "add or remove a conversation's tags (3 at most)" },
	{ "attention", msg_attention, "msg attention CONV on|off [--json]",
	    "set or clear the needs-attention flag" },
	{ "history", msg_history, "msg history [--from DATE] [--to DATE] "
	    "[--campaign C] [--agent A] [--contact X] [--tag T] "
	    "[--status open|closed] [--limit N] [--json]",
	    "every conversation kept, filtered" },
	{ "search", msg_search, "msg search [--limit N] [--json] NAME|PHONE",
	    "find conversations by customer name or number" },
	{ "route", msg_route, "msg route --explain CONV [--json]",
	    "why a conversation is offered to whom" },
	{ "window", msg_window, "msg window --expiring DURATION [--json]",
	    "WhatsApp/Messenger windows closing soon (90s, 45m, 2h, 1d)" },
	{ "tail", msg_tail, "msg tail [-f] [-n N] [--since SEQ] [--conv ID] "
	    "[--msgpack]", "the event log as JSON Lines" },
	{ "send", msg_send, "msg send [--conv ID | --to sms:+E164 --from +E164 "
	    "| --to whatsapp:+E164 --from PHONE-NUMBER-ID | --to "
	    "messenger:PSID --from PAGE-ID | --to instagram:IGSID --from "
	    "IG-ACCOUNT-ID] [--key K] "
	    "[--reply-to MSG] [--file PATH | --media-url URL ... | --template "
	    "NAME --lang CODE [--param P ...] [--header-param P] [--button "
	    "PAYLOAD ...]] [TEXT ...]",
	    "send a message, or one per input line" },
	{ "channel", msg_channel, "msg channel status [--json] | token "
	    "whatsapp [--file PATH] | token messenger|instagram ID [--file "
	    "PATH] | unsolicited [CHANNEL:ADDR [--campaign C] [--team T]... "
	    "[--agent A]... | --clear]", "channel addresses: active or not; "
	    "replace a token; a reusable number's unsolicited settings" },
	{ "transcript", msg_transcript, "msg transcript CONV",
	    "every event of one conversation" },
	{ "ping", msg_ping, "msg ping [-q] [-w SECS] [DAEMON]",
	    "check that a daemon answers" },
	{ "campaign", msg_campaign, "msg campaign list [--search S] "
	    "[--state S] [--tag T] [--folder F] [--enabled yes|no] "
	    "[--open-now yes|no] | calendar [--month YYYY-MM | --date "
	    "YYYY-MM-DD] | show NAME | create NAME [FIELDS] | "
	    "edit NAME FIELDS | clone SRC NEW [--title T] | check NAME | "
	    "preview NAME [--contact PHONE] [--limit N] | launch NAME "
	    "--dry-run | "
	    "enable|disable|launch|stop NAME | schedule NAME --at TIME | "
	    "delete NAME [--yes] | "
	    "export NAME | apply FILE|-\n"
	    "       FIELDS (msg-campaign(1)): --title --description --folder "
	    "--teams --tags --sms --whatsapp --messenger --instagram "
	    "--CHANNEL-enabled --channels --provisioned --reusable "
	    "--operator --idk --idk-message --strategy --max-interactions "
	    "--sl-period --sl-response --threshold-sl --threshold-dropout "
	    "--threshold-chat --acd --timezone --schedule --holidays "
	    "--after-hours --files --files-library --files-local "
	    "--files-types --canned --templates --dispositions --wrapup "
	    "--offer-timeout --enabled; outbound: --list --text "
	    "--outbound-channel --template --template-language "
	    "--template-params --senders --rate --hours --retry-max "
	    "--retry-backoff --end --outbound", "campaigns: configuration and "
	    "lifecycle" },
	{ "holiday", msg_holiday, "msg holiday list | show NAME | "
	    "add NAME --date YYYY-MM-DD | edit NAME --date YYYY-MM-DD | "
	    "delete NAME", "global holidays" },
	{ "blacklist", msg_blacklist, "msg blacklist add CONTACT [--campaign C] "
	    "[--reason R] | list [--campaign C] [--contact X] | delete CONTACT "
	    "--campaign C | delete CONTACT --all-campaigns | delete --campaign C "
	    "--all | import FILE | check CONTACT [--campaign C] | history "
	    "[--contact X] [--campaign C] [--limit N] | blocked CONTACT "
	    "[--campaign C] [--detail D]",
	    "customers not to be contacted, and their history" },
	{ "contact", msg_contact, "msg contact add --name N [--phone +E164] "
	    "[--email E] [--field KEY=VALUE ...] | show ID | edit ID [--name N] "
	    "[--phone P] [--email E] [--field KEY=VALUE ...] [--unset-field "
	    "KEY ...] | delete ID | search QUERY [--limit N] | list | import "
	    "FILE [--update] | export [--fields A,B]", "the contact book" },
	{ "list", msg_list, "msg list create NAME [--where 'tag=vip,city=Lyon'] "
	    "[--description D] | delete NAME | show NAME [--members [--limit "
	    "N]] | list | import NAME FILE.csv | add NAME PHONE... | remove "
	    "NAME PHONE...", "contact lists and segments (admin)" },
	{ "canned", msg_canned, "msg canned list [--campaign C] | show SNIPPET "
	    "| add SNIPPET --text T | edit SNIPPET --text T | delete SNIPPET | "
	    "assign SNIPPET --campaign C | unassign SNIPPET --campaign C",
	    "canned responses and their {placeholders}" },
	{ "template", msg_template, "msg template list [--campaign C] | show "
	    "NAME | add NAME --type text|richtext|html --content C|--file F | "
	    "edit NAME [--type T] [--content C|--file F] | delete NAME | "
	    "assign NAME --campaign C | unassign NAME --campaign C\n"
	    "       msg template wa list [NAME] [--lang L] [--category C] | "
	    "wa show NAME --lang L | wa add NAME --lang L --category "
	    "marketing|utility|authentication --body B [--header H] "
	    "[--buttons JSON] | wa delete NAME [--lang L]",
	    "message templates and WhatsApp templates" },
	{ "disposition", msg_disposition, "msg disposition list [--under PATH] "
	    "[--campaign C] | show PATH | add PATH [--parents] | delete PATH | "
	    "rename PATH NEWNAME | import FILE | assign PATH --campaign C | "
	    "unassign PATH "
	    "--campaign C", "the disposition tree" },
	{ "statusdef", msg_statusdef, "msg statusdef list | show NAME | add "
	    "NAME --kind available|break|busy|offline --label L | edit NAME "
	    "[--kind K] [--label L] | delete NAME",
	    "the agent statuses agents choose from" },
	{ "qa", msg_qa, "msg qa list | show NAME | add NAME [--description D] "
	    "[--file JSON] | edit NAME [--description D] [--file JSON] | "
	    "delete NAME | category add|delete NAME --name CAT | question add "
	    "NAME --category CAT --text T --max N | question delete NAME "
	    "--category CAT --number N | score CONV --model M --answers "
	    "N,N,... [--note T] | scores [--agent A] [--model M] "
	    "[--campaign C]", "quality models and scores" },
	{ "agent", msg_agent, "msg agent whoami [--json] | list [--role R] "
	    "[--team T] [--search S] | show NAME | add NAME --user UNIXUSER "
	    "[--role agent|supervisor|admin] [--teams a,b] | edit NAME "
	    "[--user U] [--role R] [--teams a,b] | delete NAME [--force]",
	    "agents: Unix logins and their roles" },
	{ "team", msg_team, "msg team list | show NAME | add NAME "
	    "[--description D] | edit NAME --description D | delete NAME",
	    "teams of agents" },
	{ "member", msg_member, "msg member list CAMPAIGN | add CAMPAIGN AGENT "
	    "[--position N] [--penalty N] [--receive yes|no] [--create yes|no] "
	    "| edit CAMPAIGN AGENT [--penalty N] [--receive yes|no] "
	    "[--create yes|no] [--position N] | reorder CAMPAIGN AGENT "
	    "--position N | remove CAMPAIGN AGENT | copy FROM TO",
	    "the agents of a campaign" },
	{ "optout", msg_optout, "msg optout CONTACT [--channel sms|whatsapp|"
	    "messenger|instagram] [--in] [--reason R]",
	    "record a contact's opt-out (or opt-in) by hand" },
	{ "bot", msg_bot, "msg bot --campaign C [-v] -- COMMAND [ARG ...]",
	    "run COMMAND as the bot of a campaign's bot-mode conversations" },
	{ "stats", msg_stats, "msg stats [-f] [--campaign C] [--agent A] | "
	    "--rebuild", "live figures (statsd) as JSON Lines" },
	{ "monitor", msg_monitor, "msg monitor [--campaign C]",
	    "a full-screen live board of the figures" },
	{ "report", msg_report, "msg report --from DATE [--to DATE] [--by "
	    "campaign|channel|agent|hour|day] [--campaign C] [--agent A] "
	    "[--channel CH] [--tz ZONE] [--csv | --json | --svg]",
	    "history from statsd's rollups" },
};
#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static const struct msg_cmd *cur;	/* the command running */
static const char *conf_arg;		/* -c FILE */
static const char *shard_arg, *camp_arg;	/* -s SHARD, -S CAMPAIGN */
static int shard_chosen;			/* msg_conv_shard: done */
static struct conf *conf;
static const char *daemon_name = "routerd";	/* for error lines */

static void
verr(const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	fflush(stdout);
	if (cur)
		fprintf(stderr, "msg: %s: ", cur->name);
	else
		fprintf(stderr, "msg: ");
	msg_term_text(stderr, buf, strlen(buf), 0, 0, 1);
	fputc('\n', stderr);
}

void
msg_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(fmt, ap);
	va_end(ap);
}

void
msg_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(fmt, ap);
	va_end(ap);
	exit(code);
}

void
msg_usage(void)
{
	if (cur)
		fprintf(stderr, "usage: %s\n", cur->usage);
	exit(MSG_EX_USAGE);
}

static void
main_usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: msg [-c FILE] [-s SHARD | -S CAMPAIGN] <command> "
	    "[options]\n\n");
	for (i = 0; i < NCMDS; i++)
		fprintf(fp, "  %-11s %s\n", cmds[i].name, cmds[i].what);
	fprintf(fp, "\nmsg help <command> shows a command's manual; any other "
	    "name runs msg-<name> from PATH.\n");
}

/*
 * -s SHARD or -S CAMPAIGN (parley-cluster(7)): the shard's parley.conf,
 * from nats_shard_confs (and nats_shards for a campaign) of the file -c
 * or PARLEY_CONF names, becomes the configuration of the command.
 */
static void
select_shard(void)
{
	static char path[1024];
	char shard[64], err[512], *p;
	struct conf *c;

	if (shard_arg != NULL && camp_arg != NULL)
		msg_die(MSG_EX_USAGE, "-s and -S: one or the other");
	if ((c = conf_load(conf_arg, err, sizeof(err))) == NULL)
		msg_die(MSG_EX_USAGE, "%s", err);
	if (camp_arg != NULL) {
		if (natsbus_lookup(c, "nats_shards", camp_arg, shard,
		    sizeof(shard), err, sizeof(err)) == -1 &&
		    (conf_get(c, "nats_default_shard")[0] == '\0' ||
		    snprintf(shard, sizeof(shard), "%s",
		    conf_get(c, "nats_default_shard")) < 0))
			msg_die(MSG_EX_USAGE, "campaign %s: %s", camp_arg, err);
	} else
		snprintf(shard, sizeof(shard), "%s", shard_arg);
	if (natsbus_lookup(c, "nats_shard_confs", shard, path, sizeof(path),
	    err, sizeof(err)) == -1)
		msg_die(MSG_EX_USAGE, "shard %s: %s", shard, err);
	if ((p = conf_path(c, path)) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	snprintf(path, sizeof(path), "%s", p);
	free(p);
	conf_free(c);
	conf_arg = path;
}

static struct conf *get_conf(void);

/*
 * A conversation's shard, without -s or -S (parley-cluster(7)): when the
 * configuration is an operator's file that lists nats_shard_confs, each
 * shard's routerd is asked in turn whether it knows conversation id (a
 * whole id or a prefix), and the first that does gives the command its
 * file.  None knowing it, the first shard that answered does, so the
 * command says what its routerd says (no such conversation).  Once
 * chosen, the shard stays for the command.
 */
void
msg_conv_shard(const char *id)
{
	static char path[1024], first[1024];
	static struct nb_map m[NB_MAXMAP];
	struct conf *c;
	const char *keep = conf_arg, *why;
	const msgpack_object *ans;
	char err[512], *p;
	struct busc bc;
	struct fbuf fb;
	size_t n, i;
	int64_t rid;

	if (shard_chosen)
		return;
	shard_chosen = 1;
	c = get_conf();
	if (conf_get(c, "nats_shard_confs")[0] == '\0')
		return;
	if (natsmap_parse("nats_shard_confs", conf_get(c, "nats_shard_confs"),
	    m, &n, 0, err, sizeof(err)) == -1)
		msg_die(MSG_EX_USAGE, "%s", err);
	for (i = 0; i < n; i++) {
		if ((p = conf_path(c, m[i].v)) == NULL)
			msg_die(MSG_EX_REFUSED, "out of memory");
		snprintf(path, sizeof(path), "%s", p);
		free(p);
		conf_arg = path;
		conf = NULL;		/* c stays: the operator's file */
		if (msg_connect(&bc, "routerd", MSG_TIMEOUT_MS, &why) == -1)
			goto next;
		if (first[0] == '\0')
			snprintf(first, sizeof(first), "%s", path);
		fbuf_init(&fb);
		rid = busc_next_id(&bc);
		fbuf_begin(&fb, 3);
		mp_kv_str(&fb.pk, "t", "conv");
		mp_kv_int(&fb.pk, "id", rid);
		mp_kv_str(&fb.pk, "conv", id);
		if (busc_call(&bc, &fb, rid, &ans) == 1 &&
		    mp_get(ans, "conv") != NULL) {
			fbuf_free(&fb);
			busc_close(&bc);
			conf_free(c);
			return;
		}
		fbuf_free(&fb);
		busc_close(&bc);
next:
		if (conf != NULL)
			conf_free(conf);
		conf = NULL;
	}
	if (first[0] != '\0') {
		conf_arg = first;
		conf_free(c);
		return;
	}
	conf_arg = keep;
	conf = c;
}

static struct conf *
get_conf(void)
{
	char err[512];

	if (conf == NULL && (conf = conf_load(conf_arg, err, sizeof(err)))
	    == NULL)
		msg_die(MSG_EX_USAGE, "%s", err);
	return conf;
}

int
msg_json_opt(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, json = 0;

	while ((ch = getopt_long(argc, argv, "jh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		default:
			msg_usage();
		}
	}
	return json;
}

void
msg_sock_path(const char *daemon, char *buf, size_t bufsz)
{
	struct conf *c = get_conf();
	char *home;

	if ((home = conf_path(c, conf_get(c, "home"))) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	if ((size_t)snprintf(buf, bufsz, "%s/run/%s.sock", home, daemon) >=
	    bufsz)
		msg_die(MSG_EX_USAGE, "home %s: path too long", home);
	free(home);
}

struct conf *
msg_conf(void)
{
	return get_conf();
}

void
msg_home_path(const char *sub, char *buf, size_t bufsz)
{
	struct conf *c = get_conf();
	char *home;

	if ((home = conf_path(c, conf_get(c, "home"))) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	if ((size_t)snprintf(buf, bufsz, "%s/%s", home, sub) >= bufsz)
		msg_die(MSG_EX_USAGE, "home %s: path too long", home);
	free(home);
}

int
msg_connect(struct busc *c, const char *daemon, int timeout_ms,
    const char **why)
{
	char path[PATH_MAX];
	static char err[sizeof(c->err)];

	msg_sock_path(daemon, path, sizeof(path));
	if (busc_open(c, path, "msg", timeout_ms) == -1) {
		memcpy(err, c->err, sizeof(err));
		busc_close(c);
		*why = err;
		return -1;
	}
	return 0;
}

void
msg_connect_or_die(struct busc *c, const char *daemon)
{
	const char *why;

	daemon_name = daemon;
	if (msg_connect(c, daemon, MSG_TIMEOUT_MS, &why) == -1)
		msg_die(MSG_EX_UNREACH, "%s: %s", daemon, why);
}

const msgpack_object *
msg_call(struct busc *c, struct fbuf *f, int64_t id)
{
	const msgpack_object *ans;
	char why[512];

	if (busc_call(c, f, id, &ans) == -1)
		msg_die(MSG_EX_UNREACH, "%s: %s", daemon_name, c->err);
	if (msg_answer_err(ans, why, sizeof(why)))
		msg_die(MSG_EX_REFUSED, "%s", why);
	return ans;
}

json_t *
msg_call_json(struct busc *c, const char *daemon, const char *t,
    const char *kind, const char *op, json_t *args, int records)
{
	struct fbuf fb;
	const msgpack_object *ans;
	const char *k;
	json_t *v, *res;
	int64_t id = busc_next_id(c);
	uint32_t n = 2 + (kind != NULL) + (op != NULL);

	if (args) {
		json_object_del(args, "t");
		json_object_del(args, "id");
		if (kind)
			json_object_del(args, "kind");
		if (op)
			json_object_del(args, "op");
		n += json_object_size(args);
	}
	fbuf_init(&fb);
	fbuf_begin(&fb, n);
	mp_kv_str(&fb.pk, "t", t);
	mp_kv_int(&fb.pk, "id", id);
	if (kind)
		mp_kv_str(&fb.pk, "kind", kind);
	if (op)
		mp_kv_str(&fb.pk, "op", op);
	if (args) {
		json_object_foreach(args, k, v) {
			mp_pack_cstr(&fb.pk, k);
			if (rec_pack_json(&fb.pk, v) == -1)
				msgpack_pack_nil(&fb.pk);
		}
	}
	if (fbuf_finish(&fb) == -1)
		msg_die(MSG_EX_USAGE, "request over 1 MiB");
	ans = msg_call(c, &fb, id);
	res = records ? rec_record_json(ans) : rec_to_json(ans);
	fbuf_free(&fb);
	json_decref(args);
	if (res == NULL || !json_is_object(res))
		msg_die(MSG_EX_UNREACH, "%s: unreadable answer", daemon);
	json_object_del(res, "re");
	json_object_del(res, "ok");
	return res;
}

int
msg_answer_err(const msgpack_object *ans, char *why, size_t whysz)
{
	static const char *req[] = { "send: ", "sub: ", "inbox: ", "ping: ",
	    "status: ", "claim: ", "close: ", "transfer: ", "mode: ",
	    "route: ", "tag: ", "attention: ", "history: ", "search: ",
	    "window: ", "optout: ", "bot: " };
	char code[64];
	size_t i, n;

	if (!busc_answer_err(ans, code, sizeof(code), why, whysz))
		return 0;
	for (i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		n = strlen(req[i]);
		if (strncmp(why, req[i], n) == 0 && why[n] != '\0') {
			memmove(why, why + n, strlen(why + n) + 1);
			break;
		}
	}
	return 1;
}

static int json_forced;

void
msg_json_force(void)
{
	json_forced = 1;
}

int
msg_stdout_tty(void)
{
	static int tty = -1;

	if (json_forced)
		return 0;
	if (tty == -1)
		tty = isatty(STDOUT_FILENO);
	return tty;
}

static void
out_check(void)
{
	if (!ferror(stdout))
		return;
	if (errno == EPIPE)	/* the reader went away: that is fine */
		_exit(MSG_EX_OK);
	msg_die(MSG_EX_REFUSED, "stdout: %s", strerror(errno));
}

void
msg_out_line(const char *s)
{
	if (fputs(s, stdout) == EOF || putchar('\n') == EOF)
		out_check();
}

void
msg_out_raw(const void *p, size_t n)
{
	if (fwrite(p, 1, n, stdout) != n)
		out_check();
}

void
msg_out_flush(void)
{
	if (fflush(stdout) == EOF)
		out_check();
}

/* The code point at s (n bytes left), *len bytes long; -1 (1 byte) if the
 * bytes there are not UTF-8. */
static long
utf8_next(const unsigned char *s, size_t n, size_t *len)
{
	uint32_t cp;

	if ((*len = utf8_decode(s, n, &cp)) == 0) {
		*len = 1;
		return -1;
	}
	return (long)cp;
}

/* Columns of a code point; controls are shown as one replacement char. */
static int
cp_cols(long cp)
{
	int w;

	if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
		return 1;
	w = wcwidth((wchar_t)cp);
	return w < 0 ? 1 : w;
}

size_t
msg_text_cols(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, l, cols = 0;
	long cp;

	for (i = 0; i < n; i += l) {
		cp = utf8_next(p + i, n - i, &l);
		if (cp == '\r')
			continue;
		cols += cp < 0 ? 1 : (size_t)cp_cols(cp);
	}
	return cols;
}

size_t
msg_term_text(FILE *fp, const char *s, size_t n, size_t maxcols, int indent,
    int oneline)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, l, cols = 0, limit = maxcols;
	long cp;
	int w;

	if (maxcols > 0 && msg_text_cols(s, n) > maxcols)
		limit = maxcols - 1;	/* room for the ellipsis */
	for (i = 0; i < n; i += l) {
		cp = utf8_next(p + i, n - i, &l);
		if (cp == '\r')
			continue;
		w = cp < 0 ? 1 : cp_cols(cp);
		if (limit > 0 && cols + (size_t)w > limit) {
			fputs("\xe2\x80\xa6", fp);	/* … */
			return cols + 1;
		}
		cols += (size_t)w;
		if (cp == '\n' && !oneline) {
			fprintf(fp, "\n%*s", indent, "");
			cols = 0;
		} else if (cp == '\n' || cp == '\t')
			fputc(' ', fp);
		else if (cp < 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			fputs("\xef\xbf\xbd", fp);	/* U+FFFD */
		else
			fwrite(p + i, 1, l, fp);
	}
	return cols;
}

void
msg_duration(int64_t ms, char *buf, size_t bufsz)
{
	int64_t s = ms < 0 ? 0 : ms / 1000;

	if (s < 60)
		snprintf(buf, bufsz, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, bufsz, "%lldm%02llds", (long long)(s / 60),
		    (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, bufsz, "%lldh%02lldm", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
	else
		snprintf(buf, bufsz, "%lldd%02lldh", (long long)(s / 86400),
		    (long long)(s % 86400 / 3600));
}

void
msg_local_time(int64_t ms, char buf[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, 32, "%lld", (long long)ms);
}

void
msg_delivery_state(char *buf, size_t sz, const char *state, int64_t attempt,
    int64_t next_ms)
{
	time_t t = (time_t)(next_ms / 1000);
	struct tm tm;
	char when[16];

	if (attempt <= 0 || (strcmp(state, "pending") != 0 &&
	    strcmp(state, "retrying") != 0)) {
		snprintf(buf, sz, "%s", state);
		return;
	}
	if (strcmp(state, "retrying") == 0 && next_ms > 0 &&
	    localtime_r(&t, &tm) != NULL &&
	    strftime(when, sizeof(when), "%H:%M:%S", &tm) != 0)
		snprintf(buf, sz, "%s (attempt %lld, next try at %s)", state,
		    (long long)attempt, when);
	else
		snprintf(buf, sz, "%s (attempt %lld)", state,
		    (long long)attempt);
}

int64_t
msg_json_ts(const json_t *v)
{
	int64_t ms;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v) && rec_ts_parse(json_string_value(v), &ms) == 0)
		return ms;
	return 0;
}

static const struct msg_cmd *
find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

/*
 * Run from the build tree (build/bin/msg), let man find the tree's pages
 * before the installed ones.
 */
static void
tree_manpath(void)
{
	char exe[PATH_MAX], dir[PATH_MAX + 32], *s, *mp;
	ssize_t n;
	struct stat st;
	int i;

	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return;
	exe[n] = '\0';
	for (i = 0; i < 3; i++) {	/* strip msg, bin, build */
		if ((s = strrchr(exe, '/')) == NULL)
			return;
		*s = '\0';
	}
	snprintf(dir, sizeof(dir), "%s/man/man1/msg.1", exe);
	if (stat(dir, &st) == -1)
		return;
	snprintf(dir, sizeof(dir), "%s/man", exe);
	if ((mp = getenv("MANPATH")) != NULL && *mp != '\0') {
		char *v;

		if (asprintf(&v, "%s:%s", dir, mp) == -1)
			return;
		setenv("MANPATH", v, 1);
		free(v);
	} else {
		/* the trailing colon keeps the system's manpath too */
		strncat(dir, ":", sizeof(dir) - strlen(dir) - 1);
		setenv("MANPATH", dir, 1);
	}
}

/* 1 if man has a page called page. */
static int
have_man(const char *page)
{
	pid_t pid;
	int st, fd;

	if ((pid = fork()) == -1)
		return 0;
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execlp("man", "man", "-w", page, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int
cmd_help(int argc, char **argv)
{
	const struct msg_cmd *c;
	char page[128];

	if (argc < 2) {
		main_usage(stdout);
		return MSG_EX_OK;
	}
	if (strchr(argv[1], '/') != NULL || strlen(argv[1]) > 64) {
		fprintf(stderr, "msg: help: no such command: %s\n", argv[1]);
		return MSG_EX_USAGE;
	}
	c = find_cmd(argv[1]);
	if (strcmp(argv[1], "msg") == 0)
		snprintf(page, sizeof(page), "msg");
	else
		snprintf(page, sizeof(page), "msg-%s", argv[1]);
	tree_manpath();
	if (have_man(page)) {
		fflush(stdout);
		execlp("man", "man", page, (char *)NULL);
	}
	if (c != NULL) {
		printf("usage: %s\n\n%s: %s\n", c->usage, c->name, c->what);
		return MSG_EX_OK;
	}
	if (strcmp(argv[1], "msg") == 0) {
		main_usage(stdout);
		return MSG_EX_OK;
	}
	fprintf(stderr, "msg: help: no manual and no such command: %s\n",
	    argv[1]);
	return MSG_EX_USAGE;
}

/* Run msg-<name> from PATH with the rest of the arguments. */
static int
run_external(int argc, char **argv)
{
	char prog[128];

	(void)argc;
	if (strchr(argv[0], '/') != NULL || strlen(argv[0]) > 64 ||
	    argv[0][0] == '-') {
		fprintf(stderr, "msg: %s: not a msg command (see msg help)\n",
		    argv[0]);
		return MSG_EX_USAGE;
	}
	snprintf(prog, sizeof(prog), "msg-%s", argv[0]);
	if (conf_arg != NULL)
		setenv("PARLEY_CONF", conf_arg, 1);
	fflush(stdout);
	argv[0] = prog;
	execvp(prog, argv);
	if (errno == ENOENT)
		fprintf(stderr, "msg: %s: not a msg command (see msg help)\n",
		    prog + 4);
	else
		fprintf(stderr, "msg: %s: %s\n", prog, strerror(errno));
	return errno == ENOENT ? MSG_EX_USAGE : 126;
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	/* one write per line of stderr, not one per character: error lines
	 * from msg and its commands arrive whole in logs and pipes */
	setvbuf(stderr, NULL, _IOLBF, 0);
	setlocale(LC_CTYPE, "");
	log_init("msg", 0);
	/* a closed stdout is seen as EPIPE on write, not as a signal */
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt_long(argc, argv, "+c:hs:S:", lopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf_arg = optarg;
			break;
		case 's':
			shard_arg = optarg;
			break;
		case 'S':
			camp_arg = optarg;
			break;
		case 'h':
			main_usage(stdout);
			return MSG_EX_OK;
		default:
			main_usage(stderr);
			return MSG_EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (shard_arg != NULL || camp_arg != NULL) {
		select_shard();
		shard_chosen = 1;
	}
	if (argc < 1) {
		main_usage(stderr);
		return MSG_EX_USAGE;
	}
	optind = 0;	/* each command parses its own options afresh */
	if (strcmp(argv[0], "help") == 0)
		return cmd_help(argc, argv);
	if ((cur = find_cmd(argv[0])) == NULL)
		return run_external(argc, argv);
	{
		/* getopt's messages then start "msg send:" */
		static char self[64];

		snprintf(self, sizeof(self), "msg %s", cur->name);
		argv[0] = self;
	}
	ch = cur->run(argc, argv);
	msg_out_flush();
	return ch;
}
