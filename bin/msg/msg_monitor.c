/*
 * msg monitor [--campaign C] — a full-screen live board of statsd's
 * figures on a terminal, in plain ANSI escape codes: the campaigns with
 * their queue figures coloured against their thresholds, the agents, and
 * the waiting customers, redrawn once a second and at once when the
 * window changes size (SIGWINCH).  Keys: Tab or n the next campaign, p the
 * previous, a all campaigns, q (or Ctrl-C) quits.  Without a terminal on
 * both ends it prints what msg stats prints.
 *
 * It follows stats.sock: the snapshot, then the changes, kept in one JSON
 * object keyed by entity; times on hold run on from the last sync's "ts".
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon.h"
#include "msg.h"
#include "msg_stats.h"
#include "rec.h"

#define RED	"\033[31m"
#define GREEN	"\033[32m"
#define YELLOW	"\033[33m"
#define BLUE	"\033[34m"
#define DIM	"\033[2m"
#define BOLD	"\033[1m"
#define REV	"\033[7m"
#define OFF	"\033[0m"

static volatile sig_atomic_t	winch = 1, quit;
static struct termios		saved;
static int			raw_on;

static void
on_winch(int s)
{
	winch = 1;
}

static void
on_quit(int s)
{
	quit = 1;
}

static void
restore(void)
{
	if (raw_on) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		raw_on = 0;
	}
	/* the normal screen back, the cursor shown */
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
}

static void
dur(double s, char *b, size_t sz)
{
	long t = s < 0 ? 0 : (long)(s + 0.5);

	if (t >= 3600)
		snprintf(b, sz, "%ld:%02ld:%02ld", t / 3600, t % 3600 / 60,
		    t % 60);
	else
		snprintf(b, sz, "%ld:%02ld", t / 60, t % 60);
}

static const char *
s_(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "";
}

