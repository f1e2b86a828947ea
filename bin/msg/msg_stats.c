/*
 * msg stats [-f] [--campaign C] [--agent A] | --rebuild — the live figures
 * of statsd(8) as JSON Lines: the snapshot stats.sock sends (every
 * campaign, agent, waiting customer, channel address and the system), up
 * to its first {"type":"sync"}; with -f, the changes after it as they
 * happen.  --campaign keeps that campaign's lines (its waiting customers,
 * the agents who work in it), --agent that agent's.  stats.sock speaks
 * JSON Lines itself: `socat - UNIX:$PARLEY_HOME/run/stats.sock` reads the
 * same.  --rebuild asks statsd to replay the event log into fresh rollups
 * (msg-stats(1)).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "conf.h"
#include "mp.h"
#include "msg.h"
#include "msg_stats.h"

/* Connect to stats.sock at path (exit 3 when it cannot be reached). */
static int
stats_connect_at(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		msg_die(MSG_EX_USAGE, "%s: path too long", path);
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		msg_die(MSG_EX_UNREACH, "statsd: %s: %s", path, strerror(errno));
	return fd;
}

int
msg_stats_connect(void)
{
	char path[4096];

	msg_sock_path("stats", path, sizeof(path));
	return stats_connect_at(path);
}

/* Add the numbers of b's fields to a's (a "system" line over shards). */
static void
sum_into(json_t *a, json_t *b)
{
	const char *k;
	json_t *v, *o;

	json_object_foreach(b, k, v) {
		o = json_object_get(a, k);
		if (json_is_integer(v) && (o == NULL || json_is_integer(o)))
			json_object_set_new(a, k, json_integer(json_integer_value(v) +
			    (o ? json_integer_value(o) : 0)));
		else if (json_is_number(v) && (o == NULL || json_is_number(o)) &&
		    strcmp(k, "seq") != 0)
			json_object_set_new(a, k, json_real(json_number_value(v) +
			    (o ? json_number_value(o) : 0)));
	}
}

/*
 * --shards: the statsd of each shard whose parley.conf is listed (its home
 * says where its stats.sock is).  Every line gets "shard" (the file's
 * nats_shard, else the file).  After all the snapshots, one "system" line
 * summing the shards' ({"shard":"*"}, with "shards", how many) and one
 * sync.  With -f the changes follow from every shard as they come, each
 * tagged, and each shard's new system line is followed by a new sum.
 */
struct shard {
	char			*name;
	struct msg_stats_rd	*r;
	json_t			*sys;	/* its last system line */
};

