/*
 * msg report --from DATE --to DATE [--by campaign|channel|agent|hour|day]
 *	[--campaign C] [--agent A] [--channel CH] [--tz ZONE]
 *	[--csv | --json | --svg]
 * — history from statsd's hourly rollups (msg-report(1)): the queue
 * figures, response times and campaign analytics per row, as an aligned
 * table on a terminal, CSV, JSON Lines (one row a line, the default off a
 * terminal), or --svg: one standalone SVG document with the activity
 * histogram (contact messages per hour, day, month or year, chosen from the
 * range as metrics.md §3 says) and the waits of the answered entries.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mp.h"
#include "msg.h"
#include "msg_stats.h"
#include "rec.h"

static const char *const qcols[] = { "offered", "answered", "abandoned",
    "sl", "sl2", "dropout_rate", "avg_wait", "max_wait", "median_wait",
    "handled", "contact_messages", "agent_responses", "bot_responses",
    "sent", "delivered", "read", "failed", "responded", "opted_out",
    "engagement_rate", "median_agent_response", NULL };
static const char *const acols[] = { "replies", "avg_response",
    "median_response", "completed", "assigned", "available_time",
    "break_time", "busy_time", NULL };
/* what fits a terminal */
static const char *const qshort[] = { "offered", "answered", "abandoned",
    "sl", "sl2", "dropout_rate", "avg_wait", "max_wait", "handled",
    "contact_messages", "agent_responses", "bot_responses",
    "engagement_rate", NULL };