static double
n_(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

static int
has_alert(json_t *o, const char *what)
{
	json_t *a = json_object_get(o, "alert"), *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (strcmp(json_string_value(v) ? json_string_value(v) : "",
		    what) == 0)
			return 1;
	return 0;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The entities of one type, sorted by key. */
static size_t
of_type(json_t *ents, const char *type, json_t **out, size_t max)
{
	const char *k;
	json_t *v;
	size_t n = 0, i, j;
	const char **keys = calloc(json_object_size(ents) + 1, sizeof(*keys));

	if (keys == NULL)
		return 0;
	json_object_foreach(ents, k, v)
		if (strcmp(s_(v, "type"), type) == 0)
			keys[n++] = k;
	qsort(keys, n, sizeof(*keys), cmp_name);
	for (i = j = 0; i < n && j < max; i++)
		out[j++] = json_object_get(ents, keys[i]);
	free(keys);
	return j;
}

static void
draw(json_t *ents, const char *pick, int64_t server_ts, int64_t local_at)
{
	struct winsize ws;
	int rows = 24, row = 0;
	json_t *e[512];
	size_t n, i;
	char b1[32], b2[32], when[32];
	int64_t now = server_ts ? server_ts + (daemon_now_ms() - local_at) : daemon_now_ms();

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) {
		rows = ws.ws_row;
	}
	rec_ts_format(now, when);
	when[19] = '\0';
	fputs("\033[H\033[2J", stdout);
#define LINE(...) do { if (row < rows - 1) { printf(__VA_ARGS__); \
	fputs("\033[K\r\n", stdout); } row++; } while (0)
	printf("\r" REV BOLD " parley monitor " OFF "  %s UTC   campaign: %s"
	    "   " DIM "Tab next, a all, q quit" OFF "\033[K\r\n", when,
	    pick ? pick : "all");
	row++;
	LINE("%s", "");
	LINE(BOLD "%-16s %5s %8s %6s %5s %5s %6s %6s %6s %7s %7s %5s %7s %7s"
	    OFF, "CAMPAIGN", "WAIT", "LONGEST", "OFFER", "ANS", "ABAN", "SL%",
	    "SL2%", "DROP%", "AVGWAIT", "MAXWAIT", "LONG", "OVERDUE",
	    "HANDLED");
	n = of_type(ents, "campaign", e, 512);
	for (i = 0; i < n; i++) {
		json_t *c = e[i], *w[512];
		size_t nw, j;
		double lw = 0;

		if (pick && strcmp(s_(c, "campaign"), pick) != 0)
			continue;
		nw = of_type(ents, "waiting", w, 512);
		for (j = 0; j < nw; j++)
			if (strcmp(s_(w[j], "campaign"), s_(c, "campaign")) == 0) {
				int64_t t;

				if (rec_ts_parse(s_(w[j], "since"), &t) == 0 &&
				    (double)(now - t) / 1000.0 > lw)
					lw = (double)(now - t) / 1000.0;
			}
		dur(lw, b1, sizeof(b1));
		LINE("%-16.16s %s%5d" OFF " %s%8s" OFF " %6d %5d %5d %s%6.1f" OFF
		    " %6.1f %6.1f %7s %7s %s%5d" OFF " %s%7d" OFF " %7d",
		    s_(c, "campaign"), has_alert(c, "acd") ? RED : "",
		    (int)n_(c, "waiting"),
		    lw > n_(json_object_get(c, "thresholds"), "dropout") ? RED :
		    lw > n_(json_object_get(c, "thresholds"), "service_level") ?
		    YELLOW : "", b1, (int)n_(c, "offered"),
		    (int)n_(c, "answered"), (int)n_(c, "abandoned"),
		    has_alert(c, "sl") ? RED : GREEN, n_(c, "sl"), n_(c, "sl2"),
		    n_(c, "dropout_rate"), (dur(n_(c, "avg_wait"), b2,
		    sizeof(b2)), b2), (dur(n_(c, "max_wait"), when,
		    sizeof(when)), when), has_alert(c, "long_chats") ? RED : "",
		    (int)n_(c, "long_chats"), has_alert(c, "overdue") ? RED :
		    "", (int)n_(c, "overdue"), (int)n_(c, "handled"));
	}
	if (n == 0)
		LINE(DIM "no campaign has had traffic yet" OFF);
	LINE("%s", "");
	LINE(BOLD "%-16s %-22s %9s %-14s %6s %5s %5s %7s %8s" OFF, "AGENT",
	    "STATUS", "IN STATUS", "CHANNELS", "ACTIVE", "FREE", "DONE",
	    "REPLIES", "AVGRESP");
	n = of_type(ents, "agent", e, 512);
	for (i = 0; i < n; i++) {
		json_t *a = e[i];
		const char *k = s_(a, "kind");
		char st[64];
		int64_t t = 0;
		json_t *cs = json_object_get(a, "campaigns"), *c;
		size_t j;
		int in = pick == NULL;

		json_array_foreach(cs, j, c)
			if (pick && strcmp(s_(c, "campaign"), pick) == 0)
				in = 1;
		if (!in)
			continue;
		snprintf(st, sizeof(st), "%s%s%s%s", s_(a, "status"),
		    *s_(a, "reason") ? " (" : "", s_(a, "reason"),
		    *s_(a, "reason") ? ")" : "");
		rec_ts_parse(s_(a, "since"), &t);
		dur(t ? (double)(now - t) / 1000.0 : 0, b1, sizeof(b1));
		dur(n_(a, "avg_response"), b2, sizeof(b2));
		LINE("%-16.16s %s%-22.22s" OFF " %9s %-14.14s %6d %5d %5d %7d %8s",
		    s_(a, "agent"), strcmp(k, "available") == 0 ? GREEN :
		    strcmp(k, "break") == 0 ? YELLOW : strcmp(k, "busy") == 0 ?
		    BLUE : DIM, st, b1, s_(a, "channels"), (int)n_(a, "active"),
		    (int)n_(a, "free"), (int)n_(a, "completed"),
		    (int)n_(a, "replies"), b2);
	}
	if (n == 0)
		LINE(DIM "no agent has been seen yet" OFF);
	LINE("%s", "");
	LINE(BOLD "%-28s %-10s %-16s %-10s %8s" OFF, "WAITING CUSTOMER",
	    "CHANNEL", "CAMPAIGN", "STATE", "ON HOLD");
	n = of_type(ents, "waiting", e, 512);
	for (i = 0; i < n; i++) {
		json_t *w = e[i];
		char who[160];
		int64_t t = 0;

		if (pick && strcmp(s_(w, "campaign"), pick) != 0)
			continue;
		snprintf(who, sizeof(who), "%s%s%s", s_(w, "name"),
		    *s_(w, "name") ? " " : "", s_(w, "contact"));
		for (char *p = who; *p; p++)	/* a customer's name: no escapes */
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		rec_ts_parse(s_(w, "since"), &t);
		dur((double)(now - t) / 1000.0, b1, sizeof(b1));
		LINE("%-28.28s %-10s %-16.16s %-10s %s%8s" OFF, who,
		    s_(w, "channel"), s_(w, "campaign"), s_(w, "state"),
		    json_object_get(w, "alert") ? RED : "", b1);
	}
	if (n == 0)
		LINE(DIM "nobody is waiting" OFF);
#undef LINE
	fflush(stdout);
}

