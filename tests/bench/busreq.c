/*
 * busreq — one request on a parley socket, as a test writes it: the JSON
 * object given on the command line is sent as a frame (after the hello,
 * with a fresh "id" added), and the answer is printed as one JSON line.
 * Integration tests use it to send what `msg` never would (a file that
 * names an arbitrary spool entry, an "out" frame straight to a channel
 * daemon) as the throwaway agent users they attack with.
 *
 *   busreq -s SOCK [-w MS] JSON
 *
 * Exit 0 when the answer is ok, 1 when it carries err {code, msg}, 3 when
 * the socket could not be reached or gave no answer, 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "busc.h"
#include "frame.h"
#include "mp.h"
#include "rec.h"

static void __attribute__((noreturn))
usage(void)
{
	fputs("usage: busreq -s SOCK [-w MS] JSON\n", stderr);
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *path = NULL, *k;
	const msgpack_object *ans;
	struct busc c;
	struct fbuf fb;
	json_error_t je;
	json_t *req, *v, *out;
	char *line, code[64], why[512];
	long wait_ms = 10000;
	int64_t id;
	int ch, rc;

	while ((ch = getopt(argc, argv, "s:w:")) != -1) {
		switch (ch) {
		case 's': path = optarg; break;
		case 'w': wait_ms = strtol(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (path == NULL || optind != argc - 1 || wait_ms <= 0)
		usage();
	if ((req = json_loads(argv[optind], 0, &je)) == NULL ||
	    !json_is_object(req)) {
		fprintf(stderr, "busreq: not a JSON object: %s\n", je.text);
		return 2;
	}
	memset(&c, 0, sizeof(c));
	if (busc_open(&c, path, "busreq", (int)wait_ms) == -1) {
		fprintf(stderr, "busreq: %s: %s\n", path, c.err);
		busc_close(&c);
		return 3;
	}
	fbuf_init(&fb);
	id = busc_next_id(&c);
	json_object_del(req, "id");
	fbuf_begin(&fb, (uint32_t)json_object_size(req) + 1);
	mp_kv_int(&fb.pk, "id", id);
	json_object_foreach(req, k, v) {
		mp_pack_cstr(&fb.pk, k);
		if (rec_pack_json(&fb.pk, v) == -1) {
			fprintf(stderr, "busreq: cannot pack %s\n", k);
			return 2;
		}
	}
	if (busc_call(&c, &fb, id, &ans) == -1) {
		fprintf(stderr, "busreq: %s: %s\n", path, c.err);
		rc = 3;
		goto done;
	}
	rc = busc_answer_err(ans, code, sizeof(code), why, sizeof(why)) ? 1 : 0;
	if ((out = rec_to_json(ans)) != NULL &&
	    (line = json_dumps(out, JSON_COMPACT)) != NULL) {
		printf("%s\n", line);
		free(line);
	}
	json_decref(out);
done:
	fbuf_free(&fb);
	busc_close(&c);
	json_decref(req);
	return rc;
}
