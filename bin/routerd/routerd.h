/*
 * routerd — the conversation owner's modules, floor by floor.
 *
 * routerd reads top-down, as Postfix's qmgr does: request handlers call
 * down into the rules, the rules into the ground floor, the ground floor
 * into lib/; nothing below calls back up (the two places where something
 * arrives from below — a channel daemon's answer to a dispatch, a commit —
 * reach a handler through a hook main wires).
 *
 *   routerd.c            main, the wiring, one switch from frame to handler
 *
 *   handlers             routerd_in (inbound messages), routerd_send (the
 *                        one send path), routerd_status (provider status
 *                        callbacks), routerd_result (the channel daemons'
 *                        answers), routerd_work (what agents do: status,
 *                        claim, close, transfer, mode, tag, attention,
 *                        optout), routerd_query (inbox, history, search,
 *                        window, route: read-only), routerd_bot (msg bot;
 *                        its replies go through the send path),
 *                        routerd_sub (subscriptions), routerd_purge
 *
 *   rules                routerd_policy (the inbound and outbound
 *                        checkpoints) over routerd_consent (opt-out and
 *                        blacklist), routerd_hours (schedule, after hours),
 *                        routerd_canned (canned responses), routerd_files
 *                        (file policy); routerd_queue (queues, offers,
 *                        assignment, agents' live state); routerd_out
 *                        (templates, replies, spooled files);
 *                        routerd_dispatch (the pending queue and the
 *                        channel daemons)
 *
 *   ground floor         routerd_store (conversation and message records,
 *                        the event-log append, every key of routerd's
 *                        LMDB), routerd_campaign (campaignd's configuration,
 *                        read-only), routerd_auth (who is calling)
 *
 *   lib/                 store (group commit), held (answers after the
 *                        commit), bus (and its callers), evlog, htab, ...
 *
 * Every write is answered after the group commit through lib/held.
 * Conversation state, mode and channel are enums here; they are strings on
 * the wire and in stored records, converted by routerd_store.
 */
#ifndef ROUTERD_H
#define ROUTERD_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <lmdb.h>
#include <msgpack.h>

#include "bus.h"
#include "daemon.h"
#include "evlog.h"
#include "held.h"
#include "htab.h"
#include "store.h"

#define R_IDLEN		32
#define R_ADDRLEN	144	/* a WhatsApp BSUID: VALID_BSUID_MAX and NUL */
#define R_TEXT_MAX	65536		/* bytes of one message's text */
#define R_SMS_MAXCHARS	1600		/* Twilio's Body limit */
#define R_NEVER		INT64_MAX	/* no opening within the horizon */

/* The channels a conversation is on. */
enum chan { CH_SMS = 0, CH_WHATSAPP, CH_MESSENGER, CH_INSTAGRAM };
#define CH_N	4
/* Who answers a conversation. */
enum cmode { CM_AGENT = 0, CM_BOT };
/* Where a conversation is in routing. */
enum cstate { CS_NEW = 0, CS_WAITING, CS_OFFERED, CS_ASSIGNED, CS_BOT,
	CS_CLOSED };
/* A conversation is open or closed. */
enum cstatus { CV_OPEN = 0, CV_CLOSED };

/* Who is calling: from SO_PEERCRED through campaignd's agent records. */
enum rrole { RR_NONE = 0, RR_AGENT, RR_SUPERVISOR, RR_ADMIN };
struct who {
	enum rrole	role;
	char		agent[64];	/* "" for root and the daemons' user */
	int		resolved;
	size_t		gen;		/* campaignd's txn id when resolved */
};

/* A connected client; outlives its connection while answers wait on it. */
struct rclient {
	struct bus_caller	 bc;		/* first: lib/bus allocates it;
						   bc.c is NULL once gone */
	struct who		 who;
	/* subscription */
	int			 sub;		/* subscribed */
	int			 follow;
	int			 done;		/* eof sent */
	int64_t			 sub_id;	/* the sub request's id */
	uint64_t		 next;		/* next seq to send */
	char			 conv[R_IDLEN];	/* filter, or "" */
	long long		 stuck_since;	/* ms output full, 0 if not */
	char			 vis_camp[16][64];	/* campaigns checked */
	signed char		 vis_ok[16];
	int			 vis_n;
	TAILQ_ENTRY(rclient)	 entry;
};
TAILQ_HEAD(rclients, rclient);