int
msg_monitor(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "campaign", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct msg_stats_rd *r;
	struct termios t;
	struct pollfd pf[2];
	json_t *ents = json_object();
	char *pick = NULL, *line;
	int64_t server_ts = 0, local_at = 0, last = 0;
	int ch, rc, dirty = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (ch) {
		case 'C':
			pick = strdup(optarg);
			break;
		default:
			msg_usage();
		}
	}
	if (optind != argc)
		msg_usage();
	if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
		/* no terminal: what msg stats prints */
		char *av[4];
		int ac = 0;

		av[ac++] = "stats";
		if (pick) {
			av[ac++] = "--campaign";
			av[ac++] = pick;
		}
		av[ac] = NULL;
		return msg_stats(ac, av);
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	r->fd = msg_stats_connect();
	if (tcgetattr(STDIN_FILENO, &saved) == 0) {
		t = saved;
		t.c_lflag &= ~(ICANON | ECHO);
		t.c_cc[VMIN] = 0;
		t.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0)
			raw_on = 1;
	}
	signal(SIGWINCH, on_winch);
	signal(SIGINT, on_quit);
	signal(SIGTERM, on_quit);
	signal(SIGHUP, on_quit);
	atexit(restore);
	fputs("\033[?1049h\033[?25l", stdout);
	while (!quit) {
		pf[0].fd = r->fd;
		pf[0].events = POLLIN;
		pf[1].fd = STDIN_FILENO;
		pf[1].events = POLLIN;
		rc = poll(pf, 2, 250);
		if (rc == -1 && errno != EINTR)
			break;
		if (rc > 0 && (pf[0].revents & (POLLIN | POLLHUP))) {
			ssize_t n = read(r->fd, r->buf + r->len,
			    sizeof(r->buf) - r->len);

			if (n <= 0) {
				restore();
				msg_die(MSG_EX_UNREACH, "statsd: the stats "
				    "socket closed");
			}
			r->len += (size_t)n;
			while (msg_stats_line(r, &line) == 1) {
				json_t *o = json_loads(line, 0, NULL);
				const char *ty;
				char key[300];

				if (o == NULL)
					continue;
				ty = s_(o, "type");
				if (strcmp(ty, "error") == 0) {
					restore();
					msg_die(MSG_EX_REFUSED, "%s",
					    s_(o, "msg"));
				}
				if (strcmp(ty, "sync") == 0) {
					rec_ts_parse(s_(o, "ts"), &server_ts);
					local_at = daemon_now_ms();
					json_decref(o);
					continue;
				}
				snprintf(key, sizeof(key), "%s|%s%s%s", ty,
				    s_(o, strcmp(ty, "waiting") == 0 ? "conv" :
				    strcmp(ty, "channel") == 0 ? "channel" : ty),
				    strcmp(ty, "channel") == 0 ? "|" : "",
				    strcmp(ty, "channel") == 0 ? s_(o, "addr") :
				    "");
				if (json_object_get(o, "gone"))
					json_object_del(ents, key);
				else
					json_object_set(ents, key, o);
				json_decref(o);
				dirty = 1;
			}
		}
		if (rc > 0 && (pf[1].revents & POLLIN)) {
			char k[16];
			ssize_t n = read(STDIN_FILENO, k, sizeof(k)), i;

			for (i = 0; i < n; i++) {
				if (k[i] == 'q' || k[i] == 'Q' || k[i] == 3)
					quit = 1;
				else if (k[i] == '\t' || k[i] == 'n' ||
				    k[i] == 'p') {
					json_t *c[512];
					size_t nc = of_type(ents, "campaign", c,
					    512), j, at = nc;

					for (j = 0; j < nc && pick; j++)
						if (strcmp(s_(c[j], "campaign"),
						    pick) == 0)
							at = j;
					free(pick);
					pick = NULL;
					if (nc == 0)
						;
					else if (k[i] == 'p')
						pick = strdup(s_(c[at == 0 ||
						    at == nc ? nc - 1 : at - 1],
						    "campaign"));
					else if (at + 1 < nc || at == nc)
						pick = strdup(s_(c[at == nc ?
						    0 : at + 1], "campaign"));
					dirty = 1;
				} else if (k[i] == 'a') {
					free(pick);
					pick = NULL;
					dirty = 1;
				}
			}
		}
		if (winch || dirty || daemon_now_ms() - last >= 1000) {
			winch = 0;
			dirty = 0;
			draw(ents, pick, server_ts, local_at);
			last = daemon_now_ms();
		}
	}
	restore();
	json_decref(ents);
	free(pick);
	close(r->fd);
	free(r->line);
	free(r);
	return MSG_EX_OK;
}
