/*
 * spool — the one way parley's daemons open a file an agent handed over.
 *
 * `msg send --file` copies the agent's file into $PARLEY_HOME/spool/ as
 * f_<ULID>, owned by the agent.  The spool is a write-only drop shared by
 * every agent, so a name in it proves nothing: an agent can put a symbolic
 * link, a hard link, a FIFO or a directory there under any name, and ask
 * for it to be sent.  routerd (when the send is queued) and the channel
 * daemon (before it uploads) both open the entry here: no link followed in
 * any component below $PARLEY_HOME, a regular file, owned by the Unix user
 * who sent it, with a single link; the checks are made on the open
 * descriptor and the caller reads from that same descriptor, so nothing can
 * be swapped in between.  Whatever the reason, a refusal tells the agent
 * only SPOOL_REFUSED: never whether the target exists, its type or size.
 */
#ifndef PARLEY_SPOOL_H
#define PARLEY_SPOOL_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#define SPOOL_DIR	"spool"		/* under $PARLEY_HOME */
#define SPOOL_NAMELEN	28		/* "f_" and a ULID */
/* The one reason an agent is given, whatever the spool entry was. */
#define SPOOL_REFUSED	"not a regular file of yours in the spool"

/* 1 when s is a name msg makes in the spool: "f_" and a ULID. */
int	spool_name_ok(const char *s);

/*
 * Open $home/spool/<name> for reading, following no link, and check the
 * descriptor: a regular file owned by uid, with one link.  The descriptor
 * (O_CLOEXEC) with its fstat in *sb, or -1 with a short reason in detail
 * for the daemon's log (never for the agent: answer SPOOL_REFUSED).
 */
int	spool_open(const char *home, const char *name, uid_t uid,
	    struct stat *sb, char *detail, size_t detailsz);

/*
 * Remove $home/spool/<name> (a name spool_name_ok accepts), following no
 * link.  0 when it is gone (or was not there), -1 with errno.
 */
int	spool_unlink(const char *home, const char *name);

#endif
