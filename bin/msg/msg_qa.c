/*
 * msg qa — quality models (campaignd): a name, a description and
 * categories of questions, each with a maximum score; show adds the totals
 * per category and for the model.  A whole model can be given as JSON with
 * --file.  A supervisor scores a closed conversation against a model (qa
 * score: a "qa" event in routerd's log), and qa scores lists them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp.h"
#include "rec.h"
#include "msg.h"
#include "msg_admin.h"

#define QA_FILE_MAX	(512 * 1024)

static const struct aflag flags[] = {
	{ "description", "description", AF_STR },
	{ "file", "file", AF_STR },
	{ "name", "category", AF_STR },
	{ "category", "category", AF_STR },
	{ "text", "text", AF_STR },
	{ "max", "max_score", AF_INT },
	{ "number", "number", AF_INT },
	{ NULL, NULL, 0 },
};

static const char *const cols[] = { "name", "max_score", "questions",
	"description", NULL };

static const struct aflag score_flags[] = {
	{ "model", "model", AF_STR },
	{ "answers", "answers", AF_STR },
	{ "note", "note", AF_STR },
	{ NULL, NULL, 0 },
};

static const struct aflag scores_flags[] = {
	{ "agent", "agent", AF_STR },
	{ "model", "model", AF_STR },
	{ "campaign", "campaign", AF_STR },
	{ NULL, NULL, 0 },
};

/*
 * msg qa score CONV --model M --answers N,N,... [--note T]: a supervisor's
 * score of a closed conversation, recorded by routerd as a "qa" event.
 */
static int
score(const char *conv, json_t *args)
{
	const char *a = json_string_value(json_object_get(args, "answers"));
	json_t *ans = json_array(), *res;
	char *end;
	long v;

	if (json_object_get(args, "model") == NULL || a == NULL)
		msg_die(MSG_EX_USAGE, "qa score needs --model M and --answers "
		    "N,N,...");
	while (*a) {
		v = strtol(a, &end, 10);
		if (end == a || v < 0 || (*end != ',' && *end != '\0'))
			msg_die(MSG_EX_USAGE, "--answers is whole numbers "
			    "separated by commas, one per question");
		json_array_append_new(ans, json_integer(v));
		a = *end ? end + 1 : end;
	}
	json_object_set_new(args, "answers", ans);
	json_object_set_new(args, "conv", json_string(msg_conv_arg(conv)));
	res = msg_work_call("qa", args);
	if (msg_stdout_tty())
		printf("%s: %lld of %lld (%s, agent %s)\n",
		    json_string_value(json_object_get(res, "conv")),
		    (long long)json_integer_value(json_object_get(res,
		    "score")), (long long)json_integer_value(
		    json_object_get(res, "max")), json_string_value(
		    json_object_get(res, "model")), json_string_value(
		    json_object_get(res, "agent")));
	else
		msg_work_print(res);
	json_decref(res);
	msg_out_flush();
	return MSG_EX_OK;
}

static json_t *scores_filter;
static json_t *scores_rows;

/* An emit for the event log: the "qa" events that pass the filters. */
static void
scores_emit(uint64_t seq, const msgpack_object *r, void *arg)
{
	const char *k;
	json_t *v, *j;

	if (!mp_get(r, "type") || !mp_streq(mp_get(r, "type"), "qa"))
		return;
	if ((j = rec_record_json(r)) == NULL)
		return;
	json_object_foreach(scores_filter, k, v) {
		if (!json_equal(json_object_get(j, k), v)) {
			json_decref(j);
			return;
		}
	}
	json_array_append_new(scores_rows, j);
}

/*
 * msg qa scores [--agent A] [--model M] [--campaign C]: the scores in the
 * event log, each with its total against the model's maximum.
 */