static void
cell(json_t *v, char *b, size_t sz)
{
	if (json_is_integer(v))
		snprintf(b, sz, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(b, sz, "%.1f", json_real_value(v));
	else if (json_is_string(v))
		snprintf(b, sz, "%s", json_string_value(v));
	else
		b[0] = '\0';
}

static void
csv_field(const char *s)
{
	if (strpbrk(s, ",\"\n\r") == NULL) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void
xml(FILE *fp, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '<': fputs("&lt;", fp); break;
		case '>': fputs("&gt;", fp); break;
		case '&': fputs("&amp;", fp); break;
		case '"': fputs("&quot;", fp); break;
		default: fputc(*s, fp);
		}
}

/* Two panels: the activity histogram, the waits of answered entries. */
static void
svg(json_t *rep, const char *title)
{
	json_t *act = json_object_get(rep, "activity"), *w =
	    json_object_get(rep, "waits"), *p;
	size_t n = json_array_size(act), i;
	double W = 800, H = 300, top = 50, left = 60, pw = W - left - 20,
	    ph = 180, max = 0, wmax = 0;
	int64_t t0 = json_integer_value(json_object_get(rep, "from")),
	    t1 = json_integer_value(json_object_get(rep, "to"));
	char b[64];

	json_array_foreach(act, i, p)
		if (json_number_value(json_array_get(p, 1)) > max)
			max = json_number_value(json_array_get(p, 1));
	json_array_foreach(w, i, p)
		if (json_number_value(json_array_get(p, 1)) > wmax)
			wmax = json_number_value(json_array_get(p, 1));
	if (max < 1)
		max = 1;
	if (wmax < 1)
		wmax = 1;
	printf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
	    "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
	    "font-family=\"sans-serif\" font-size=\"12\">\n", W, 2 * H, W,
	    2 * H);
	printf("<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
	/* panel 1: activity */
	printf("<text x=\"%.0f\" y=\"24\" font-size=\"16\" "
	    "font-weight=\"bold\">Activity: contact messages per %s",
	    left, json_string_value(json_object_get(rep, "bucket")));
	if (title) {
		fputs(" — ", stdout);
		xml(stdout, title);
	}
	printf("</text>\n");
	printf("<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" "
	    "stroke=\"#333\"/>\n", left, top + ph, left + pw, top + ph);
	printf("<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" "
	    "stroke=\"#333\"/>\n", left, top, left, top + ph);
	printf("<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.0f</text>\n",
	    left - 6, top + 4, max);
	printf("<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">0</text>\n",
	    left - 6, top + ph + 4);
	json_array_foreach(act, i, p) {
		double v = json_number_value(json_array_get(p, 1));
		double bw = pw / (double)(n ? n : 1), h = ph * v / max;

		printf("<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"%.1f\" fill=\"#3b82f6\"><title>", left + i * bw +
		    bw * 0.1, top + ph - h, bw * 0.8, h);
		xml(stdout, json_string_value(json_array_get(p, 0)));
		printf(": %.0f</title></rect>\n", v);
		if (n <= 24 || i % (n / 12 + 1) == 0) {
			printf("<text x=\"%.1f\" y=\"%.0f\" font-size=\"10\" "
			    "text-anchor=\"middle\">", left + i * bw + bw / 2,
			    top + ph + 14);
			xml(stdout, json_string_value(json_array_get(p, 0)) +
			    (strlen(json_string_value(json_array_get(p, 0))) >
			    10 ? 11 : 0));
			printf("</text>\n");
		}
	}
	if (n == 0)
		printf("<text x=\"%.0f\" y=\"%.0f\" fill=\"#888\">no contact "
		    "messages in this range</text>\n", left + 10, top + ph / 2);
	/* panel 2: the waits */
	top += H;
	printf("<text x=\"%.0f\" y=\"%.0f\" font-size=\"16\" "
	    "font-weight=\"bold\">Wait times of answered customers "
	    "(seconds)</text>\n", left, top - 26);
	printf("<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" "
	    "stroke=\"#333\"/>\n", left, top + ph, left + pw, top + ph);
	printf("<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" "
	    "stroke=\"#333\"/>\n", left, top, left, top + ph);
	printf("<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.0f</text>\n",
	    left - 6, top + 4, wmax);
	printf("<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">0</text>\n",
	    left - 6, top + ph + 4);
	rec_ts_format(t0, b);
	b[16] = '\0';
	printf("<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">%s</text>\n",
	    left, top + ph + 14, b);
	rec_ts_format(t1, b);
	b[16] = '\0';
	printf("<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\" "
	    "text-anchor=\"end\">%s</text>\n", left + pw, top + ph + 14, b);
	json_array_foreach(w, i, p) {
		double t = (double)json_integer_value(json_array_get(p, 0));
		double v = json_number_value(json_array_get(p, 1));
		double x = left + pw * (t - (double)t0) / (double)(t1 - t0 > 0 ?
		    t1 - t0 : 1);

		printf("<circle class=\"wait\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
		    "fill=\"#ef4444\" fill-opacity=\"0.7\"><title>%.1f s"
		    "</title></circle>\n", x, top + ph - ph * v / wmax, v);
	}
	if (json_array_size(w) == 0)
		printf("<text x=\"%.0f\" y=\"%.0f\" fill=\"#888\">nobody was "
		    "answered in this range</text>\n", left + 10, top + ph / 2);
	printf("</svg>\n");
}

int
msg_report(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "by", required_argument, NULL, 'b' },
		{ "campaign", required_argument, NULL, 'C' },
		{ "agent", required_argument, NULL, 'A' },
		{ "channel", required_argument, NULL, 'H' },
		{ "tz", required_argument, NULL, 'z' },
		{ "csv", no_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "svg", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *by = "campaign", *camp = NULL, *agent = NULL,
	    *channel = NULL, *tz = NULL, *const *cols;
	int64_t from = -1, to = -1, id;
	int ch, out = msg_stdout_tty() ? 't' : 'j';
	struct busc c;
	struct fbuf f;
	const msgpack_object *ans, *ro;
	json_t *rep, *rows, *row;
	size_t i, j, nk = 7;
	char b[64];

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
		case 't':
			if ((ch == 'f' ? (from = msg_parse_date(optarg, 0)) :
			    (to = msg_parse_date(optarg, 1))) < 0)
				msg_die(MSG_EX_USAGE, "--%s: \"%s\" is not a "
				    "date (YYYY-MM-DD, YYYY-MM-DD HH:MM or "
				    "RFC 3339)", ch == 'f' ? "from" : "to",
				    optarg);
			break;
		case 'b':
			by = optarg;
			if (strcmp(by, "campaign") && strcmp(by, "channel") &&
			    strcmp(by, "agent") && strcmp(by, "hour") &&
			    strcmp(by, "day"))
				msg_die(MSG_EX_USAGE, "--by: campaign, channel, "
				    "agent, hour or day");
			break;
		case 'C': camp = optarg; break;
		case 'A': agent = optarg; break;
		case 'H': channel = optarg; break;
		case 'z': tz = optarg; break;
		case 'c': out = 'c'; break;
		case 'j': out = 'j'; break;
		case 's': out = 's'; break;
		default: msg_usage();
		}
	}
	if (optind != argc || from < 0)
		msg_usage();
	if (to < 0)
		to = from + 86400000;
	if (to <= from)
		msg_die(MSG_EX_USAGE, "--to must come after --from");
	if (agent && strcmp(by, "agent") != 0)
		by = "agent";
	msg_connect_or_die(&c, "statsd");
	id = busc_next_id(&c);
	fbuf_init(&f);
	fbuf_begin(&f, 5 + !!camp + !!agent + !!channel + !!tz);
	mp_kv_str(&f.pk, "t", "report");
	mp_kv_int(&f.pk, "id", id);
	mp_kv_int(&f.pk, "from", from);
	mp_kv_int(&f.pk, "to", to);
	mp_kv_str(&f.pk, "by", by);
	if (camp)
		mp_kv_str(&f.pk, "campaign", camp);
	if (agent)
		mp_kv_str(&f.pk, "agent", agent);
	if (channel)
		mp_kv_str(&f.pk, "channel", channel);
	if (tz)
		mp_kv_str(&f.pk, "tz", tz);
	ans = msg_call(&c, &f, id);
	fbuf_free(&f);
	if ((ro = mp_get(ans, "report")) == NULL ||
	    (rep = rec_to_json(ro)) == NULL)
		msg_die(MSG_EX_REFUSED, "statsd: no report in the answer");
	busc_close(&c);
	rows = json_object_get(rep, "rows");
	cols = strcmp(by, "agent") == 0 ? acols : out == 't' ? qshort : qcols;
	if (out == 's') {
		svg(rep, camp);
	} else if (out == 'j') {
		json_array_foreach(rows, i, row) {
			char *s = json_dumps(row, JSON_COMPACT |
			    JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));

			msg_out_line(s);
			free(s);
		}
	} else if (out == 'c') {
		csv_field(by);
		for (j = 0; cols[j]; j++) {
			putchar(',');
			csv_field(cols[j]);
		}
		putchar('\n');
		json_array_foreach(rows, i, row) {
			csv_field(json_string_value(json_object_get(row, by)));
			for (j = 0; cols[j]; j++) {
				json_t *v = json_object_get(row, cols[j]);

				putchar(',');
				if (json_is_real(v))
					printf("%.3f", json_real_value(v));
				else {
					cell(v, b, sizeof(b));
					csv_field(b);
				}
			}
			putchar('\n');
		}
	} else {
		/* a table: the key column as wide as its widest value */
		json_array_foreach(rows, i, row) {
			size_t l = strlen(json_string_value(json_object_get(row,
			    by)) ? json_string_value(json_object_get(row, by)) :
			    "");

			if (l > nk)
				nk = l;
		}
		printf("%-*s", (int)nk, by);
		for (j = 0; cols[j]; j++)
			printf(" %*.*s", (int)(strlen(cols[j]) < 7 ? 7 :
			    strlen(cols[j]) > 12 ? 12 : strlen(cols[j])), 12,
			    cols[j]);
		putchar('\n');
		json_array_foreach(rows, i, row) {
			printf("%-*s", (int)nk,
			    json_string_value(json_object_get(row, by)));
			for (j = 0; cols[j]; j++) {
				cell(json_object_get(row, cols[j]), b,
				    sizeof(b));
				printf(" %*s", (int)(strlen(cols[j]) < 7 ? 7 :
				    strlen(cols[j]) > 12 ? 12 :
				    strlen(cols[j])), b);
			}
			putchar('\n');
		}
		if (json_array_size(rows) == 0)
			printf("(nothing in this range)\n");
	}
	if (json_is_true(json_object_get(rep, "truncated")))
		msg_err("more rows than statsd sends at once: shorten the "
		    "range or choose coarser rows");
	msg_out_flush();
	json_decref(rep);
	return MSG_EX_OK;
}