struct conv {
	char		id[R_IDLEN];
	enum chan	channel;
	char		addr[R_ADDRLEN];	/* ours */
	char		contact[R_ADDRLEN];	/* the customer's */
	char		campaign[64];
	char		name[128];
	enum cstatus	status;
	char		last_dir[4];
	char		last_text[256];
	char		unrouted[128];		/* why it is not routed, or "" */
	int64_t		opened_ts, last_ts, waiting_since;
	/* routing */
	enum cmode	mode;
	enum cstate	rstate;
	char		agent[64];		/* assigned agent, or "" */
	char		tags[400];		/* up to 3, comma-separated */
	char		disposition[200];
	int		priority;		/* higher first */
	int		attention;		/* needs attention */
	int64_t		queued_ts;		/* entered the queue (FIFO order) */
	int64_t		last_in_ts;		/* the customer's last message */
	int64_t		ah_until;		/* after-hours reply sent for the
						   period ending then */
	int64_t		closed_ts;
	/* the queue entry that began at queued_ts: its first agent reply,
	 * or its abandonment at the dropout threshold (0 while neither) */
	int64_t		answered_ts, abandoned_ts;
	int		entry_unlogged;		/* the entry began before routerd
						   logged answers: it logs none */
};

/* A message as kept for dispatch and status updates. */
struct mrec {
	char		 id[R_IDLEN];
	char		 conv[R_IDLEN];
	char		 dir[4];
	enum chan	 channel;
	char		 from[R_ADDRLEN];
	char		 to[R_ADDRLEN];
	char		 state[16];
	char		 pid[128];
	int64_t		 ts;
	int		 attempt;	/* pending, retrying: the attempt */
	int64_t		 next_ts;	/* retrying: next try, ms */
	char		*text;		/* malloc'd by rs_mrec_get */
	size_t		 textlen;
};

/* An agent's live state: in routerd_queue's table, saved in the store. */
struct agent {
	struct htab_node hn;
	char		 name[64];
	char		 status[64];	/* catalogue name */
	int		 kind;		/* ROUTE_AVAILABLE ... */
	char		 reason[128];
	int64_t		 since;
	int64_t		 last_ts;
	int64_t		 wrapup_until;
	int		 taken;
	int		 active;	/* assigned conversations (derived) */
};

/* A contact's consent on a channel, as recorded. */
struct consent {
	int	optout;
	int64_t	ts;
	char	keyword[33];
	char	by[64];
};

/* A campaign's settings as routerd needs them (from campaignd's document). */
struct camp {
	char	name[64];
	int	exists, enabled;
	char	strategy[16];
	int	max_interactions;
	int	offer_timeout_s;
	int	wrapup_s;
	enum cmode operator_;		/* who answers its conversations */
	char	idk_mode[8];		/* "custom" or "agent" */
	char	idk_message[1024];
	char	timezone[64];
	char	after_hours_message[1024];
	int	disposition_required;
	int	files_enabled, files_library, files_local;
	int	response_threshold_s;	/* service_level.response_threshold_s */
	int	sl_s;			/* thresholds.service_level_s */
	int	dropout_s;		/* thresholds.dropout_s */
	char	state[16];		/* draft, scheduled, active, archived */
};

struct routerd {
	struct daemon		 d;
	struct store		*st;
	struct evlog		 log;
	struct bus_server	*srv;
	struct rclients		 subs;
	size_t			 sub_queue;	/* subscriber_queue_kb, bytes */
	long long		 sub_stall_ms;	/* subscriber_stall_ms */
	struct event		*ev_tick;
	struct event		*ev_attn;	/* work_attention_tick */
};

extern struct routerd *R;

/* ================================================================ handlers */

/* routerd_in.c: {t:"in"}, a customer's message from a channel daemon. */
void	in_request(struct rclient *, const msgpack_object *);

/* routerd_send.c: the one send path. */
/* {t:"send"} from a client: its "bot" is ignored, its key its own. */
void	send_request(struct rclient *, const msgpack_object *);
/* A send routerd makes itself (the bot's answers): text on conv as a bot,
 * under routerd's own key; answered on cl's request re like a send. */
void	send_as_bot(struct rclient *, int64_t re, const char *conv,
	    const char *text, size_t len, const char *key);

/* {t:"csend"} from campaignd: one recipient of a campaign run. */
void	send_campaign(struct rclient *, const msgpack_object *);

/* routerd_status.c: {t:"st"}, a provider's status callback. */
void	status_request(struct rclient *, const msgpack_object *);

/* routerd_result.c: a channel daemon answered the dispatch of msgid: pid
 * when sent, or the provider's code and reason (dispatch_init's hook). */
void	result_record(const char *msgid, const char *pid, const char *code,
	    const char *reason);
/* m (outbound) is known as m->pid now: the statuses kept for that pid
 * before it was known are applied (routerd_status's echo of our own send
 * calls it too).  0 or an mdb error. */
int	result_orphans(MDB_txn *, struct mrec *m);

/* routerd_work.c: what agents do to conversations (each a write). */
void	work_status(struct rclient *, const msgpack_object *);
void	work_claim(struct rclient *, const msgpack_object *);
void	work_close(struct rclient *, const msgpack_object *);
void	work_transfer(struct rclient *, const msgpack_object *);
void	work_mode(struct rclient *, const msgpack_object *);
void	work_tag(struct rclient *, const msgpack_object *);
void	work_attention(struct rclient *, const msgpack_object *);
void	work_optout(struct rclient *, const msgpack_object *);
/* Mark needs attention the open agent-mode conversations whose customer
 * wrote last and got no answer within the campaign's response threshold
 * (looked for every few seconds; one "attention" event each). */
