/*
 * msg optout — record a contact's consent by hand: the customer asked an
 * agent, by phone or e-mail, to stop (or to start again).  routerd keeps
 * consent per channel and contact, exactly as when the customer replies
 * STOP; from then on every outbound path refuses to send to them
 * (msg-optout(1)).  One request, answered after the commit.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "mp.h"
#include "msg.h"
#include "rec.h"

int
msg_optout(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "channel", required_argument, NULL, 'C' },
		{ "in", no_argument, NULL, 'i' },
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *channel = "sms", *reason = NULL, *contact;
	const msgpack_object *ans;
	struct busc c;
	struct fbuf fb;
	json_t *j;
	char *line, why[512];
	int64_t id;
	int ch, optin = 0, optout = 1;

	while ((ch = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'C':
			channel = optarg;
			break;
		case 'i':
			optin = 1;
			break;
		case 'r':
			reason = optarg;
			break;
		default:
			msg_usage();
		}
	}
	if (argc - optind != 1 || argv[optind][0] == '\0')
		msg_usage();
	contact = argv[optind];
	if (strcmp(channel, "sms") != 0 && strcmp(channel, "whatsapp") != 0 &&
	    strcmp(channel, "messenger") != 0 &&
	    strcmp(channel, "instagram") != 0) {
		msg_err("--channel must be sms, whatsapp, messenger or "
		    "instagram");
		msg_usage();
	}

	msg_connect_or_die(&c, "routerd");
	id = busc_next_id(&c);
	fbuf_init(&fb);
	fbuf_begin(&fb, 5 + (reason != NULL));
	mp_kv_str(&fb.pk, "t", "optout");
	mp_kv_int(&fb.pk, "id", id);
	mp_kv_str(&fb.pk, "contact", contact);
	mp_kv_str(&fb.pk, "channel", channel);
	mp_kv_bool(&fb.pk, "in", optin);
	if (reason)
		mp_kv_str(&fb.pk, "reason", reason);
	if (busc_call(&c, &fb, id, &ans) == -1)
		msg_die(MSG_EX_UNREACH, "routerd: %s", c.err);
	fbuf_free(&fb);
	if (msg_answer_err(ans, why, sizeof(why))) {
		/* routerd names the request: "optout: ..." */
		if (strncmp(why, "optout: ", 8) == 0)
			memmove(why, why + 8, strlen(why + 8) + 1);
		msg_die(MSG_EX_REFUSED, "%s", why);
	}
	mp_bool(ans, "optout", &optout);
	if (msg_stdout_tty()) {
		printf("%s %s %s messages\n", contact, optout ?
		    "opted out of" : "opted back in to", channel);
	} else {
		if ((j = rec_to_json(ans)) == NULL)
			msg_die(MSG_EX_UNREACH, "routerd: unreadable answer");
		json_object_del(j, "re");
		json_object_del(j, "ok");
		if ((line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER))
		    == NULL)
			msg_die(MSG_EX_REFUSED, "out of memory");
		msg_out_line(line);
		free(line);
		json_decref(j);
	}
	busc_close(&c);
	msg_out_flush();
	return MSG_EX_OK;
}
