/*
 * store — LMDB with group commit and bounded map growth.
 *
 * The commit event runs at DAEMON_PRI_COMMIT, below I/O, so every request
 * that arrived in this pass joins the batch before the single fsync.
 *
 * An environment holds every campaign's messages and contacts, and agents
 * share the daemons' group (they talk to the sockets through it), so it is
 * the daemons' user's alone: the directory 0700, data.mdb and lock.mdb
 * 0600.  An older install made them 0750 and 0640; they are tightened at
 * every open, before LMDB maps them, and the change is logged once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "daemon.h"
#include "log.h"
#include "store.h"

struct waiter {
	store_done_cb	 cb;
	void		*arg;
};

struct store {
	MDB_env		*env;
	MDB_txn		*txn;
	struct event	*ev_commit;
	size_t		 map_size, map_max;
	struct waiter	*w;
	size_t		 nw, capw;
	size_t		 nreq;
	int		 full;
	int		 grow;		/* the last batch hit MDB_MAP_FULL */
	size_t		 reserve;	/* bytes the next batch wants free */
	char		 err[256];
	store_done_cb	 hook;
	void		*hookarg;
};

/*
 * An error as a person reads it.  A full disk often reaches LMDB as EIO
 * (the write-back failed) rather than ENOSPC: when the file system has no
 * room left, say so.
 */
static const char *
store_strerror(struct store *s, int rc)
{
	struct statvfs vfs;
	const char *path;

	if ((rc == EIO || rc == ENOSPC || rc == EDQUOT) &&
	    mdb_env_get_path(s->env, &path) == 0 &&
	    statvfs(path, &vfs) == 0 &&
	    (unsigned long long)vfs.f_bavail * vfs.f_frsize < 1024 * 1024)
		return "no space left on device";
	return mdb_strerror(rc);
}

static void
on_commit_event(evutil_socket_t fd, short ev, void *arg)
{
	store_commit(arg);
}

/* Take group and other access from fd (dir/name, or dir when name is
 * NULL): 0, logged when it changed, or -1 with err. */
static int
tighten_fd(int fd, const char *dir, const char *name, char *err,
    size_t errsz)
{
	struct stat sb;
	mode_t mode;

	if (fstat(fd, &sb) == -1) {
		snprintf(err, errsz, "%s%s%s: %s", dir, name ? "/" : "",
		    name ? name : "", strerror(errno));
		return -1;
	}
	if ((sb.st_mode & 077) == 0)
		return 0;
	mode = sb.st_mode & 0700;
	if (fchmod(fd, mode) == -1) {
		snprintf(err, errsz, "chmod %s%s%s: %s", dir, name ? "/" : "",
		    name ? name : "", strerror(errno));
		return -1;
	}
	log_info("%s%s%s: mode %04o tightened to %04o (daemon state is not "
	    "for group or others)", dir, name ? "/" : "", name ? name : "",
	    (unsigned)(sb.st_mode & 07777), (unsigned)mode);
	return 0;
}

