/*
 * msg_stats — what msg stats, msg monitor and msg report share: reading
 * statsd's stats.sock line by line, and the filters of msg-stats(1).
 */
#ifndef MSG_STATS_H
#define MSG_STATS_H

#include <stddef.h>
#include <jansson.h>

struct msg_stats_rd {
	int	 fd;
	int	 block;		/* 0: only what is already buffered */
	char	 buf[1 << 20];
	size_t	 len;
	char	*line;
};

/* Connect to stats.sock or exit 3. */
int	msg_stats_connect(void);
/* The next line (valid until the next call): 1, 0 (none buffered when not
 * blocking) or -1 (closed). */
int	msg_stats_line(struct msg_stats_rd *, char **line);
/* Does entity o pass --campaign / --agent (NULL: no filter)? */
int	msg_stats_keep(json_t *o, const char *campaign, const char *agent);

int	msg_stats(int, char **);
int	msg_monitor(int, char **);
int	msg_report(int, char **);

#endif
