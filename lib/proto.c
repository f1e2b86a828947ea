/*
 * proto — map frame type names to the enum and back.
 */
#include <stddef.h>

#include "mp.h"
#include "proto.h"

static const char *names[] = {
	[PT_UNKNOWN] = "?", [PT_HELLO] = "hello", [PT_PING] = "ping",
	[PT_IN] = "in", [PT_ST] = "st", [PT_SEND] = "send", [PT_OUT] = "out",
	[PT_SUB] = "sub", [PT_EV] = "ev", [PT_EOF] = "eof",
	[PT_INBOX] = "inbox", [PT_SLOW] = "slow", [PT_CFG] = "cfg",
	[PT_PURGE] = "purge", [PT_STATUS] = "status", [PT_CLAIM] = "claim",
	[PT_CLOSE] = "close", [PT_TRANSFER] = "transfer", [PT_MODE] = "mode",
	[PT_TAG] = "tag", [PT_ATTENTION] = "attention", [PT_OPTOUT] = "optout",
	[PT_HISTORY] = "history", [PT_SEARCH] = "search", [PT_ROUTE] = "route",
	[PT_WINDOW] = "window", [PT_BOT] = "bot",
	[PT_CHSTATUS] = "chstatus", [PT_CHTOKEN] = "chtoken",
};

enum proto_type
proto_type(const msgpack_object *f)
{
	const msgpack_object *t = mp_get(f, "t");
	size_t i;

	if (t == NULL)
		return PT_UNKNOWN;
	for (i = 1; i < sizeof(names) / sizeof(names[0]); i++)
		if (mp_streq(t, names[i]))
			return (enum proto_type)i;
	return PT_UNKNOWN;
}

const char *
proto_name(enum proto_type t)
{
	if ((size_t)t >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[t];
}