/* The environment directory and its files (if there yet): owner only. */
static int
tighten(const char *dir, char *err, size_t errsz)
{
	static const char *files[] = { "data.mdb", "lock.mdb", NULL };
	int dfd, fd, i, rc = -1;

	/* links are followed: the site may keep db/<daemon> on another disk */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(err, errsz, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (tighten_fd(dfd, dir, NULL, err, errsz) == -1)
		goto done;
	for (i = 0; files[i]; i++) {
		fd = openat(dfd, files[i], O_RDONLY | O_NOCTTY | O_NONBLOCK |
		    O_CLOEXEC);
		if (fd == -1 && errno == ENOENT)
			continue;
		if (fd == -1) {
			snprintf(err, errsz, "%s/%s: %s", dir, files[i],
			    strerror(errno));
			goto done;
		}
		if (tighten_fd(fd, dir, files[i], err, errsz) == -1) {
			close(fd);
			goto done;
		}
		close(fd);
	}
	rc = 0;
done:
	close(dfd);
	return rc;
}

/* dir (0700) and its parents (lib/daemon's mode). */
static int
env_mkdir(const char *dir)
{
	char parent[4096], *sl;

	if (snprintf(parent, sizeof(parent), "%s", dir) >=
	    (int)sizeof(parent)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((sl = strrchr(parent, '/')) != NULL && sl != parent) {
		*sl = '\0';
		if (daemon_mkdirs(parent) == -1)
			return -1;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

struct store *
store_open(struct event_base *base, const char *dir, size_t map_size,
    size_t map_max, const struct store_db *dbs, char *err, size_t errsz)
{
	struct store *s;
	MDB_txn *txn = NULL;
	int rc, dead = 0, i;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	s->map_size = map_size;
	s->map_max = map_max < map_size ? map_size : map_max;
	if (env_mkdir(dir) == -1) {
		snprintf(err, errsz, "mkdir %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (tighten(dir, err, errsz) == -1)
		goto fail;
	/*
	 * Default flags, on purpose.  MDB_NOSYNC and MDB_NOMETASYNC would
	 * answer before the commit is on disk.  MDB_WRITEMAP was measured
	 * in routerd (inbound bursts and 1,000/s paced, as make bench
	 * runs them): a quarter to two thirds of the rate, the paced
	 * latency ten times longer (every commit msyncs the map); and it
	 * would put the map within reach of a stray write.
	 */
	if ((rc = mdb_env_create(&s->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(s->env, 64)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, map_size)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, 126)) != 0 ||
	    (rc = mdb_env_open(s->env, dir, MDB_NOTLS, STORE_MODE)) != 0) {
		snprintf(err, errsz, "%s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	{
		/* the map may have grown in an earlier run */
		MDB_envinfo info;

		mdb_env_info(s->env, &info);
		if (info.me_mapsize > s->map_size)
			s->map_size = info.me_mapsize;
	}
	mdb_reader_check(s->env, &dead);
	if (dead)
		log_info("%s: cleared %d stale readers", dir, dead);
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0) {
		snprintf(err, errsz, "%s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	for (i = 0; dbs[i].name; i++) {
		if ((rc = mdb_dbi_open(txn, dbs[i].name,
		    dbs[i].flags | MDB_CREATE, dbs[i].dbi)) != 0) {
			snprintf(err, errsz, "%s: db %s: %s", dir, dbs[i].name,
			    mdb_strerror(rc));
			mdb_txn_abort(txn);
			goto fail;
		}
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		snprintf(err, errsz, "%s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	s->ev_commit = event_new(base, -1, 0, on_commit_event, s);
	if (s->ev_commit == NULL ||
	    event_priority_set(s->ev_commit, DAEMON_PRI_COMMIT) == -1) {
		snprintf(err, errsz, "cannot create the commit event");
		goto fail;
	}
	return s;
fail:
	if (s->env)
		mdb_env_close(s->env);
	free(s);
	return NULL;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->txn)
		store_commit(s);
	if (s->ev_commit)
		event_free(s->ev_commit);
	mdb_env_close(s->env);
	free(s->w);
	free(s);
}

MDB_env *
store_env(struct store *s)
{
	return s->env;
}

void
store_shed(struct store *s)
{
	const char *dir;
	char want[4200], line[4600];
	unsigned long lo, hi;
	FILE *fp;
	int off;

	/* the map is read-only (no MDB_WRITEMAP): its pages are clean page
	 * cache, dropped from our resident set and faulted back on use.
	 * LMDB says where its map is only for MDB_FIXEDMAP: it is found by
	 * its file in /proc/self/maps */
	if (mdb_env_get_path(s->env, &dir) != 0 ||
	    (size_t)snprintf(want, sizeof(want), "%s/data.mdb", dir) >=
	    sizeof(want) || (fp = fopen("/proc/self/maps", "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi,
		    &off) != 2 || off <= 0 || strcmp(line + off, want) != 0)
			continue;
		(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
	}
	fclose(fp);
}

const char *
store_error(struct store *s)
{
	return s->err[0] ? s->err : "store error";
}

/* Grow the map before a batch when it is filling up; no txn is open here. */
static int
store_grow(struct store *s)
{
	MDB_envinfo info;
	MDB_stat st;
	size_t used, nsize;
	int rc;

	if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0)
		return 0;
	used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
	if (used < info.me_mapsize / 10 * 8 && !s->grow) {
		s->full = 0;
		return 0;
	}
	if (info.me_mapsize >= s->map_max) {
		if (used >= info.me_mapsize / 100 * 95 || s->grow) {
			s->grow = 0;
			snprintf(s->err, sizeof(s->err), "store full: the map "
			    "reached store_map_max_mb (%zu MiB)",
			    s->map_max >> 20);
			if (!s->full)
				log_warnx("%s", s->err);
			s->full = 1;
			return -1;
		}
		return 0;
	}
	nsize = info.me_mapsize * 2;
	while (s->reserve && nsize < used + s->reserve && nsize < s->map_max)
		nsize *= 2;		/* room for a large transaction at once */
	s->reserve = 0;
	if (nsize > s->map_max)
		nsize = s->map_max;
	if ((rc = mdb_env_set_mapsize(s->env, nsize)) != 0) {
		log_warnx("map growth to %zu MiB failed: %s", nsize >> 20,
		    mdb_strerror(rc));
		return 0;
	}
	log_info("store map grown to %zu MiB", nsize >> 20);
	s->grow = 0;
	s->map_size = nsize;
	s->full = 0;
	return 0;
}

MDB_txn *
store_txn(struct store *s)
{
	int rc;

	if (s->txn && s->nreq >= STORE_BATCH_MAX)
		store_commit(s);
	if (s->txn)
		return s->txn;
	if (store_grow(s) == -1)
		return NULL;
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &s->txn)) != 0) {
		snprintf(s->err, sizeof(s->err), "store: %s",
		    store_strerror(s, rc));
		log_warnx("%s", s->err);
		s->txn = NULL;
		return NULL;
	}
	s->err[0] = '\0';
	s->nreq = 0;
	event_active(s->ev_commit, 0, 0);
	return s->txn;
}

void
store_after(struct store *s, store_done_cb cb, void *arg)
{
	if (s->txn == NULL) {
		/* nothing to wait for: committed state already holds */
		cb(arg, 1);
		return;
	}
	if (s->nw == s->capw) {
		size_t ncap = s->capw ? s->capw * 2 : 256;
		struct waiter *nw = realloc(s->w, ncap * sizeof(*nw));

		if (nw == NULL)
			fatalx("out of memory");
		s->w = nw;
		s->capw = ncap;
	}
	s->w[s->nw].cb = cb;
	s->w[s->nw].arg = arg;
	s->nw++;
	s->nreq++;
}

static void
finish(struct store *s, int ok)
{
	struct waiter *w = s->w;
	size_t i, n = s->nw;

	/* callbacks may start the next batch: hand them a fresh list */
	s->w = NULL;
	s->nw = s->capw = 0;
	if (s->hook)
		s->hook(s->hookarg, ok);
	for (i = 0; i < n; i++)
		w[i].cb(w[i].arg, ok);
	free(w);
}

void
store_grow_next(struct store *s, size_t reserve)
{
	s->grow = 1;
	s->reserve = reserve;
}

int
store_room(struct store *s, size_t bytes)
{
	MDB_envinfo info;
	MDB_stat st;
	size_t used;

	if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0)
		return 1;
	used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
	return used + bytes <= info.me_mapsize || info.me_mapsize >= s->map_max;
}

void
store_fail(struct store *s, int rc, const char *what)
{
	if (s->txn == NULL)
		return;
	if (rc == MDB_MAP_FULL) {
		/* grow before the next batch (refused only at map_max) */
		s->grow = 1;
		snprintf(s->err, sizeof(s->err), "store full while %s", what);
	}
	else
		snprintf(s->err, sizeof(s->err), "store: %s: %s", what,
		    store_strerror(s, rc));
	log_warnx("%s; the batch (%zu waiting) is abandoned", s->err, s->nw);
	mdb_txn_abort(s->txn);
	s->txn = NULL;
	event_del(s->ev_commit);
	finish(s, 0);
}

void
store_commit(struct store *s)
{
	int rc;

	if (s->txn == NULL)
		return;
	event_del(s->ev_commit);
	rc = mdb_txn_commit(s->txn);
	s->txn = NULL;
	if (rc != 0) {
		snprintf(s->err, sizeof(s->err), "store: commit: %s",
		    store_strerror(s, rc));
		log_warnx("%s; batch of %zu requests abandoned", s->err,
		    s->nreq);
		finish(s, 0);
		return;
	}
	finish(s, 1);
}

void
store_set_max(struct store *s, size_t map_max)
{
	if (map_max < s->map_size)
		map_max = s->map_size;
	if (map_max == s->map_max)
		return;
	log_info("store_map_max_mb now %zu MiB (was %zu)", map_max >> 20,
	    s->map_max >> 20);
	s->map_max = map_max;
	/* a store refused as full may grow again at the next batch */
	if (s->full)
		s->grow = 1;
	s->full = 0;
}

void
store_on_commit(struct store *s, store_done_cb cb, void *arg)
{
	s->hook = cb;
	s->hookarg = arg;
}

int
store_rtxn(struct store *s, MDB_txn **txn)
{
	return mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
}

#define RO_RETRY_MS	100
#define RO_SAY_MS	10000

static void
ro_say(struct store_ro *r, int rc)
{
	if (daemon_now_ms() < r->next_say)
		return;
	log_warnx("%s %s: %s (retrying)", r->what, r->dir, mdb_strerror(rc));
	r->next_say = daemon_now_ms() + RO_SAY_MS;
}

int
store_ro_open(struct store_ro *r, const char *home)
{
	char file[4200];
	struct stat st;
	const struct store_db *d;
	const char *dir = r->dir;
	MDB_txn *txn;
	int rc;

	if (r->env)
		return 0;
	if (dir[0] == '\0')
		snprintf(r->dir, sizeof(r->dir), "%s/%s", home, r->sub);
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	if (stat(file, &st) == -1 || daemon_now_ms() < r->next_try)
		return -1;
	if ((rc = mdb_env_create(&r->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(r->env, 32)) != 0 ||
	    (rc = mdb_env_open(r->env, dir, MDB_RDONLY | MDB_NOTLS,
	    STORE_MODE)) != 0 ||
	    (rc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, &txn)) != 0)
		goto fail;
	for (d = r->dbs; d && d->name; d++)
		if ((rc = mdb_dbi_open(txn, d->name, 0, d->dbi)) != 0) {
			mdb_txn_abort(txn);
			goto fail;
		}
	/* a committed read-only txn keeps its dbi handles for later ones */
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	log_info("reading the %s from %s", r->what, dir);
	return 0;
fail:
	r->next_try = daemon_now_ms() + RO_RETRY_MS;
	ro_say(r, rc);
	if (r->env)
		mdb_env_close(r->env);
	r->env = NULL;
	return -1;
}

int
store_ro_txn(struct store_ro *r, const char *home, MDB_txn **txn)
{
	int rc;

	if (store_ro_open(r, home) == -1)
		return -1;
	rc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, txn);
	if (rc == MDB_MAP_RESIZED) {
		/* the owner grew its map: adopt the new size */
		mdb_env_set_mapsize(r->env, 0);
		rc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, txn);
	}
	if (rc != 0) {
		ro_say(r, rc);
		return -1;
	}
	return 0;
}

size_t
store_ro_gen(struct store_ro *r, const char *home)
{
	MDB_txn *txn;
	size_t id;

	if (store_ro_txn(r, home, &txn) == -1)
		return 0;
	id = mdb_txn_id(txn);
	mdb_txn_abort(txn);
	return id;
}
