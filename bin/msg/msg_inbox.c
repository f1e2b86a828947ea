/*
 * msg inbox — the caller's open conversations in three sections (needs
 * attention, agent-operated, bot-operated), with the customer's name (the
 * contact book's first) and address, channel, campaign, who holds it (or
 * "offered" when it is offered to the caller now), the last message (and
 * its delivery state when it went out), how long the customer has
 * waited, and "overdue" once the campaign's response time threshold has
 * passed without an agent reply (routerd decides that: "overdue" in each
 * record).
 *
 * On a terminal aligned tables, longest waiting first; on a pipe (or with
 * --json) one JSON object per conversation with its "section", times in
 * RFC 3339, so scripts can sort and filter with jq.  Customer text is
 * sanitised before it reaches a terminal.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "daemon.h"
#include "mp.h"
#include "msg.h"
#include "rec.h"

#define NAME_COLS	20

/* A string field as (s, n), "" when absent. */
static size_t
field(const msgpack_object *o, const char *k, const char **s)
{
	size_t n;

	if (!mp_str(o, k, s, &n)) {
		*s = "";
		n = 0;
	}
	return n;
}

static void
pad(size_t n)
{
	while (n-- > 0)
		putchar(' ');
}

/* One cell: text cut to cols, then padded to width + 2. */
static void
cell(const char *s, size_t n, size_t cols, size_t width)
{
	size_t w = msg_term_text(stdout, s, n, cols, 0, 1);

	pad(width > w ? width - w + 2 : 2);
}

static size_t
term_cols(void)
{
	struct winsize ws;
	const char *e;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if ((e = getenv("COLUMNS")) != NULL && atoi(e) > 0)
		return (size_t)atoi(e);
	return 80;
}

/* The section a conversation belongs to: 0 attention, 1 agent, 2 bot. */
static int
section_of(const msgpack_object *c)
{
	const char *s;
	size_t n;
	int b;

	if (mp_bool(c, "attention", &b) && b)
		return 0;
	n = field(c, "mode", &s);
	if (n == 3 && memcmp(s, "bot", 3) == 0)
		return 2;
	return 1;
}

static const char *const section_key[] = { "attention", "agent", "bot" };
static const char *const section_title[] = { "NEEDS ATTENTION",
    "AGENT-OPERATED", "BOT-OPERATED" };

/* The WAITED cell: "3m12s", "12m03s overdue", or "-". */
static void
waited(const msgpack_object *c, int64_t now, char *buf, size_t sz)
{
	int64_t ws;
	int over = 0;

	if (!mp_int(c, "waiting_since_ts", &ws)) {
		snprintf(buf, sz, "-");
		return;
	}
	msg_duration(now - ws, buf, sz);
	if (mp_bool(c, "overdue", &over) && over)
		strncat(buf, " overdue", sz - strlen(buf) - 1);
}

/* Tags as "a,b", stored as text or as a list. */
static size_t
tags_of(const msgpack_object *c, char *buf, size_t sz)
{
	const msgpack_object *t = mp_get(c, "tags");
	size_t n = 0;
	uint32_t i;

	buf[0] = '\0';
	if (t && t->type == MSGPACK_OBJECT_STR)
		n = snprintf(buf, sz, "%.*s", (int)t->via.str.size,
		    t->via.str.ptr);
	else if (t && t->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < t->via.array.size && n < sz; i++)
			if (t->via.array.ptr[i].type == MSGPACK_OBJECT_STR)
				n += snprintf(buf + n, sz - n, "%s%.*s",
				    n ? "," : "",
				    (int)t->via.array.ptr[i].via.str.size,
				    t->via.array.ptr[i].via.str.ptr);
	return n < sz ? n : sz - 1;
}

