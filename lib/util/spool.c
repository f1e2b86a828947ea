/*
 * spool — open a file an agent handed over through $PARLEY_HOME/spool/
 * without trusting the name it was handed over by (see spool.h): each
 * component below $PARLEY_HOME is opened with O_NOFOLLOW, and the checks
 * that decide (type, owner, link count) are made with fstat on the very
 * descriptor the caller then reads.  O_NONBLOCK keeps a FIFO from holding
 * the daemon in open(2) until it is refused as not a regular file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"
#include "ulid.h"

int
spool_name_ok(const char *s)
{
	return s != NULL && strncmp(s, "f_", 2) == 0 &&
	    strlen(s) == SPOOL_NAMELEN && ulid_valid(s + 2);
}

/* The spool directory, opened below home without following a link. */
static int
spool_dirfd(const char *home)
{
	int hfd, sfd, e;

	if ((hfd = open(home, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	sfd = openat(hfd, SPOOL_DIR, O_PATH | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	e = errno;
	close(hfd);
	errno = e;
	return sfd;
}

int
spool_open(const char *home, const char *name, uid_t uid, struct stat *sb,
    char *detail, size_t detailsz)
{
	int dfd = -1, fd = -1;

	if (!spool_name_ok(name)) {
		snprintf(detail, detailsz, "not a spool name");
		goto fail;
	}
	if ((dfd = spool_dirfd(home)) == -1) {
		snprintf(detail, detailsz, "the spool directory: %s",
		    strerror(errno));
		goto fail;
	}
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd == -1) {
		snprintf(detail, detailsz, "%s", errno == ELOOP ?
		    "a symbolic link" : errno == ENOENT ? "no such entry" :
		    strerror(errno));
		goto fail;
	}
	if (fstat(fd, sb) == -1) {
		snprintf(detail, detailsz, "fstat: %s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(sb->st_mode)) {
		snprintf(detail, detailsz, "not a regular file");
		goto fail;
	}
	if (sb->st_uid != uid) {
		snprintf(detail, detailsz, "owned by uid %lu, sent by uid %lu",
		    (unsigned long)sb->st_uid, (unsigned long)uid);
		goto fail;
	}
	if (sb->st_nlink != 1) {
		snprintf(detail, detailsz, "%lu hard links",
		    (unsigned long)sb->st_nlink);
		goto fail;
	}
	close(dfd);
	return fd;
fail:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	return -1;
}

int
spool_unlink(const char *home, const char *name)
{
	int dfd, rc, e;

	if (!spool_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	if ((dfd = spool_dirfd(home)) == -1)
		return -1;
	rc = unlinkat(dfd, name, 0);
	e = errno;
	close(dfd);
	if (rc == -1 && e == ENOENT)
		return 0;
	errno = e;
	return rc;
}
