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
#define R_ADDRLEN	64

/* A connected client; outlives its connection while answers wait on it. */
struct rclient {
	struct bus_conn		*c;
	int			 alive;
	int			 refs;
	/* subscription */
	int			 sub;		/* subscribed */
	int			 follow;
	int			 done;		/* eof sent */
	uint64_t		 next;		/* next seq to send */
	char			 conv[R_IDLEN];	/* filter, or "" */
	long long		 stuck_since;	/* ms output full, 0 if not */
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
				 db_msgs, db_ids, db_pending, db_orphan;
	struct bus_server	*srv;
	struct rclients		 subs;
	struct bus_conn		*sms;		/* smsd */
	size_t			 dispatching;	/* out requests in flight */
	msgpack_sbuffer		 rec;		/* scratch for records */
	struct event		*ev_tick;
};

extern struct routerd *R;

/* routerd_msg.c: the writes */
void	msg_in(struct rclient *, const msgpack_object *);
void	msg_status(struct rclient *, const msgpack_object *);
void	msg_send(struct rclient *, const msgpack_object *);
void	msg_result(const char *msgid, const char *pid, const char *code,
	    const char *reason);
int	conv_get(MDB_txn *, const char *id, struct conv *);
int	mrec_get(MDB_txn *, const char *id, struct mrec *);
void	mrec_free(struct mrec *);

/* routerd_dispatch.c */
void	dispatch_init(void);
void	dispatch(const char *msgid);
void	dispatch_pending(void);

/* routerd_campaign.c: campaignd's configuration, read-only */
void	camp_lookup(const char *channel, const char *addr, char *campaign,
	    size_t);
void	camp_check(const char *campaign, const char *channel, char *why,
	    size_t);
void	camp_purge(struct rclient *, const msgpack_object *);

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