/* Customer: "Ada +15551234567", or the address alone. */
static size_t
customer_cols(const msgpack_object *c)
{
	const char *s;
	size_t n, cols;

	/* the contact book's name first, else the one the channel gave */
	if ((n = field(c, "book_name", &s)) == 0)
		n = field(c, "name", &s);
	cols = msg_text_cols(s, n);
	if (cols > NAME_COLS)
		cols = NAME_COLS;
	if (cols)
		cols++;
	n = field(c, "contact", &s);
	return cols + msg_text_cols(s, n);
}

static void
customer_cell(const msgpack_object *c, size_t width)
{
	const char *s;
	size_t n, w = 0;

	if ((n = field(c, "book_name", &s)) == 0)
		n = field(c, "name", &s);
	if (n > 0) {
		w = msg_term_text(stdout, s, n, NAME_COLS, 0, 1);
		putchar(' ');
		w++;
	}
	n = field(c, "contact", &s);
	w += msg_term_text(stdout, s, n, 0, 0, 1);
	pad(width > w ? width - w + 2 : 2);
}

/* Is c offered to the caller now (and held by nobody)? */
static int
offered(const msgpack_object *c)
{
	int b;

	return mp_bool(c, "offered_to_you", &b) && b;
}

/* Longest waiting first; those nobody waits on keep routerd's order. */
static const msgpack_object *sort_base;
static int
by_wait(const void *a, const void *b)
{
	const msgpack_object *x = &sort_base[*(const uint32_t *)a],
	    *y = &sort_base[*(const uint32_t *)b];
	int64_t wx, wy;
	int hx = mp_int(x, "waiting_since_ts", &wx),
	    hy = mp_int(y, "waiting_since_ts", &wy);

	if (hx && hy && wx != wy)
		return wx < wy ? -1 : 1;
	if (hx != hy)
		return hx ? -1 : 1;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static void
print_table(const msgpack_object *convs)
{
	static const char *hdr[] = { "CONV", "CUSTOMER", "CHANNEL",
	    "CAMPAIGN", "AGENT", "TAGS", "WAITED", "LAST" };
	/* the id at its shortest unique length (routerd's "short") */
	static const char *keys[] = { "short", NULL, "channel", "campaign",
	    "agent" };
	size_t w[8], k, n, used, lastw, lastw0;
	const msgpack_object *c;
	const char *s;
	char buf[160];
	uint32_t i, j, cnt[3] = { 0, 0, 0 }, *order;
	int64_t now = daemon_now_ms();
	int sec;

	if (convs->via.array.size == 0) {
		msg_out_line("no open conversations");
		return;
	}
	for (k = 0; k < 8; k++)
		w[k] = strlen(hdr[k]);
	for (i = 0; i < convs->via.array.size; i++) {
		c = &convs->via.array.ptr[i];
		for (k = 0; k < 5; k++) {
			if (keys[k] == NULL)
				n = customer_cols(c);
			else {
				n = field(c, keys[k], &s);
				n = msg_text_cols(s, n);
			}
			if (k == 4 && n == 0 && offered(c))
				n = 7;
			if (n > w[k])
				w[k] = n;
		}
		n = tags_of(c, buf, sizeof(buf));
		if (msg_text_cols(buf, n) > w[5])
			w[5] = msg_text_cols(buf, n);
		waited(c, now, buf, sizeof(buf));
		if (strlen(buf) > w[6])
			w[6] = strlen(buf);
		cnt[section_of(c)]++;
	}
	for (used = 0, k = 0; k < 7; k++)
		used += w[k] + 2;
	/* one conversation, one line: LAST gets what the others leave */
	lastw = term_cols() > used + 2 ? term_cols() - used - 1 : 2;
	lastw0 = lastw;
	if ((order = calloc(convs->via.array.size, sizeof(*order))) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	for (i = 0; i < convs->via.array.size; i++)
		order[i] = i;
	sort_base = convs->via.array.ptr;
	qsort(order, convs->via.array.size, sizeof(*order), by_wait);
	for (sec = 0; sec < 3; sec++) {
		if (cnt[sec] == 0)
			continue;
		printf("%s%s (%u)\n", sec > 0 && (cnt[0] || (sec == 2 &&
		    cnt[1])) ? "\n" : "", section_title[sec], cnt[sec]);
		for (k = 0; k < 8; k++) {
			/* LAST: only what the line has room for */
			printf("%.*s", k < 7 ? (int)strlen(hdr[k]) :
			    (int)(lastw < 4 ? lastw : 4), hdr[k]);
			if (k < 7)
				pad(w[k] - strlen(hdr[k]) + 2);
		}
		putchar('\n');
		for (j = 0; j < convs->via.array.size; j++) {
			c = &convs->via.array.ptr[order[j]];
			if (section_of(c) != sec)
				continue;
			for (k = 0; k < 5; k++) {
				if (keys[k] == NULL) {
					customer_cell(c, w[k]);
					continue;
				}
				n = field(c, keys[k], &s);
				if (n == 0 && k == 4 && offered(c)) {
					s = "offered";
					n = 7;
				}
				if (n == 0) {
					s = "-";
					n = 1;
				}
				cell(s, n, 0, w[k]);
			}
			n = tags_of(c, buf, sizeof(buf));
			if (n == 0)
				n = snprintf(buf, sizeof(buf), "-");
			cell(buf, n, 0, w[5]);
			waited(c, now, buf, sizeof(buf));
			cell(buf, strlen(buf), 0, w[6]);
			n = field(c, "last_dir", &s);
			if (n == 2 && memcmp(s, "in", 2) == 0)
				fputs("< ", stdout);
			else if (n == 3 && memcmp(s, "out", 3) == 0) {
				fputs("> ", stdout);
				/* the last outbound message's delivery state */
				if ((n = field(c, "last_out_state", &s)) > 0 &&
				    lastw > n + 6) {
					printf("(%.*s) ", (int)n, s);
					lastw -= n + 3;
				}
			}
			n = field(c, "last_text", &s);
			if (lastw > 3)
				msg_term_text(stdout, s, n, lastw - 2, 0, 1);
			putchar('\n');
			lastw = lastw0;
		}
	}
	free(order);
}

/* The filters (--campaign, --section, --tag, --agent, --search). */
static struct {
	const char	*campaign, *section, *tag, *agent, *search;
} flt;

/* 1 when string field k of c is v. */
static int
field_is(const msgpack_object *c, const char *k, const char *v)
{
	const char *s;
	size_t n = field(c, k, &s);

	return n == strlen(v) && memcmp(s, v, n) == 0;
}

/* 1 when string field k of c holds q, in any case. */
static int
field_has(const msgpack_object *c, const char *k, const char *q)
{
	char buf[1024];
	const char *s;
	size_t n = field(c, k, &s);

	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return strcasestr(buf, q) != NULL;
}

/* Does conversation c pass the filters? */
static int
keep(const msgpack_object *c)
{
	char buf[512], *t, *save;

	if (flt.campaign && !field_is(c, "campaign", flt.campaign))
		return 0;
	if (flt.agent && !field_is(c, "agent", flt.agent))
		return 0;
	if (flt.section && strcmp(section_key[section_of(c)], flt.section))
		return 0;
	if (flt.tag) {
		tags_of(c, buf, sizeof(buf));
		for (t = strtok_r(buf, ",", &save); t;
		    t = strtok_r(NULL, ",", &save))
			if (strcmp(t, flt.tag) == 0)
				break;
		if (t == NULL)
			return 0;
	}
	if (flt.search && !field_has(c, "contact", flt.search) &&
	    !field_has(c, "name", flt.search) &&
	    !field_has(c, "last_text", flt.search) &&
	    !field_has(c, "conv", flt.search))
		return 0;
	return 1;
}

static void
print_json(const msgpack_object *convs)
{
	json_t *j;
	char *line;
	uint32_t i;

	for (i = 0; i < convs->via.array.size; i++) {
		if (!keep(&convs->via.array.ptr[i]))
			continue;
		j = rec_record_json(&convs->via.array.ptr[i]);
		if (json_is_object(j))
			json_object_set_new(j, "section", json_string(
			    section_key[section_of(&convs->via.array.ptr[i])]));
		line = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) :
		    NULL;
		json_decref(j);
		if (line == NULL) {
			msg_err("conversation %u: cannot convert to JSON", i);
			continue;
		}
		msg_out_line(line);
		free(line);
	}
}

int
msg_inbox(int argc, char **argv)
{
	const msgpack_object *ans, *convs;
	msgpack_sbuffer rows;
	msgpack_packer pk;
	msgpack_unpacked up;
	struct busc c;
	struct fbuf fb;
	char after[128] = "";
	uint32_t i, nrows = 0;
	size_t off = 0;
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "campaign", required_argument, NULL, 'C' },
		{ "section", required_argument, NULL, 'S' },
		{ "tag", required_argument, NULL, 'T' },
		{ "agent", required_argument, NULL, 'A' },
		{ "search", required_argument, NULL, 'Q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t id;
	int json = 0, more, ch;

	while ((ch = getopt_long(argc, argv, "jh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		case 'C':
			flt.campaign = optarg;
			break;
		case 'S':
			if (strcmp(optarg, "attention") && strcmp(optarg,
			    "agent") && strcmp(optarg, "bot"))
				msg_die(MSG_EX_USAGE, "--section is attention, "
				    "agent or bot");
			flt.section = optarg;
			break;
		case 'T':
			flt.tag = optarg;
			break;
		case 'A':
			flt.agent = optarg;
			break;
		case 'Q':
			if (*optarg == '\0')
				msg_usage();
			flt.search = optarg;
			break;
		default:
			msg_usage();
		}
	}
	if (optind != argc)
		msg_usage();
	json = json || !msg_stdout_tty();
	msg_connect_or_die(&c, "routerd");
	fbuf_init(&fb);
	msgpack_sbuffer_init(&rows);
	msgpack_packer_init(&pk, &rows, msgpack_sbuffer_write);
	/* routerd answers a page at a time; ask again after the last one */
	do {
		id = busc_next_id(&c);
		fbuf_begin(&fb, after[0] ? 3 : 2);
		mp_kv_str(&fb.pk, "t", "inbox");
		mp_kv_int(&fb.pk, "id", id);
		if (after[0])
			mp_kv_str(&fb.pk, "after", after);
		ans = msg_call(&c, &fb, id);
		convs = mp_get(ans, "convs");
		if (convs == NULL || convs->type != MSGPACK_OBJECT_ARRAY)
			msg_die(MSG_EX_UNREACH, "routerd: answer lacks convs");
		if (!mp_bool(ans, "more", &more) || convs->via.array.size == 0)
			more = 0;
		if (json)
			print_json(convs);
		else
			for (i = 0; i < convs->via.array.size; i++) {
				if (!keep(&convs->via.array.ptr[i]))
					continue;
				msgpack_pack_object(&pk, convs->via.array.ptr[i]);
				nrows++;
			}
		if (more && !mp_strcpy(&convs->via.array.ptr[
		    convs->via.array.size - 1], "conv", after, sizeof(after)))
			more = 0;
	} while (more);
	if (!json) {
		/* the rows as one array, for the column widths */
		msgpack_sbuffer all;
		msgpack_packer apk;

		msgpack_sbuffer_init(&all);
		msgpack_packer_init(&apk, &all, msgpack_sbuffer_write);
		msgpack_pack_array(&apk, nrows);
		if (rows.size > 0)
			msgpack_sbuffer_write(&all, rows.data, rows.size);
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, all.data, all.size, &off) !=
		    MSGPACK_UNPACK_SUCCESS)
			msg_die(MSG_EX_REFUSED, "out of memory");
		print_table(&up.data);
		msgpack_unpacked_destroy(&up);
		msgpack_sbuffer_destroy(&all);
	}
	msg_out_flush();
	msgpack_sbuffer_destroy(&rows);
	fbuf_free(&fb);
	busc_close(&c);
	return MSG_EX_OK;
}
