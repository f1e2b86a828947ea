/*
 * routerd — shared state of the conversation owner's modules.
 */
#ifndef ROUTERD_H
#define ROUTERD_H

#include <stdint.h>
#include <sys/queue.h>
#include <lmdb.h>
#include <msgpack.h>

#include "bus.h"
#include "daemon.h"
#include "evlog.h"
#include "store.h"

#define R_IDLEN		32
#define R_ADDRLEN	144	/* a WhatsApp BSUID: VALID_BSUID_MAX and NUL */

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
	struct bus_conn		*c;
	int			 alive;
	int			 refs;
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
	char	id[R_IDLEN];
	char	channel[16];
	char	addr[R_ADDRLEN];	/* ours */
	char	contact[R_ADDRLEN];	/* the customer's */
	char	campaign[64];
	char	name[128];
	char	status[16];
	char	last_dir[4];
	char	last_text[256];
	char	unrouted[128];		/* why it is not routed, or "" */
	int64_t	opened_ts, last_ts, waiting_since;
	/* routing (issue 4) */
	char	mode[8];		/* "agent" or "bot" */
	char	rstate[12];		/* "new", "waiting", "offered", "assigned", "bot", "closed" */
	char	agent[64];		/* assigned agent, or "" */
	char	tags[400];		/* up to 3, comma-separated */
	char	disposition[200];
	int	priority;		/* higher first */
	int	attention;		/* needs attention */
	int64_t	queued_ts;		/* entered the queue (FIFO order) */
	int64_t	last_in_ts;		/* the customer's last message (windows) */
	int64_t	ah_until;		/* after-hours reply sent for the period ending then */
	int64_t	closed_ts;
};

/* A message as kept for dispatch and status updates. */
struct mrec {
	char	 id[R_IDLEN];
	char	 conv[R_IDLEN];
	char	 dir[4];
	char	 channel[16];
	char	 from[R_ADDRLEN];
	char	 to[R_ADDRLEN];
	char	 state[16];
	char	 pid[128];
	int64_t	 ts;
	char	*text;		/* malloc'd by mrec_get */
	size_t	 textlen;
};

struct routerd {
	struct daemon		 d;
	struct store		*st;
	struct evlog		 log;
	MDB_dbi			 db_events, db_convs, db_convkey, db_convev,
				 db_msgs, db_ids, db_pending, db_orphan,
				 db_queue, db_agents, db_consent, db_bot;
	struct bus_server	*srv;
	struct rclients		 subs;
	struct bus_conn		*sms;		/* smsd */
	struct bus_conn		*wa;		/* whatsappd */
	size_t			 dispatching;	/* out requests in flight */
	msgpack_sbuffer		 rec;		/* scratch for records */
	size_t			 sub_queue;	/* subscriber_queue_kb, bytes */
	long long		 sub_stall_ms;	/* subscriber_stall_ms */
	struct event		*ev_tick;
};

extern struct routerd *R;

/* routerd_msg.c: the writes */
void	msg_in(struct rclient *, const msgpack_object *);
void	msg_status(struct rclient *, const msgpack_object *);
/* A send request from a client ("bot" ignored, its key its own). */
void	msg_send(struct rclient *, const msgpack_object *);
/* The same from routerd itself (the bot runner's answers): "bot" and
 * routerd's own "bot:"/"idk:" keys are honoured. */
void	msg_send_internal(struct rclient *, const msgpack_object *);
void	msg_result(const char *msgid, const char *pid, const char *code,
	    const char *reason);
int	conv_get(MDB_txn *, const char *id, struct conv *);
int	conv_put(MDB_txn *, const struct conv *);
/*
 * Append the record packed in R->rec to the log, indexed under conv (""
 * for none).  The record must be exactly one msgpack map.
 */
int	rec_append(MDB_txn *, const char *conv, uint64_t *seq);
/* Start packing a record of nkeys entries into R->rec. */
msgpack_packer *rec_begin(uint32_t nkeys);
int	mrec_get(MDB_txn *, const char *id, struct mrec *);
int	mrec_put(MDB_txn *, const struct mrec *);
void	mrec_free(struct mrec *);

/* routerd_out.c: what an outbound message carries besides its text */
/* Check a template request {name, lang, header?, body?, buttons?} against
 * campaignd's WhatsApp template; pack "template" into pk, the rendered body
 * into *text (malloc'd), its name into tname.  0, or -1 with why. */
int	out_template(const struct conv *, const msgpack_object *tpl,
	    msgpack_packer *pk, char **text, char *tname, size_t tnamesz,
	    char *why, size_t whysz);
/* The provider id of message msgid, which must be in cv; 0 or -1 with why. */
int	out_reply_to(MDB_txn *, const struct conv *, const char *msgid,
	    char *pid, size_t pidsz, char *why, size_t whysz);
/* The name of file's copy in the spool ({spool: "f_<ULID>"}) into spool;
 * -1 when file names no well-formed spool entry. */
