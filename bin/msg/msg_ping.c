/*
 * msg ping — is a daemon there?  Connects to $PARLEY_HOME/run/DAEMON.sock,
 * says hello and sends a ping; exit 0 when it answers, 3 when not.  With
 * -w SECS it keeps trying until then, which is how scripts wait for a
 * freshly started stack to be ready.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "mp.h"
#include "msg.h"

/* One try: 0 and *seq (or -1 when none) on an answer, -1 with why. */
static int
ping_once(const char *daemon, int timeout_ms, int64_t *seq, char *why,
    size_t whysz)
{
	const msgpack_object *ans;
	struct busc c;
	struct fbuf fb;
	const char *err;
	char reason[256];
	int64_t id;
	int rc = -1;

	if (msg_connect(&c, daemon, timeout_ms, &err) == -1) {
		snprintf(why, whysz, "%s", err);
		return -1;
	}
	fbuf_init(&fb);
	id = busc_next_id(&c);
	fbuf_begin(&fb, 2);
	mp_kv_str(&fb.pk, "t", "ping");
	mp_kv_int(&fb.pk, "id", id);
	if (busc_call(&c, &fb, id, &ans) == -1)
		snprintf(why, whysz, "%s", c.err);
	else if (msg_answer_err(ans, reason, sizeof(reason)))
		snprintf(why, whysz, "ping refused: %s", reason);
	else {
		if (!mp_int(ans, "seq", seq))
			*seq = -1;
		rc = 0;
	}
	fbuf_free(&fb);
	busc_close(&c);
	return rc;
}

static int
daemon_name_ok(const char *s)
{
	size_t i;

	if (*s == '\0' || strlen(s) > 32)
		return 0;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		    s[i] == '-'))
			return 0;
	return 1;
}

int
msg_ping(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *daemon = "routerd";
	char why[512], *end;
	long long deadline, left;
	double wait = 0;
	int64_t seq;
	int ch, quiet = 0, pause = 50;

	while ((ch = getopt_long(argc, argv, "qw:h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			quiet = 1;
			break;
		case 'w':
			errno = 0;
			wait = strtod(optarg, &end);
			if (errno || end == optarg || *end != '\0' ||
			    !(wait >= 0 && wait <= 86400)) {
				msg_err("-w: not a number of seconds: %s",
				    optarg);
				msg_usage();
			}
			break;
		default:
			msg_usage();
		}
	}
	if (argc - optind > 1)
		msg_usage();
	if (argc - optind == 1)
		daemon = argv[optind];
	if (!daemon_name_ok(daemon)) {
		msg_err("not a daemon name: %s", daemon);
		msg_usage();
	}
	deadline = daemon_mono_ms() + (long long)(wait * 1000);
	for (;;) {
		left = deadline - daemon_mono_ms();
		if (ping_once(daemon, left > 5000 ? (int)left : 5000, &seq,
		    why, sizeof(why)) == 0)
			break;
		if ((left = deadline - daemon_mono_ms()) <= 0) {
			if (!quiet)
				msg_err("%s: %s", daemon, why);
			return MSG_EX_UNREACH;
		}
		{
			struct timespec ts;
			int ms = pause < left ? pause : (int)left;

			ts.tv_sec = ms / 1000;
			ts.tv_nsec = (long)(ms % 1000) * 1000000;
			while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
				;
		}
		if (pause < 1000)
			pause *= 2;
	}
	if (!quiet) {
		if (seq >= 0)
			printf("%s: ok (seq %lld)\n", daemon, (long long)seq);
		else
			printf("%s: ok\n", daemon);
	}
	return MSG_EX_OK;
}