static int
scores(json_t *args)
{
	static const char *const scols[] = { "ts", "conv", "agent",
	    "campaign", "model", "score", "max", "by", "note", NULL };
	struct msg_sub s;
	json_t *it;
	size_t i;
	int rc;

	scores_filter = args;
	scores_rows = json_array();
	memset(&s, 0, sizeof(s));
	s.since = 1;
	s.last = -1;
	s.emit = scores_emit;
	if ((rc = msg_sub_run(&s)) != MSG_EX_OK)
		return rc;
	if (msg_stdout_tty())
		json_array_foreach(scores_rows, i, it)
			json_object_set_new(it, "score", json_sprintf("%lld",
			    (long long)json_integer_value(json_object_get(it,
			    "score"))));
	admin_print_items(scores_rows, scols);
	msg_out_flush();
	json_decref(scores_rows);
	json_decref(args);
	return MSG_EX_OK;
}

static int
is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/* --file: {"description"?, "categories": [...]} or just the array. */
static void
load_file(json_t *args)
{
	const char *file = json_string_value(json_object_get(args, "file"));
	json_error_t je;
	json_t *j, *cats, *d;
	char *text;

	if (file == NULL)
		return;
	text = admin_file(file, QA_FILE_MAX);
	if ((j = json_loads(text, 0, &je)) == NULL)
		msg_die(MSG_EX_REFUSED, "%s: line %d: %s", file, je.line,
		    je.text);
	free(text);
	if (json_is_array(j))
		cats = j;
	else if (json_is_object(j) && json_is_array(cats =
	    json_object_get(j, "categories"))) {
		d = json_object_get(j, "description");
		if (json_is_string(d) &&
		    !json_object_get(args, "description"))
			json_object_set(args, "description", d);
	} else
		msg_die(MSG_EX_REFUSED, "%s: want an object with "
		    "\"categories\": [...], or that array", file);
	json_object_set(args, "categories", cats);
	json_object_del(args, "file");
	json_decref(j);
}

int
msg_qa(int argc, char **argv)
{
	const char *op;
	json_t *args = json_object(), *res;
	char sub[32];
	int npos, base = 2;

	if (argc < 2)
		msg_usage();
	op = argv[1];
	if (is(op, "score")) {
		if (admin_flags(argc, argv, 2, score_flags, args) != 1)
			msg_usage();
		return score(argv[2], args);
	}
	if (is(op, "scores")) {
		if (admin_flags(argc, argv, 2, scores_flags, args) != 0)
			msg_usage();
		return scores(args);
	}
	if (is(op, "category") || is(op, "question")) {
		if (argc < 3 || (!is(argv[2], "add") && !is(argv[2],
		    "delete")))
			msg_usage();
		snprintf(sub, sizeof(sub), "%s_%s", op, argv[2]);
		op = sub;
		base = 3;
	}
	npos = admin_flags(argc, argv, base, flags, args);
	if (is(op, "list")) {
		if (npos != 0 || json_object_size(args) != 0)
			msg_usage();
		return admin_list("qa", args, cols);
	}
	if (npos != 1)
		msg_usage();
	json_object_set_new(args, "name", json_string(argv[base]));
	if (is(op, "add") || is(op, "edit")) {
		load_file(args);
		if (is(op, "edit") && !json_object_get(args, "description") &&
		    !json_object_get(args, "categories"))
			msg_die(MSG_EX_USAGE, "edit needs --description or "
			    "--file");
	} else if (is(op, "category_add") || is(op, "category_delete")) {
		if (!json_object_get(args, "category"))
			msg_die(MSG_EX_USAGE, "--name CATEGORY is required");
	} else if (is(op, "question_add")) {
		if (!json_object_get(args, "category") ||
		    !json_object_get(args, "text") ||
		    !json_object_get(args, "max_score"))
			msg_die(MSG_EX_USAGE, "question add needs --category, "
			    "--text and --max");
	} else if (is(op, "question_delete")) {
		if (!json_object_get(args, "category") ||
		    !json_object_get(args, "number"))
			msg_die(MSG_EX_USAGE, "question delete needs "
			    "--category and --number");
	} else if (!is(op, "show") && !is(op, "delete"))
		msg_usage();
	res = admin_call("qa", op, args);
	if (is(op, "delete"))
		admin_res_deleted("quality model ", res);
	else
		admin_print_doc(json_object_get(res, "doc"));
	json_decref(res);
	return MSG_EX_OK;
}