int	out_spool_name(const msgpack_object *file, char *spool,
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

/* routerd_dispatch.c */
void	dispatch_init(void);
void	dispatch(const char *msgid);
void	dispatch_pending(void);

/* routerd_auth.c: who is calling, and what they may do */
/* The caller, read again when campaignd has committed since. */
struct who *auth_who(struct rclient *);
/* 1 when the caller's role or agent changed since last resolved. */
int	auth_changed(struct rclient *);
/* 1 when agent is a member of campaign (receive/create permissions out). */
int	auth_member(const char *campaign, const char *agent, int *receive,
	    int *create);
/* May w see / act on conversations of campaign?  Admins: all. */
int	auth_can_see(const struct who *, const char *campaign);
/* May w start outbound conversations in campaign (create permission)? */
int	auth_can_create(const struct who *, const char *campaign);
/* Refuse r (answered) unless w may act on cv's campaign; 0 when allowed. */
int	auth_check_conv(struct rclient *, int64_t re, const struct conv *);

/* A campaign's settings as routerd needs them (from campaignd's document). */
struct camp {
	char	name[64];
	int	exists, enabled;
	char	strategy[16];
	int	max_interactions;
	int	offer_timeout_s;
	int	wrapup_s;
	char	operator_[8];		/* "agent" or "bot" */
	char	idk_mode[8];		/* "custom" or "agent" */
	char	idk_message[1024];
	char	timezone[64];
	char	after_hours_message[1024];
	int	disposition_required;
	int	files_enabled, files_library, files_local;
	int	response_threshold_s;	/* service_level.response_threshold_s */
};
/* Fill c for campaign name ("default" and unknown ones get defaults). */
void	camp_get(const char *name, struct camp *);
/* Read-only txn on campaignd's environment and its named db (for modules
 * that read other databases: canned, contacts, blacklist, statusdefs). */
int	camp_rtxn(MDB_txn **);
int	camp_dbi(const char *name, MDB_dbi *);
/* A document of campaignd's db by key, unpacked into up; 0 or -1. */
int	camp_doc(MDB_txn *, const char *db, const char *key,
	    msgpack_unpacked *up);

/* routerd_campaign.c: campaignd's configuration, read-only */
void	camp_lookup(const char *channel, const char *addr, char *campaign,
	    size_t);
void	camp_check(const char *campaign, const char *channel, char *why,
	    size_t);
void	camp_purge(struct rclient *, const msgpack_object *);

/* routerd_route.c: queues, offers (leases), assignment, agents' state */
/* Put cv in its campaign's queue (waiting) and route at the end of the pass. */
int	route_enqueue(MDB_txn *, struct conv *);
/* Take cv out of the queue (assigned, closed, bot mode). */
int	route_dequeue(MDB_txn *, struct conv *);
/* Give cv to agent (claim, reply, transfer); events appended; 0 or rc. */
int	route_assign(MDB_txn *, struct conv *, const char *agent,
	    const char *via);
/* The conversation is closed or handed away: free the agent's slot. */
int	route_release(MDB_txn *, struct conv *, int wrapup);
/* Hand cv to the agents (IDK, mode agent): mode agent, enqueue. */
int	route_to_agents(MDB_txn *, struct conv *, int attention,
	    const char *why);
/* Route waiting conversations now (after commits, status changes, ticks). */
void	route_pump(void);
void	route_init(void);
void	route_tick(void);
void	route_status(struct rclient *, const msgpack_object *);
void	route_claim(struct rclient *, const msgpack_object *);
void	route_close(struct rclient *, const msgpack_object *);
void	route_transfer(struct rclient *, const msgpack_object *);
void	route_mode(struct rclient *, const msgpack_object *);
void	route_explain(struct rclient *, const msgpack_object *);

/* routerd_work.c: tags, attention, history, search, windows */
void	work_tag(struct rclient *, const msgpack_object *);
void	work_attention(struct rclient *, const msgpack_object *);
void	work_history(struct rclient *, const msgpack_object *);
void	work_search(struct rclient *, const msgpack_object *);
void	work_window(struct rclient *, const msgpack_object *);

/* routerd_policy.c: what happens to inbound before routing, and the one
 * suppression check on every outbound path */
#define POL_NOROUTE	0x01	/* blocked, or an opt-out/help keyword */
#define POL_CLOSED	0x02	/* outside hours: queued for the opening */
/* After an inbound message m of cv is stored in txn: blacklist, keywords,
 * after-hours; may append events and queue replies.  Returns POL_* flags,
 * or -1 with an mdb error in *rc. */
int	policy_inbound(MDB_txn *, struct conv *, const struct mrec *,
	    int *rc);
/*
 * May this outbound text go to cv's contact now?  0: yes (text may have
 * been rewritten: canned responses expand; *out malloc'd, or NULL when
 * unchanged).  -1: refused; a "refused" event with the reason is appended
 * in txn and why says it (one line).  human: sent by a person.
 */
int	policy_outbound(MDB_txn *, const struct who *, struct conv *,
	    const char *text, size_t len, int human, const char *template_name,
	    char **out, const char **tag, char *why, size_t whysz, int *rc);
/*
 * May this file (msg send --file: {name, mime, size, source}) or these media
 * URLs ([{url, mime?}]) go with a message on cv's channel?  The campaign's
 * file policy (enabled, library, local, types) and the channel's type and
 * size limits (lib/media.h).  0: yes.  -1: refused as policy_outbound.
 */
int	policy_file(MDB_txn *, const struct who *, struct conv *,
	    const msgpack_object *file, const msgpack_object *media,
	    char *why, size_t whysz, int *rc);
/* Is campaign open now (schedule, holidays)?  1/0; next opening in *next. */
int	policy_open(const char *campaign, long long now, long long *next);
void	policy_optout(struct rclient *, const msgpack_object *);

/* routerd_bot.c: bot-mode conversations and the msg bot runner */
void	bot_request(struct rclient *, const msgpack_object *);

/* routerd_sub.c */
void	sub_start(struct rclient *, const msgpack_object *);
void	sub_pump(struct rclient *);
void	sub_publish(void);
void	sub_tick(void);
void	inbox(struct rclient *, const msgpack_object *);

/* routerd.c */
void	client_ref(struct rclient *);
void	client_unref(struct rclient *);
/* A dispatch finished: a draining routerd may now exit. */
void	routerd_dispatch_done(void);

#endif