void	work_attention_tick(void);

/* routerd_attn.c: the conversations that may come to need attention, per
 * campaign by waiting_since (the automatic mark's ordered index). */
/* 1 when cv may come to need attention: open, agent-operated, routed,
 * not marked, its customer waiting. */
int	attn_candidate(const struct conv *);
/* cv was put: indexed when a candidate (an entry keeps its earliest wait;
 * nothing leaves on a put).  Nothing while the index is not loaded. */
void	attn_note(const struct conv *);
/* Take out at most max ids whose wait is past their campaign's response
 * threshold at now (ms), oldest first per campaign; how many. */
size_t	attn_take(long long now, char (*ids)[R_IDLEN], size_t max);
size_t	attn_count(void);		/* entries held */
int	attn_loaded(void);
/* Empty the index; load: it is being filled (attn_note takes entries),
 * else it waits to be filled by one walk of the store. */
void	attn_reset(int load);
/* An agent answered cv: a needs-attention mark leaves (its event); the
 * caller puts cv.  0 or an mdb error. */
int	work_answered(MDB_txn *, struct conv *, const char *agent);

/* routerd_query.c: the read-only queries. */
void	query_inbox(struct rclient *, const msgpack_object *);
void	query_history(struct rclient *, const msgpack_object *);
void	query_search(struct rclient *, const msgpack_object *);
void	query_window(struct rclient *, const msgpack_object *);
void	query_route(struct rclient *, const msgpack_object *);
/* {t:"conv", id, conv: prefix} -> {conv}: a unique prefix resolved. */
void	query_conv(struct rclient *, const msgpack_object *);

/* routerd_bot.c: {t:"bot"}, what msg bot asks. */
void	bot_request(struct rclient *, const msgpack_object *);

/* routerd_sub.c: subscriptions to the event log. */
void	sub_request(struct rclient *, const msgpack_object *);
/* Feed cl what it has not seen, as far as its output allows. */
void	sub_pump(struct rclient *);
/* After a commit: feed every subscriber. */
void	sub_publish(void);
/* Once a second: drop stalled subscribers and those whose role changed. */
void	sub_tick(void);

/* routerd_qa.c: {t:"qa"}, a supervisor's quality score of a closed
 * conversation against a quality model: a "qa" event. */
void	qa_request(struct rclient *, const msgpack_object *);

/* routerd_purge.c: {t:"purge"}, campaignd deleted a campaign. */
void	purge_request(struct rclient *, const msgpack_object *);

/* =================================================================== rules */

/* routerd_policy.c: the checkpoints every message passes. */
#define POL_NOROUTE	0x01	/* blocked, or an opt-out/help keyword */
#define POL_CLOSED	0x02	/* outside hours: waits for the opening */
/* After an inbound message m of cv is stored in txn: blacklist, keywords,
 * after-hours; may append events and queue replies.  POL_* flags, or -1
 * with an mdb error in *rc. */
int	policy_inbound(MDB_txn *, struct conv *, const struct mrec *,
	    int *rc);
/*
 * May this outbound text go to cv's contact now?  0: yes (a canned
 * response expanded into *out, malloc'd, else NULL; a Messenger tag in
 * *tag).  -1: refused; a "refused" event with the reason is appended in
 * txn and why says it (one line); *rc set on a store error.  human: sent
 * by a person.
 */
int	policy_outbound(MDB_txn *, const struct who *, struct conv *,
	    const char *text, size_t len, int human, const char *template_name,
	    char **out, const char **tag, char *why, size_t whysz, int *rc);
/* May this file ({name, mime, size, source}) or these media ([{url,
 * mime?}]) go on cv's channel?  0, or -1 refused as policy_outbound. */
int	policy_file(MDB_txn *, const struct who *, struct conv *,
	    const msgpack_object *file, const msgpack_object *media,
	    char *why, size_t whysz, int *rc);

/* routerd_consent.c: opt-out, opt-in and the blacklist. */
/* Record a consent change and its "optout"/"optin" event (under conv when
 * there is one); 0 or an mdb error. */
int	consent_record(MDB_txn *, const char *conv, const char *campaign,
	    enum chan, const char *contact, int optout, const char *keyword,
	    const char *by, const char *reason);
/* Why cv's contact may not be written to (opted out, blacklisted): 1 and
 * why, 0 when they may, -1 with *rc on a store error. */
int	consent_refuses(MDB_txn *, const struct conv *, char *why,
	    size_t whysz, int *rc);
/*
 * {t:"suppress", id, channel, campaign, contacts:[at most SUPPRESS_MAX]}
 * from campaignd (outbound preview and dry run): which contacts a message
 * of campaign on channel would not reach, through consent_refuses (the one
 * path of every send) plus the number check: {items:[{contact, reason
 * "opted_out"|"blacklisted"|"invalid_number", why}]} for those only.
 * Read-only.
 */
