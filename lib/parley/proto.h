/*
 * proto — the frame types of parley's bus, in one place, next to the
 * protocol version that changes with them.  parley-proto(7) is the contract.
 *
 * Every frame is a msgpack map (see frame.h) with "t" naming its type.
 * Requests carry "id" (client-chosen integer); the answer carries "re" = that
 * id and either "ok": true plus fields, or "err": {"code": str, "msg": str}.
 *
 *   hello       {t,id,v,name}                 -> {re,ok,v,name}   (sent by bus clients on connect)
 *   ping        {t,id}                        -> {re,ok,seq}
 *   in          {t,id,channel,pid,from,to,ts,text?,name?,type?,media?}
 *               inbound message from a channel daemon -> {re,ok,conv,msg,dup}
 *               answered only after the commit
 *   st          {t,id,channel,pid,status,code?,reason?,ts}
 *               provider status callback          -> {re,ok,msg?,dup}
 *   send        {t,id,text,conv? | to,from,channel?,key?}
 *               outbound from msg / bots          -> {re,ok,conv,msg}  after "queued" is committed
 *   out         {t,id,msg,channel,from,to,text}  routerd -> channel daemon
 *                                                 -> {re,ok,pid} or {re,err:{code,msg}}
 *   sub         {t,id,since?,last?,conv?,follow} -> {re,ok,seq}, then
 *   ev          {t,seq,r:{record}}              one per event, then, when follow is false,
 *   eof         {t,seq}                         end of the backlog
 *   inbox       {t,id,limit?,after?}            -> {re,ok,more,convs:[{conv,channel,contact,...}]}
 *   cfg         {t,id,kind,op,name?,...}       msg -> campaignd: configuration (parley-proto(7))
 *   purge       {t,id,campaign}                campaignd -> routerd: delete a campaign's conversations
 *               -> {re,ok,convs,events}
 *   csend       {t,id,campaign,key,to,from,channel?,text?,template?}
 *               campaignd -> routerd: one recipient of a campaign run, the key
 *               its run and recipient      -> {re,ok,conv,msg,dup}
 *   (a subscriber whose queue stays full is sent {t:"slow",seq} and dropped; it resumes with since = seq + 1)
 */
#ifndef PARLEY_PROTO_H
#define PARLEY_PROTO_H

#define PROTO_VERSION	1

/*
 * Limits on what a frame may carry, enforced alike by every program that
 * checks them (msg before it asks, routerd when it stores, the channel
 * daemons before they call a provider); parley-proto(7), LIMITS.
 */
#define PROTO_TEXT_MAX		(64 * 1024)	/* bytes of one message's text */
#define PROTO_SMS_CHARS_MAX	1600	/* characters of an SMS body: Twilio's
					   limit on a concatenated body */
#define PROTO_TPL_PARAMS_MAX	32	/* body parameters of a WhatsApp
					   template */

enum proto_type {
	PT_UNKNOWN = 0,
	PT_HELLO,
	PT_PING,
	PT_IN,
	PT_ST,
	PT_SEND,
	PT_OUT,
	PT_SUB,
	PT_EV,
	PT_EOF,
	PT_INBOX,
	PT_SLOW,
	PT_CFG,
	PT_PURGE,
	/* agent work (issue 4) */
	PT_STATUS,	/* {t,id,status,reason?}            set the caller's state */
	PT_CLAIM,	/* {t,id,conv}                      take a waiting/offered conversation */
	PT_CLOSE,	/* {t,id,conv,disposition?}         close it */
	PT_TRANSFER,	/* {t,id,conv,agent?|campaign?}     hand it over */
	PT_MODE,	/* {t,id,conv,mode}                 bot|agent */
	PT_TAG,		/* {t,id,conv,add:[..],remove:[..]} */
	PT_ATTENTION,	/* {t,id,conv,on}                   needs-attention flag */
	PT_OPTOUT,	/* {t,id,contact,channel?,in?}      record consent by hand */
	PT_HISTORY,	/* {t,id,from?,to?,campaign?,agent?,contact?,tag?,after?,limit?} */
	PT_SEARCH,	/* {t,id,q}                         conversations by name or number */
	PT_ROUTE,	/* {t,id,conv}                      explain the routing decision */
	PT_WINDOW,	/* {t,id,within_ms}                 windows closing soon */
	PT_BOT,		/* {t,id,op,...}                    bot runner requests (routerd_bot.c) */
	PT_CONV,	/* {t,id,conv}                      a unique prefix of a conversation id -> {conv} */
	PT_QA,		/* {t,id,conv,model,answers,note?}  a quality score (routerd_qa.c) */
	/* channel daemons' sending addresses (whatsappd.sock) */
	PT_CHSTATUS,	/* {t,id} -> {channels:[{channel,addr,active,reason?,since?}]} */
	PT_CHTOKEN,	/* {t,id}                           re-read the access token */
	/* statsd.sock (statsd(8)) */
	PT_REPORT,	/* {t,id,from,to,by,campaign?,agent?,channel?,tz?} -> {report} */
	PT_REBUILD,	/* {t,id}                           replay the log into fresh rollups */
	/* outbound campaign runs (issue 14) */
	PT_CSEND,	/* {t,id,campaign,key,to,from,text|template} campaignd -> routerd:
			   a run's message to one recipient -> {re,ok,conv,msg,dup} */
	/* routerd.sock, from campaignd: outbound suppression, read-only */
	PT_SUPPRESS,	/* {t,id,channel,campaign,contacts:[..]} -> {items:[{contact,reason,why}]} */
};

/*
 * Who may send each frame (parley-proto(7), PEERS).  The peer is known from
 * SO_PEERCRED: "daemon" is the Unix user the daemons run as; "admin" here
 * is root or that user (the channel daemons open no LMDB, so they know no
 * agent roles); "person" frames come from anyone mapped to an agent, or a
 * daemon, and each handler then checks the caller's role and campaigns.
 */
enum proto_peer {
	PP_ANY = 0,	/* whoever reaches the socket: hello, ping, chstatus */
	PP_PERSON,	/* agents, supervisors, admins, daemons; checked per request */
	PP_DAEMON,	/* only the daemons' own user: in, st, out, purge */
	PP_ADMIN,	/* root or the daemons' own user: chtoken */
};

/* The type named by a frame's "t", or PT_UNKNOWN. */
#include <msgpack.h>
enum proto_type proto_type(const msgpack_object *frame);
const char *proto_name(enum proto_type);
/* Who may send frames of type t to a daemon. */
enum proto_peer proto_peer(enum proto_type t);

#endif