/* The sum of the shards' system lines, printed. */
static void
shards_sum(struct shard *sh, int n)
{
	json_t *sys = json_object();
	char *line;
	int i;

	if (sys == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	for (i = 0; i < n; i++)
		if (sh[i].sys != NULL)
			sum_into(sys, sh[i].sys);
	json_object_set_new(sys, "type", json_string("system"));
	json_object_set_new(sys, "shard", json_string("*"));
	json_object_set_new(sys, "shards", json_integer(n));
	json_object_del(sys, "seq");
	if ((line = json_dumps(sys, JSON_COMPACT)) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	msg_out_line(line);
	free(line);
	json_decref(sys);
}

/*
 * One line of shard s: tagged and printed if it passes the filters.
 * Returns 1 for its sync line, 2 for a system line, else 0.
 */
static int
shard_line(struct shard *s, const char *line, const char *campaign,
    const char *agent, int quiet_sync)
{
	const char *t;
	json_t *o;
	char *out;
	int rc = 0;

	if ((o = json_loads(line, 0, NULL)) == NULL)
		return 0;
	t = json_string_value(json_object_get(o, "type"));
	if (t && strcmp(t, "error") == 0)
		msg_die(MSG_EX_REFUSED, "%s: %s", s->name,
		    json_string_value(json_object_get(o, "msg")) ?
		    json_string_value(json_object_get(o, "msg")) : "refused");
	if (t && strcmp(t, "sync") == 0)
		rc = 1;
	if (t && strcmp(t, "system") == 0) {
		json_decref(s->sys);
		s->sys = json_deep_copy(o);
		rc = 2;
	}
	json_object_set_new(o, "shard", json_string(s->name));
	if (!(rc == 1 && quiet_sync) && msg_stats_keep(o, campaign, agent)) {
		if ((out = json_dumps(o, JSON_COMPACT)) == NULL)
			msg_die(MSG_EX_REFUSED, "out of memory");
		msg_out_line(out);
		free(out);
	}
	json_decref(o);
	return rc;
}

static int
stats_shards(const char *list, const char *campaign, const char *agent,
    int follow)
{
	char *files, *f, *save = NULL, err[512], path[4096], *home, *line;
	struct shard *sh = NULL;
	struct pollfd *pfd;
	struct conf *cf;
	int rc, i, n = 0, sys;
	ssize_t got;

	if ((files = strdup(list)) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	for (f = strtok_r(files, ",", &save); f != NULL;
	    f = strtok_r(NULL, ",", &save)) {
		if ((sh = reallocarray(sh, n + 1, sizeof(*sh))) == NULL)
			msg_die(MSG_EX_REFUSED, "out of memory");
		if ((cf = conf_load(f, err, sizeof(err))) == NULL)
			msg_die(MSG_EX_USAGE, "%s", err);
		if ((sh[n].name = strdup(conf_get(cf, "nats_shard")[0] ?
		    conf_get(cf, "nats_shard") : f)) == NULL ||
		    (home = conf_path(cf, conf_get(cf, "home"))) == NULL ||
		    (sh[n].r = calloc(1, sizeof(*sh[n].r))) == NULL)
			msg_die(MSG_EX_REFUSED, "out of memory");
		snprintf(path, sizeof(path), "%s/run/stats.sock", home);
		free(home);
		conf_free(cf);
		sh[n].sys = NULL;
		sh[n].r->fd = stats_connect_at(path);
		sh[n].r->block = 1;
		n++;
	}
	free(files);
	if (n == 0)
		msg_usage();
	/* the snapshots, one shard after the other, each to its sync */
	for (i = 0; i < n; i++) {
		while ((rc = msg_stats_line(sh[i].r, &line)) == 1)
			if (shard_line(&sh[i], line, campaign, agent, 1) == 1)
				break;
		if (rc == -1)
			msg_die(MSG_EX_UNREACH, "%s: the stats socket closed",
			    sh[i].name);
	}
	shards_sum(sh, n);
	msg_out_line("{\"type\":\"sync\"}");
	msg_out_flush();
	if (!follow)
		return MSG_EX_OK;
	/* then the changes, from whichever shard has them */
	if ((pfd = calloc(n, sizeof(*pfd))) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	for (i = 0; i < n; i++) {
		pfd[i].fd = sh[i].r->fd;
		pfd[i].events = POLLIN;
		sh[i].r->block = 0;
	}
	for (;;) {
		if (poll(pfd, n, -1) == -1) {
			if (errno == EINTR)
				continue;
			msg_die(MSG_EX_REFUSED, "poll: %s", strerror(errno));
		}
		for (i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			got = read(sh[i].r->fd, sh[i].r->buf + sh[i].r->len,
			    sizeof(sh[i].r->buf) - sh[i].r->len);
			if (got == -1 && errno == EINTR)
				continue;
			if (got <= 0)
				msg_die(MSG_EX_UNREACH, "%s: the stats socket "
				    "closed", sh[i].name);
			sh[i].r->len += (size_t)got;
			sys = 0;
			while (msg_stats_line(sh[i].r, &line) == 1)
				if (shard_line(&sh[i], line, campaign, agent,
				    0) == 2)
					sys = 1;
			if (sys)
				shards_sum(sh, n);
			msg_out_flush();
		}
	}
}

int
msg_stats_line(struct msg_stats_rd *r, char **line)
{
	char *nl;
	ssize_t n;

	for (;;) {
		if (r->len > 0 && (nl = memchr(r->buf, '\n', r->len)) != NULL) {
			size_t l = (size_t)(nl - r->buf);

			if (r->line)
				free(r->line);
			if ((r->line = malloc(l + 1)) == NULL)
				msg_die(MSG_EX_REFUSED, "out of memory");
			memcpy(r->line, r->buf, l);
			r->line[l] = '\0';
			memmove(r->buf, nl + 1, r->len - l - 1);
			r->len -= l + 1;
			*line = r->line;
			return 1;
		}
		if (r->len == sizeof(r->buf))
			msg_die(MSG_EX_REFUSED, "statsd: a line over %zu bytes",
			    sizeof(r->buf));
		if (!r->block)
			return 0;
		n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		r->len += (size_t)n;
	}
}

int
msg_stats_keep(json_t *o, const char *campaign, const char *agent)
{
	const char *t = json_string_value(json_object_get(o, "type"));
	json_t *cs, *c;
	size_t i;

	if (t == NULL)
		return 0;
	if (strcmp(t, "sync") == 0)
		return 1;
	if (agent) {
		return strcmp(t, "agent") == 0 && json_object_get(o, "agent") &&
		    strcmp(json_string_value(json_object_get(o, "agent")),
		    agent) == 0;
	}
	if (campaign == NULL)
		return 1;
	if (strcmp(t, "campaign") == 0 || strcmp(t, "waiting") == 0) {
		const char *c2 = json_string_value(json_object_get(o,
		    "campaign"));

		/* a "gone" line names only its key: keep it */
		return c2 == NULL || strcmp(c2, campaign) == 0;
	}
	if (strcmp(t, "agent") == 0) {
		if ((cs = json_object_get(o, "campaigns")) == NULL)
			return 1;
		json_array_foreach(cs, i, c)
			if (strcmp(json_string_value(json_object_get(c,
			    "campaign")) ? json_string_value(json_object_get(c,
			    "campaign")) : "", campaign) == 0)
				return 1;
		return 0;
	}
	return strcmp(t, "system") == 0;
}

static int
rebuild(void)
{
	struct busc c;
	struct fbuf f;
	const msgpack_object *ans;
	int64_t id, n = 0, ms = 0;
	char line[128];

	msg_connect_or_die(&c, "statsd");
	c.timeout_ms = -1;		/* a rebuild takes as long as it takes */
	id = busc_next_id(&c);
	fbuf_init(&f);
	fbuf_begin(&f, 2);
	mp_kv_str(&f.pk, "t", "rebuild");
	mp_kv_int(&f.pk, "id", id);
	ans = msg_call(&c, &f, id);
	fbuf_free(&f);
	mp_int(ans, "events", &n);
	mp_int(ans, "ms", &ms);
	snprintf(line, sizeof(line), "{\"events\":%lld,\"seconds\":%.3f}",
	    (long long)n, (double)ms / 1000.0);
	msg_out_line(line);
	msg_out_flush();
	busc_close(&c);
	return MSG_EX_OK;
}

int
msg_stats(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "campaign", required_argument, NULL, 'C' },
		{ "agent", required_argument, NULL, 'A' },
		{ "rebuild", no_argument, NULL, 'r' },
		{ "shards", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *campaign = NULL, *agent = NULL, *shards = NULL;
	struct msg_stats_rd *r;
	int follow = 0, rb = 0, ch, rc;
	char *line;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "f", lopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			follow = 1;
			break;
		case 'C':
			campaign = optarg;
			break;
		case 'A':
			agent = optarg;
			break;
		case 'r':
			rb = 1;
			break;
		case 's':
			shards = optarg;
			break;
		default:
			msg_usage();
		}
	}
	if (optind != argc || (rb && (follow || campaign || agent)))
		msg_usage();
	if (rb)
		return rebuild();
	if (shards != NULL) {
		return stats_shards(shards, campaign, agent, follow);
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		msg_die(MSG_EX_REFUSED, "out of memory");
	r->fd = msg_stats_connect();
	r->block = 1;
	while ((rc = msg_stats_line(r, &line)) == 1) {
		json_t *o = json_loads(line, 0, NULL);
		const char *t;

		if (o == NULL)
			continue;
		t = json_string_value(json_object_get(o, "type"));
		if (t && strcmp(t, "error") == 0)
			msg_die(MSG_EX_REFUSED, "%s", json_string_value(
			    json_object_get(o, "msg")) ? json_string_value(
			    json_object_get(o, "msg")) : "refused");
		if (msg_stats_keep(o, campaign, agent)) {
			msg_out_line(line);
			if (follow)
				msg_out_flush();
		}
		if (!follow && t && strcmp(t, "sync") == 0) {
			json_decref(o);
			break;
		}
		json_decref(o);
	}
	msg_out_flush();
	if (rc == -1)
		msg_die(MSG_EX_UNREACH, "statsd: the stats socket closed");
	close(r->fd);
	free(r->line);
	free(r);
	return MSG_EX_OK;
}