#define SUPPRESS_MAX	1000
void	suppress_request(struct rclient *, const msgpack_object *);
/* Is cv's contact blacklisted (for its campaign or all)?  1 with the
 * reason and scope ("*" or the campaign), or 0. */
int	consent_blacklisted(const struct conv *, char *reason, size_t rsz,
	    char *scope, size_t ssz);
/* Inbound from a blacklisted contact: the "blocked" event, cv marked not
 * routed, campaignd told after the commit.  0 or an mdb error. */
int	consent_blocked(MDB_txn *, struct conv *, const struct mrec *,
	    const char *reason, const char *scope);
/* A whole-message keyword in m (STOP, START, HELP and the configured
 * ones): opt-outs and opt-ins recorded; the reply to send (or "") and why
 * ("optout", "optin", "help") out.  1 when m was a keyword, 0 when not, -1
 * with *rc on a store error. */
int	consent_keyword(MDB_txn *, struct conv *, const struct mrec *,
	    const char **reply, const char **why, int *rc);
/* The first conversation with contact on ch that w may see: its id and
 * campaign out; 1, 0 when none, or -1 with *rc. */
int	consent_find_conv(MDB_txn *, const struct who *, enum chan,
	    const char *contact, char *conv, char *campaign, size_t campsz,
	    int *rc);
/* Who did it, as recorded: the agent, "admin" or "parley". */
const char *consent_by(const struct who *);

/* routerd_hours.c: schedules, holidays and the after-hours reply. */
/* Is campaign open at now?  1/0; the next opening (or R_NEVER) in *next. */
int	hours_open(const char *campaign, long long now, long long *next);
/* cv's customer wrote while its campaign is closed until next: the
 * "after_hours" event; the message to send into reply, "" when there is
 * none or it went already this period.  0 or an mdb error. */
int	hours_after(MDB_txn *, struct conv *, long long next, char *reply,
	    size_t replysz);

/* routerd_canned.c: "/snippet" canned responses. */
/* Expand text when it is a canned response: 1 and *out (malloc'd), 0 when
 * it is not one, -1 with why. */
int	canned_expand(const struct who *, const struct conv *,
	    const char *text, char **out, char *why, size_t whysz);

/* A text template (campaignd's "templates") assigned to cv's campaign, its
 * placeholders filled, into *out (malloc'd); 0, or -1 with why. */
int	canned_template(const struct who *, const struct conv *,
	    const char *name, char **out, char *why, size_t whysz);

/* routerd_files.c: the campaign's file policy and the channel's limits. */
/* 0: file or media may go; -1 with why. */
int	files_check(const struct conv *, const msgpack_object *file,
	    const msgpack_object *media, char *why, size_t whysz);

/* routerd_queue.c: queues, offers (leases), assignment, agents' state. */
/* Find cv (channel, our addr, contact) or open it in the campaign that
 * owns addr, in its operator's mode, with its "conv" event. */
int	queue_conv(MDB_txn *, enum chan, const char *addr,
	    const char *contact, long long ts, struct conv *);
/* A closed cv is written to again: open, back in its campaign's mode. */
void	queue_reopen(struct conv *);
/* Put cv in its campaign's queue (waiting); routed at the end of the pass. */
int	queue_enqueue(MDB_txn *, struct conv *);
/* Take cv out of the queue (assigned, closed, bot mode). */
int	queue_dequeue(MDB_txn *, struct conv *);
/* Give cv to agent (claim, reply, transfer); events appended; 0 or rc. */
int	queue_assign(MDB_txn *, struct conv *, const char *agent,
	    const char *via);
/* An agent's reply msgid to cv at ts: the first of cv's queue entry
 * answers it (its "answer" event; the caller puts cv).  0 or rc. */
int	queue_answered(MDB_txn *, struct conv *, const char *agent,
	    const char *msgid, long long ts);
/* cv is closed or handed away: free its agent's slot (wrapup: the
 * campaign's wrap-up time starts). */
int	queue_release(MDB_txn *, struct conv *, int wrapup);
/* Hand cv to the agents (IDK, mode agent): mode agent, enqueued. */
int	queue_to_agents(MDB_txn *, struct conv *, int attention,
	    const char *why);
/* The agent's live state (created offline when create). */
struct agent *queue_agent(const char *name, int create);
/* An agent's status changed: saved, its "agent" event appended. */
int	queue_agent_status(MDB_txn *, struct agent *, const char *prev,
	    long long prev_ms);
/* Offers waiting for agent, and whether one is for conv. */
int	queue_offers(const char *agent, const char *conv, int *for_conv);
/* May agent take cv now (a claim, a reply that claims)?  Its assigned
 * conversations and the offers waiting for it (but cv's own) against the
 * campaign's max interactions: 0, or -1 with why ("at capacity (n of m
 * conversations...)"). */
int	queue_capacity(const char *agent, const struct conv *cv, char *why,
	    size_t whysz);
/* Route waiting conversations now (after commits, status changes). */
void	queue_pump(void);
/* Every few seconds: a campaign newly stopped (archived) gives its
 * conversations needing attention on reusable numbers to the numbers'
 * unsolicited settings (once per campaign). */
