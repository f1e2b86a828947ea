/*
 * t_botrule — which event records are a bot's to answer (lib/parley/bot.c), the
 * rule routerd's pending list and msg bot's live feed share: inbound, bot
 * mode, routed, the campaign asked for, not a consent keyword; and the
 * events after which earlier messages are no longer the bot's.  TAP output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <msgpack.h>

#include "bot.h"
#include "rec.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

/* The record written as JSON, packed and unpacked; freed by done(). */
static msgpack_sbuffer sb;
static msgpack_unpacked up;

static const msgpack_object *
rec(const char *json)
{
	msgpack_packer pk;
	json_t *j;
	size_t off = 0;

	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if ((j = json_loads(json, 0, NULL)) == NULL ||
	    rec_pack_json(&pk, j) == -1) {
		fprintf(stderr, "bad test record %s\n", json);
		exit(1);
	}
	json_decref(j);
	msgpack_unpacked_destroy(&up);
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, sb.data, sb.size, &off) !=
	    MSGPACK_UNPACK_SUCCESS)
		exit(1);
	return &up.data;
}

#define IN(extra) "{\"type\":\"message\",\"dir\":\"in\",\"mode\":\"bot\"," \
	"\"campaign\":\"faq\",\"channel\":\"sms\"" extra "}"

int
main(void)
{
	msgpack_sbuffer_init(&sb);
	msgpack_unpacked_init(&up);

	ok(bot_eligible(rec(IN(",\"text\":\"where is my order?\"")), NULL),
	    "an inbound bot-mode message is the bot's");
	ok(bot_eligible(rec(IN(",\"text\":\"hi\"")), "faq"),
	    "... of the campaign asked for");
	ok(!bot_eligible(rec(IN(",\"text\":\"hi\"")), "sales"),
	    "... and not another campaign's");
	ok(bot_eligible(rec(IN(",\"text\":\"hi\",\"routed\":true")), "faq"),
	    "routed: true is the bot's");
	ok(!bot_eligible(rec(IN(",\"text\":\"hi\",\"routed\":false")), "faq"),
	    "a message policy held back (routed: false) is not");
	ok(!bot_eligible(rec(IN(",\"text\":\"STOP\"")), NULL) &&
	    !bot_eligible(rec(IN(",\"text\":\"help\"")), NULL),
	    "consent keywords are policy's, not the bot's");
	ok(bot_eligible(rec(IN("")), NULL),
	    "a message without text (a file) is the bot's");
	ok(!bot_eligible(rec("{\"type\":\"message\",\"dir\":\"out\","
	    "\"mode\":\"bot\",\"campaign\":\"faq\",\"text\":\"hi\"}"), NULL),
	    "an outbound message is not");
	ok(!bot_eligible(rec("{\"type\":\"message\",\"dir\":\"in\","
	    "\"mode\":\"agent\",\"campaign\":\"faq\",\"text\":\"hi\"}"), NULL),
	    "an agent-mode message is not");
	ok(!bot_eligible(rec("{\"type\":\"status\",\"dir\":\"in\","
	    "\"mode\":\"bot\"}"), NULL), "a status event is not");

	ok(bot_boundary(rec("{\"type\":\"mode\",\"mode\":\"agent\"}")) &&
	    bot_boundary(rec("{\"type\":\"close\"}")) &&
	    bot_boundary(rec("{\"type\":\"transfer\"}")) &&
	    bot_boundary(rec("{\"type\":\"conv\"}")),
	    "mode, close, transfer and conv end the bot's stretch");
	ok(bot_boundary(rec("{\"type\":\"idk\",\"action\":\"agent\"}")),
	    "an IDK handed to agents ends it");
	ok(!bot_boundary(rec("{\"type\":\"idk\",\"action\":\"custom\"}")),
	    "an IDK answered with the custom response does not");
	ok(!bot_boundary(rec(IN(",\"text\":\"hi\""))) &&
	    !bot_boundary(rec("{\"type\":\"tag\"}")),
	    "messages and tags do not");

	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
