/*
 * bot — which events of the log are a bot's to answer.  routerd decides it
 * when it lists a bot's pending messages and records its answers; msg bot
 * decides it when it feeds the bot program from the live log.  Both must
 * agree, or a message is answered twice or never, so the rule is here once.
 * Pure: it reads one event record (a msgpack map); no I/O.
 */
#ifndef PARLEY_BOT_H
#define PARLEY_BOT_H

#include <msgpack.h>

/*
 * 1 if event record r is a message the bot is to answer: an inbound
 * message of a bot-mode conversation that was routed (not held back by
 * policy), and not a consent keyword (STOP, HELP and their kin, which
 * routerd's policy answers itself).  campaign, when not NULL, must be the
 * record's campaign too.
 */
int	bot_eligible(const msgpack_object *r, const char *campaign);
/*
 * 1 if event record r ends a stretch of bot work in its conversation: what
 * came before a mode switch, a close, a transfer or a new conversation, or
 * an IDK that hands the conversation to agents, is never the bot's to
 * answer later.  An IDK answered with the campaign's custom response keeps
 * the conversation with the bot, so it is no boundary.
 */
int	bot_boundary(const msgpack_object *r);

#endif