void	queue_ended_tick(void);
void	queue_init(void);
/* Once a second: lapsed offers, ended wrap-ups. */
void	queue_tick(void);
/* Why cv is where it is, and each member's eligibility, for msg route. */
#define QX_MAX	4096
struct queue_member {
	char	agent[64];
	int	position, penalty, status, active, max;
	long long metric;
	char	why[120];
	int	chosen;		/* the one agent it is (or goes) to */
	int	offered;	/* holds the live offer */
};
struct queue_explain {
	char			strategy[16];
	char			decision[300];
	size_t			n;
	struct queue_member	m[QX_MAX];
};
void	queue_explain(const struct conv *, struct queue_explain *);

/* routerd_out.c: what an outbound message carries besides its text. */
/* Check a template request {name, lang, header?, body?, buttons?} against
 * campaignd's WhatsApp template; pack "template" into pk, the rendered body
 * into *text (malloc'd), its name into tname.  0, or -1 with why.  On the
 * other channels {name} is a text template (canned_template) sent as plain
 * text: 1, nothing packed, the text in *text. */
int	out_template(const struct who *, const struct conv *,
	    const msgpack_object *tpl,
	    msgpack_packer *pk, char **text, char *tname, size_t tnamesz,
	    char *why, size_t whysz);
/* The provider id of message msgid, which must be in cv; 0 or -1 with why. */
int	out_reply_to(MDB_txn *, const struct conv *, const char *msgid,
	    char *pid, size_t pidsz, char *why, size_t whysz);
/* The whole mid of Messenger/Instagram message msgid of cv, whose pid is
 * folded ("~" and a hash; the mid is in its event's data.mid): 1 and mid,
 * or 0 when not found among cv's latest events. */
int	out_reply_mid(MDB_txn *, const struct conv *, const char *msgid,
	    char *mid, size_t midsz);
/* The name of file's copy in the spool ({spool: "f_<ULID>"}) into spool;
 * -1 when file names no well-formed spool entry. */
int	out_spool_name(const msgpack_object *file, char *spool,
	    size_t spoolsz);
/* The spool name of the file message msgid carried, or "". */
void	out_spool_of(MDB_txn *, const char *msgid, char *spool,
	    size_t spoolsz);
/* Remove file's copy in the spool if it is uid's own (lib/spool's checks);
 * an entry anyone else made stays. */
void	out_spool_drop(const msgpack_object *file, uid_t uid);
/* A spooled file {spool, name, mime, size} sent by uid: checked as uid's
 * own regular file in the spool (lib/spool), packed as "file" {spool, name,
 * mime, size, uid} into pk; 0 or -1 with why (never saying what the spool
 * entry was). */
int	out_file(const msgpack_object *file, uid_t uid, msgpack_packer *pk,
	    char *why, size_t whysz);

/* routerd_dispatch.c: the pending queue and the channel daemons. */
/* An outbound message to queue: its text and what its event says. */
struct outmsg {
	const char		*text;
	size_t			 len;
	const msgpack_object	*media;		/* clean [{url, mime?}] */
	const char		*template_name;
	const char		*file_name;
	const char		*reply_to;	/* our message id */
	const char		*key;		/* the client's key, as given */
	const char		*skey;		/* as stored (rs_skey), or NULL */
	const char		*agent;		/* who sends, or NULL */
	int			 bot;
	const char		*auto_;		/* routerd's own reply: why */
	const void		*extras;	/* what dispatch carries (a map) */
	size_t			 extraslen;
	long long		 ts;
};
/* Queue om on cv in txn: the "message" event, the message record, its
 * pending entry, its key, its extras; cv's last-message fields (the caller
 * puts cv).  Its id in msgid; dispatched once dispatch_after sees the
 * commit.  0 or an mdb error. */
int	dispatch_queue(MDB_txn *, struct conv *, const struct outmsg *,
	    char msgid[R_IDLEN]);
/* A store_done_cb: dispatch the message whose id arg holds (malloc'd,
 * freed here) once committed. */
void	dispatch_after(void *arg, int committed);
/* Send msgid (committed) to its channel daemon now, or when it is back. */
void	dispatch(const char *msgid);
/* What the channel daemons' answers go to (main wires them). */
struct dispatch_hooks {
	void	(*result)(const char *msgid, const char *pid,
		    const char *code, const char *reason);
	void	(*idle)(void);		/* the last dispatch in flight ended */
};
void	dispatch_init(const struct dispatch_hooks *);
/* While the result hook runs: 1 when the dispatch answered went again
 * where the provider cannot be asked (its "sent" may be a second copy). */
int	dispatch_in_doubt(void);
/* Dispatches in flight. */
size_t	dispatch_inflight(void);

/* ============================================================ ground floor */

/* routerd_store.c (rs_): records, the event log, every key. */
/* Open routerd's environment and its event log; NULL with err. */
struct store *rs_open(struct event_base *, const char *dir, size_t map_size,
	    size_t map_max, struct evlog *, char *err, size_t errsz);
