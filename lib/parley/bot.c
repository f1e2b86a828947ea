/*
 * bot — the one rule for which inbound messages a bot answers (bot.h), used
 * by routerd's pending list and msg bot's live feed alike.
 */
#include <stddef.h>

#include "bot.h"
#include "mp.h"
#include "optout.h"

int
bot_eligible(const msgpack_object *r, const char *campaign)
{
	const char *text = "";
	size_t tl = 0;
	char channel[16] = "";
	int routed = 1;

	if (!mp_str_is(r, "type", "message") ||
	    !mp_str_is(r, "dir", "in") ||
	    !mp_str_is(r, "mode", "bot") ||
	    (campaign != NULL && !mp_str_is(r, "campaign", campaign)))
		return 0;
	if (mp_bool(r, "routed", &routed) && !routed)
		return 0;
	mp_strcpy(r, "channel", channel, sizeof(channel));
	mp_str(r, "text", &text, &tl);
	return optout_classify(channel, text, tl, NULL, NULL) == OPT_NONE;
}

int
bot_boundary(const msgpack_object *r)
{
	if (mp_str_is(r, "type", "idk"))
		return !mp_str_is(r, "action", "custom");
	return mp_str_is(r, "type", "mode") || mp_str_is(r, "type", "close") ||
	    mp_str_is(r, "type", "conv") || mp_str_is(r, "type", "transfer");
}
