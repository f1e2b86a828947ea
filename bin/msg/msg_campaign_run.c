/*
 * msg campaign pause|resume|progress|contacts — an outbound campaign's run
 * (campaignd_run.c): pause and resume it, follow its figures, list its
 * recipients.  progress prints a live bar on a terminal and JSON Lines
 * otherwise; contacts pages through every recipient (campaignd answers a
 * page at a time, so a run of millions streams) as a table, JSON Lines or
 * CSV.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "busc.h"
#include "msg.h"
#include "msg_admin.h"

static const struct aflag progress_flags[] = {
	{ "follow", "follow", AF_FLAG },
	{ NULL, NULL, 0 }
};
static const struct aflag contacts_flags[] = {
	{ "state", "state", AF_STR },
	{ "search", "search", AF_STR },
	{ "preview", "preview", AF_STR },
	{ "csv", "csv", AF_FLAG },
	{ NULL, NULL, 0 }
};
static const struct aflag no_flags[] = { { NULL, NULL, 0 } };

static void
out_json(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (s != NULL) {
		msg_out_line(s);
		free(s);
	}
	msg_out_flush();
}

static int
ended(json_t *p)
{
	const char *st = json_string_value(json_object_get(p, "state"));

	return st && (strcmp(st, "done") == 0 || strcmp(st, "stopped") == 0);
}

/* One line of figures for people, with a bar of width w. */
static void
bar(json_t *p)
{
	json_int_t total = json_integer_value(json_object_get(p, "total")),
	    done = json_integer_value(json_object_get(p, "done"));
	double frac = total > 0 ? (double)done / (double)total : 0;
	char eta[32] = "-", bars[41];
	int i, w = 40, fill = (int)(frac * w);

	if (json_object_get(p, "eta_s"))
		msg_duration(json_integer_value(json_object_get(p, "eta_s")) *
		    1000, eta, sizeof(eta));
	for (i = 0; i < w; i++)
		bars[i] = i < fill ? '#' : '.';
	bars[w] = '\0';
	fprintf(stdout, "\r[%s] %3d%% sent %lld/%lld failed %lld suppressed "
	    "%lld deferred %lld retrying %lld %.1f/s ETA %s (%s)\033[K",
	    bars, (int)(frac * 100),
	    (long long)json_integer_value(json_object_get(p, "sent")),
	    (long long)total,
	    (long long)json_integer_value(json_object_get(p, "failed")),
	    (long long)json_integer_value(json_object_get(p, "suppressed")),
	    (long long)json_integer_value(json_object_get(p, "deferred")),
	    (long long)json_integer_value(json_object_get(p, "retrying")),
	    json_number_value(json_object_get(p, "rate")), eta,
	    json_string_value(json_object_get(p, "state")));
	if (json_integer_value(json_object_get(p, "possibly_duplicated")))
		fprintf(stdout, " possibly duplicated %lld",
		    (long long)json_integer_value(json_object_get(p,
		    "possibly_duplicated")));
	fflush(stdout);
}

static int
progress(const char *name, json_t *args)
{
	int follow = json_is_true(json_object_get(args, "follow"));
	int tty = msg_stdout_tty();
	json_t *a, *p;

	for (;;) {
		a = json_pack("{s:s}", "name", name);
		p = admin_call("campaign", "progress", a);
		if (tty)
			bar(p);
		else
			out_json(p);
		if (!follow || ended(p)) {
			json_decref(p);
			break;
		}
		json_decref(p);
		sleep(1);
	}
	if (tty)
		fputc('\n', stdout);
	return MSG_EX_OK;
}

static void
csv_field(const char *s)
{
	const char *p;

	if (s == NULL)
		s = "";
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, stdout);
		return;
	}
	fputc('"', stdout);
	for (p = s; *p; p++) {
		if (*p == '"')
			fputc('"', stdout);
		fputc(*p, stdout);
	}
	fputc('"', stdout);
}

static const char *const csv_cols[] = { "first_name", "last_name", "phone",
	"state", "reason", "queued_ts", "sent_ts", "delivered_ts", "read_ts",
	"failed_ts", "next_ts", "attempts", "replied", "opted_out",
	"possibly_duplicated", "conv", NULL };
static const char *const tty_cols[] = { "first_name", "last_name", "phone",
	"state", "reason", "sent_ts", "replied", "opted_out", NULL };

static int
contacts(const char *name, json_t *args)
{
	int csv = json_is_true(json_object_get(args, "csv"));
	json_t *a, *res, *items, *it, *v;
	json_int_t after = 0;
	size_t i, c;
	char *s;

	json_object_del(args, "csv");
	if (json_object_get(args, "preview")) {
		a = json_deep_copy(args);
		json_object_set_new(a, "name", json_string(name));
		res = admin_call("campaign", "contacts", a);
		it = json_object_get(res, "recipient");
		if (msg_stdout_tty() && json_object_get(it, "text"))
			msg_out_line(json_string_value(json_object_get(it,
			    "text")));
		else
			out_json(it);
		json_decref(res);
		return MSG_EX_OK;
	}
	if (csv) {
		for (c = 0; csv_cols[c]; c++)
			printf("%s%s", c ? "," : "", csv_cols[c]);
		putchar('\n');
	}
	for (;;) {
		a = json_deep_copy(args);
		json_object_set_new(a, "name", json_string(name));
		json_object_set_new(a, "after", json_integer(after));
		res = admin_call("campaign", "contacts", a);
		items = json_object_get(res, "items");
		if (csv) {
			json_array_foreach(items, i, it) {
				for (c = 0; csv_cols[c]; c++) {
					if (c)
						putchar(',');
					v = json_object_get(it, csv_cols[c]);
					if (json_is_string(v))
						csv_field(json_string_value(v));
					else if (v != NULL) {
						s = json_dumps(v, JSON_ENCODE_ANY);
						csv_field(s);
						free(s);
					}
				}
				putchar('\n');
			}
			fflush(stdout);
		} else
			admin_print_items(items, tty_cols);
		after = json_integer_value(json_object_get(res, "next"));
		if (!json_is_true(json_object_get(res, "more"))) {
			json_decref(res);
			break;
		}
		json_decref(res);
	}
	return MSG_EX_OK;
}

int
msg_campaign_run(int argc, char **argv)
{
	const char *op = argv[1];
	const struct aflag *tab = no_flags;
	json_t *args = json_object(), *res;
	int rc, i;

	for (i = 2; i < argc; i++)
		if (strcmp(argv[i], "-f") == 0)
			argv[i] = "--follow";
	if (strcmp(op, "progress") == 0)
		tab = progress_flags;
	else if (strcmp(op, "contacts") == 0)
		tab = contacts_flags;
	if (admin_flags(argc, argv, 2, tab, args) != 1)
		msg_usage();
	if (strcmp(op, "progress") == 0)
		rc = progress(argv[2], args);
	else if (strcmp(op, "contacts") == 0)
		rc = contacts(argv[2], args);
	else {
		json_object_set_new(args, "name", json_string(argv[2]));
		res = admin_call("campaign", op, args);
		args = NULL;
		if (msg_stdout_tty())
			fprintf(stdout, "campaign %s %s (%s)\n", argv[2],
			    op[0] == 'p' ? "paused" : "resumed",
			    json_string_value(json_object_get(res, "state")));
		else
			out_json(res);
		json_decref(res);
		rc = MSG_EX_OK;
	}
	json_decref(args);
	return rc;
}