const char *rs_chan_name(enum chan);
int	rs_chan_parse(const char *, enum chan *);
const char *rs_mode_name(enum cmode);
int	rs_mode_parse(const char *, enum cmode *);
const char *rs_state_name(enum cstate);
const char *rs_status_name(enum cstatus);
/* Copy at most dstsz - 1 bytes of s (n bytes), not splitting a character. */
void	rs_preview(char *dst, size_t dstsz, const char *s, size_t n);

/* Start packing an event of nkeys entries (the one record buffer). */
msgpack_packer *rs_event(uint32_t nkeys);
/* Append the event packed to the log, indexed under conv ("" for none);
 * the seq in *seq when not NULL.  0 or an mdb error. */
int	rs_append(MDB_txn *, const char *conv, uint64_t *seq);
/* The event at seq (zero-copy, valid in txn). */
int	rs_event_get(MDB_txn *, uint64_t seq, MDB_val *rec);

/* Conversations: db "convs" by id, "convkey" by (channel, addr, contact). */
int	rs_conv_get(MDB_txn *, const char *id, struct conv *);
int	rs_conv_decode(const MDB_val *, struct conv *);
int	rs_conv_put(MDB_txn *, const struct conv *);
/* The conversation (ch, addr, contact); MDB_NOTFOUND if none. */
int	rs_conv_find(MDB_txn *, enum chan, const char *addr,
	    const char *contact, struct conv *);
/* Store new conversation cv (its id made here): record, key, "conv" event. */
int	rs_conv_create(MDB_txn *, struct conv *, long long ts);
/* Walk the conversations in id order after `after` ("" from the first):
 * cb(id, stored record, arg) returns 0 to go on, 1 to stop.  0 or an mdb
 * error. */
typedef int (*rs_conv_cb)(const char *id, const MDB_val *rec, void *arg);
int	rs_convs_walk(MDB_txn *, const char *after, rs_conv_cb, void *arg);
/* Walk the conversations with contact on ch (at most max looked at):
 * cb(conv id, arg) as rs_convs_walk. */
typedef int (*rs_id_cb)(const char *id, void *arg);
int	rs_convs_of(MDB_txn *, enum chan, const char *contact, size_t max,
	    rs_id_cb, void *arg);
/* The customer of cv is now contact (a WhatsApp number change): cv is
 * found by it from now on, and put.  MDB_KEYEXIST when another
 * conversation has it already (cv unchanged), else 0 or an mdb error. */
int	rs_conv_rekey(MDB_txn *, struct conv *, const char *contact);
/* The one conversation whose id starts with prefix, into id: 0,
 * MDB_NOTFOUND when none does, MDB_KEYEXIST when several do. */
int	rs_conv_prefix(MDB_txn *, const char *prefix, char *id, size_t idsz);
/* The shortest prefix of id (at least min bytes) no other conversation
 * id starts with: its length. */
size_t	rs_conv_short(MDB_txn *, const char *id, size_t min);
/* Delete cv, its events, messages, pending sends and keys; the events
 * deleted counted in *nev.  0 or an mdb error. */
int	rs_conv_purge(MDB_txn *, const struct conv *, long *nev);

/* A conversation's events by sequence (db "convev"). */
struct rs_cursor {
	MDB_cursor	*cur;
	char		 conv[R_IDLEN];
};
int	rs_convev_open(MDB_txn *, const char *conv, struct rs_cursor *);
/* The first at or after from; then the next; the last; the one before. */
int	rs_convev_from(struct rs_cursor *, uint64_t from, uint64_t *seq);
int	rs_convev_next(struct rs_cursor *, uint64_t *seq);
int	rs_convev_last(struct rs_cursor *, uint64_t *seq);
int	rs_convev_prev(struct rs_cursor *, uint64_t *seq);
/* All events (db "events"): the first at or after from, then the next. */
int	rs_events_open(MDB_txn *, struct rs_cursor *);
int	rs_events_from(struct rs_cursor *, uint64_t from, uint64_t *seq,
	    MDB_val *rec);
int	rs_events_next(struct rs_cursor *, uint64_t *seq, MDB_val *rec);
void	rs_cursor_close(struct rs_cursor *);

/* Messages: db "msgs" by id. */
int	rs_mrec_get(MDB_txn *, const char *id, struct mrec *);
int	rs_mrec_put(MDB_txn *, const struct mrec *);
void	rs_mrec_free(struct mrec *);
/*
 * Append a status event for m and move its state forward (never back).
 * The event carries the provider id (pid when given, which becomes m's,
 * else m's own) and the channel daemon's facts (data, a map, when given).
 */
int	rs_mrec_status(MDB_txn *, struct mrec *, const char *status,
	    const char *pid, const char *code, const char *reason,
	    const msgpack_object *data, long long ts);
