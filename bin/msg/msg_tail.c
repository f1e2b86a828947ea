/*
 * msg tail — routerd's event log as JSON Lines (or msgpack): the options
 * and the two output forms around msg_sub.c's subscription loop, which
 * with -f never ends, resumes after routerd drops or restarts without a
 * gap or a repeat, and flushes whenever it would wait, so "msg tail -f |
 * jq" sees each event at once.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "mp.h"
#include "msg.h"
#include "proto.h"
#include "rec.h"

/* {seq, ...record} as one msgpack map; times stay milliseconds. */
static void
emit_msgpack(uint64_t seq, const msgpack_object *r, void *arg)
{
	msgpack_sbuffer *sb = arg;
	msgpack_packer pk;
	uint32_t i, n = 1;

	for (i = 0; i < r->via.map.size; i++)
		if (!mp_streq(&r->via.map.ptr[i].key, "seq"))
			n++;
	sb->size = 0;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	mp_pack_cstr(&pk, "seq");
	msgpack_pack_uint64(&pk, seq);
	for (i = 0; i < r->via.map.size; i++)
		if (!mp_streq(&r->via.map.ptr[i].key, "seq")) {
			msgpack_pack_object(&pk, r->via.map.ptr[i].key);
			msgpack_pack_object(&pk, r->via.map.ptr[i].val);
		}
	msg_out_raw(sb->data, sb->size);
}

/* A non-negative integer option, or a usage error. */
static int64_t
num_arg(const char *opt, const char *v)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end != '\0' || n < 0) {
		msg_err("%s: not a non-negative number: %s", opt, v);
		msg_usage();
	}
	return n;
}

int
msg_tail(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "lines", required_argument, NULL, 'n' },
		{ "since", required_argument, NULL, 's' },
		{ "conv", required_argument, NULL, 'C' },
		{ "msgpack", no_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct msg_sub s;
	msgpack_sbuffer sb;
	int ch, mpk = 0, rc;

	memset(&s, 0, sizeof(s));
	s.since = -1;
	s.last = 10;
	while ((ch = getopt_long(argc, argv, "fn:h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			s.follow = 1;
			break;
		case 'n':
			s.last = num_arg("-n", optarg);
			break;
		case 's':
			s.since = num_arg("--since", optarg);
			break;
		case 'C':
			if (*optarg == '\0')
				msg_usage();
			s.conv = msg_conv_arg(optarg);
			break;
		case 'M':
			mpk = 1;
			break;
		default:
			msg_usage();
		}
	}
	if (optind != argc)
		msg_usage();
	if (s.since >= 0)
		s.last = -1;
	msgpack_sbuffer_init(&sb);
	s.emit = mpk ? emit_msgpack : msg_sub_json;
	s.arg = &sb;
	if (s.last == 0 && !s.follow) {
		/* nothing asked for */
		msgpack_sbuffer_destroy(&sb);
		return MSG_EX_OK;
	}
	rc = msg_sub_run(&s);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}
