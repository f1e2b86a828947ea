/*
 * proto — map frame type names to the enum and back, and say who may send
 * each (one table, applied by every daemon's frame dispatcher).
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
	[PT_WINDOW] = "window", [PT_BOT] = "bot", [PT_CONV] = "conv",
	[PT_QA] = "qa",
	[PT_CHSTATUS] = "chstatus", [PT_CHTOKEN] = "chtoken",
	[PT_REPORT] = "report", [PT_REBUILD] = "rebuild",
	[PT_CSEND] = "csend",
	[PT_SUPPRESS] = "suppress",
};

static const enum proto_peer peers[] = {
	[PT_UNKNOWN] = PP_PERSON, [PT_HELLO] = PP_ANY, [PT_PING] = PP_ANY,
	/* what only a channel daemon says: a customer wrote, a status */
	[PT_IN] = PP_DAEMON, [PT_ST] = PP_DAEMON,
	/* work for a channel daemon comes from routerd alone */
	[PT_OUT] = PP_DAEMON,
	/* campaignd deleting a campaign's conversations */
	[PT_PURGE] = PP_DAEMON,
	/* pushes that only a daemon sends, never requests */
	[PT_EV] = PP_DAEMON, [PT_EOF] = PP_DAEMON, [PT_SLOW] = PP_DAEMON,
	[PT_SEND] = PP_PERSON, [PT_SUB] = PP_PERSON, [PT_INBOX] = PP_PERSON,
	[PT_CFG] = PP_PERSON, [PT_STATUS] = PP_PERSON, [PT_CLAIM] = PP_PERSON,
	[PT_CLOSE] = PP_PERSON, [PT_TRANSFER] = PP_PERSON,
	[PT_MODE] = PP_PERSON, [PT_TAG] = PP_PERSON,
	[PT_ATTENTION] = PP_PERSON, [PT_OPTOUT] = PP_PERSON,
	[PT_HISTORY] = PP_PERSON, [PT_SEARCH] = PP_PERSON,
	[PT_ROUTE] = PP_PERSON, [PT_WINDOW] = PP_PERSON, [PT_BOT] = PP_PERSON,
	[PT_CONV] = PP_PERSON, [PT_QA] = PP_PERSON,
	[PT_CHSTATUS] = PP_ANY, [PT_CHTOKEN] = PP_ADMIN,
	/* statsd: reports for supervisors (checked per request), a rebuild */
	[PT_REPORT] = PP_PERSON, [PT_REBUILD] = PP_ADMIN,
	[PT_CSEND] = PP_DAEMON,
	/* campaignd asking which recipients routerd would refuse */
	[PT_SUPPRESS] = PP_DAEMON,
};

enum proto_peer
proto_peer(enum proto_type t)
{
	if ((size_t)t >= sizeof(peers) / sizeof(peers[0]))
		return PP_DAEMON;
	return peers[t];
}

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