/*
 * A send's progress as its channel daemon tells it: status "pending"
 * (attempt handed to the provider) or "retrying" (attempt to come at
 * next_ts, in ms as every "*_ts" of a record, after code and reason).  The status event carries
 * attempt (and next_ts); m's state takes it unless it has moved past
 * (sent, delivered, read, failed...).
 */
int	rs_mrec_progress(MDB_txn *, struct mrec *, const char *status,
	    int attempt, int64_t next_ts, const char *code, const char *reason,
	    long long ts);
/* 1 when state is pending or retrying (a send under way). */
int	rs_state_underway(const char *state);

/* db "ids": provider ids, statuses seen, send keys, what a message carries. */
/* "p:<channel>:<pid>": the message a provider id belongs to. */
int	rs_pid_get(MDB_txn *, enum chan, const char *pid, char *msgid,
	    size_t msgidsz);
int	rs_pid_put(MDB_txn *, enum chan, const char *pid, const char *msgid);
/* "s:<channel>:<pid>:<status>": a status already recorded, for msgid. */
int	rs_seen_get(MDB_txn *, enum chan, const char *pid, const char *status,
	    char *msgid, size_t msgidsz);
int	rs_seen_put(MDB_txn *, enum chan, const char *pid, const char *status,
	    const char *msgid);
/* "w:<conv>:<status>": how far Messenger's watermarks (delivered, read)
 * have marked cv's outbound messages, in ms (0 when never). */
int	rs_wm_get(MDB_txn *, const char *conv, const char *status,
	    long long *upto);
int	rs_wm_put(MDB_txn *, const char *conv, const char *status,
	    long long upto);
/* "e:<campaign>": the ended campaign's conversations that needed
 * attention were moved (queue_ended_tick); 0 when marked, MDB_NOTFOUND. */
int	rs_ended_get(MDB_txn *, const char *campaign);
int	rs_ended_put(MDB_txn *, const char *campaign);
/* A send key as stored: a client's under its Unix user ("k:u<uid>:<key>"),
 * routerd's own as given ("k:<key>": "bot:<msg>", "idk:<msg>"). */
#define RS_SKEYLEN	220
void	rs_skey(char *out, size_t outsz, int own, uid_t uid, const char *key);
int	rs_skey_get(MDB_txn *, const char *skey, char *msgid, size_t msgidsz);
int	rs_skey_put(MDB_txn *, const char *skey, const char *msgid);
/* "x:<msg>": what an outbound message carries for dispatch (one map). */
int	rs_extras_get(MDB_txn *, const char *msgid, MDB_val *);
int	rs_extras_put(MDB_txn *, const char *msgid, const void *, size_t);

/* db "pending": outbound messages without their result. */
int	rs_pending_put(MDB_txn *, const char *msgid);
/* 0 when pending, MDB_NOTFOUND, or an mdb error. */
int	rs_pending_has(MDB_txn *, const char *msgid);
int	rs_pending_del(MDB_txn *, const char *msgid);
int	rs_pending_walk(MDB_txn *, rs_id_cb, void *arg);

/* db "orphan": statuses that came before their message's provider id. */
int	rs_orphan_put(MDB_txn *, enum chan, const char *pid,
	    const char *status, const char *code, const char *reason,
	    const msgpack_object *data, int64_t ts);
typedef int (*rs_orphan_cb)(const char *status, const char *code,
	    const char *reason, const msgpack_object *data, int64_t ts,
	    void *arg);
/* Each status kept for (ch, pid); cb returns 0 to go on or an mdb error
 * (which ends the walk and is returned). */
int	rs_orphan_walk(MDB_txn *, enum chan, const char *pid, rs_orphan_cb,
	    void *arg);
int	rs_orphan_del(MDB_txn *, enum chan, const char *pid);

/* db "bot": "a:<msg>", an inbound message a bot answered (what: reply,
 * idk); and whether one was answered, by a mark or by the send keys of
 * its reply (the reply's message id in reply): 1, 0, or -1 with *rc. */
#define RS_BOTKEYLEN	(R_IDLEN + 8)
/* The send key of a bot's answer ("bot" or "idk") to msgid. */
void	rs_botkey(char *out, size_t outsz, const char *kind,
	    const char *msgid);
int	rs_answered_put(MDB_txn *, const char *msgid, const char *what);
int	rs_answered(MDB_txn *, const char *msgid, char *reply, size_t replysz,
	    int *rc);

/* db "queue": campaign, priority, arrival, conversation. */
int	rs_queue_put(MDB_txn *, const struct conv *);
int	rs_queue_del(MDB_txn *, const struct conv *);
/* In queue order: cb(campaign, conv id, arg) returns 0 to go on, 1 to
 * stop, RS_QUEUE_SKIP to go on after the rest of that campaign's (one seek:
 * a campaign nobody can be offered is not walked entry by entry).  0 or an
 * mdb error. */
#define RS_QUEUE_SKIP	2
typedef int (*rs_queue_cb)(const char *campaign, const char *conv,
	    void *arg);
int	rs_queue_walk(MDB_txn *, rs_queue_cb, void *arg);

/* db "agents": agents' saved state by name. */
int	rs_agent_put(MDB_txn *, const struct agent *);
/* Each saved agent (name, status, kind, reason, times, taken) to cb. */
typedef void (*rs_agent_cb)(const struct agent *, void *arg);
int	rs_agents_walk(MDB_txn *, rs_agent_cb, void *arg);

/* db "consent": "<channel>:<contact>" as consent_norm makes it. */
int	rs_consent_get(MDB_txn *, enum chan, const char *contact,
	    struct consent *);
int	rs_consent_put(MDB_txn *, enum chan, const char *contact, int optout,
	    const char *keyword, const char *by, const char *reason,
	    long long ts);

/* routerd_campaign.c (camp_): campaignd's configuration, read-only. */
/* Fill c for campaign name ("default" and unknown ones get defaults). */
void	camp_get(const char *name, struct camp *);
/* Is campaign live (active, or "default")?  1; 0 with why (may be NULL):
 * a draft or scheduled campaign is not yet, an archived one no more. */
int	camp_live(const char *campaign, char *why, size_t whysz);
/* 1 when campaign lists our address addr on ch as provisioned (its own
 * alone), 0 when reusable or not listed. */
int	camp_provisioned(const char *campaign, enum chan, const char *addr);
/* The campaign that owns our address addr on ch: the active one listing
 * it, else what its unsolicited settings say (camp_unsolicited), else
 * "default". */
void	camp_lookup(enum chan, const char *addr, char *campaign, size_t);
/* What the unsolicited settings of our address addr on ch say: the
 * campaign named when live, else with teams or agents the number's own
 * queue "@<channel>:<addr>"; 1 with campaign set, 0 when they say nothing
 * (campaign untouched). */
int	camp_unsolicited(enum chan, const char *addr, char *campaign, size_t);
/* The archived campaigns: cb(name, arg) for each, at most max. */
void	camp_archived(size_t max, void (*cb)(const char *, void *),
	    void *arg);
/* Why campaign (or its channel ch) takes no conversations now, or "". */
void	camp_check(const char *campaign, enum chan, char *why, size_t);
/* Read-only txn on campaignd's environment; -1 when there is none yet. */
int	camp_rtxn(MDB_txn **);
/* campaignd's last commit (its transaction id): a change means its
 * configuration may have changed; 0 when it cannot be read. */
size_t	camp_gen(void);
int	camp_dbi(const char *name, MDB_dbi *);
/* A document of campaignd's db by key, unpacked into up; 0 or -1. */
int	camp_doc(MDB_txn *, const char *db, const char *key,
	    msgpack_unpacked *up);
/* 1 when campaignd's db has a document under key (a campaign, a
 * disposition); 0 when not, or when it cannot be read. */
int	camp_has(const char *db, const char *key);
/* 1 when disposition path disp is assigned to campaign (itself, or a
 * level above it: an assigned level brings everything below it). */
int	camp_disposition(const char *campaign, const char *disp);
/* 1 when agent is a member of campaign, its own or through one of the
 * campaign's teams (receive/create permissions out). */
int	camp_member(const char *campaign, const char *agent, int *receive,
	    int *create);
/* The members of campaign ("<campaign>/<agent>"): cb(agent, its member
 * document, arg) for each, at most max. */
typedef void (*camp_member_cb)(const char *agent, const msgpack_object *doc,
	    void *arg);
void	camp_members(const char *campaign, size_t max, camp_member_cb,
	    void *arg);
/* The blacklist entry of contact for scope (a campaign or "*") into up;
 * 0 or -1. */
int	camp_blacklist(MDB_txn *, const char *scope, const char *contact,
	    msgpack_unpacked *up);
/* The WhatsApp template name in lang into up; 0 or -1. */
int	camp_wtemplate(MDB_txn *, const char *name, const char *lang,
	    msgpack_unpacked *up);
/* The contact-book name of a conversation's contact (a number, a WhatsApp
 * id, an e-mail address); 0, or -1 when the book has none. */
int	camp_contact_name(MDB_txn *, const char *contact, char *name,
	    size_t namesz);
/* The contact-book id of a phone number ("cphone") or an e-mail address
 * ("cemail"); 0 or -1. */
int	camp_contact_id(MDB_txn *, const char *index, const char *addr,
	    char *id, size_t idsz);

/* routerd_auth.c (auth_): who is calling, and what they may do. */
/* The caller, read again when campaignd has committed since. */
struct who *auth_who(struct rclient *);
/* 1 when the caller's role or agent changed since last resolved. */
int	auth_changed(struct rclient *);
/* May w see / act on conversations of campaign?  Admins: all. */
int	auth_can_see(const struct who *, const char *campaign);
/* May w start outbound conversations in campaign (create permission)? */
int	auth_can_create(const struct who *, const char *campaign);
/* Refuse re (answered) unless cl may act on cv's campaign; 0 allowed. */
int	auth_check_conv(struct rclient *, int64_t re, const struct conv *);

#endif
