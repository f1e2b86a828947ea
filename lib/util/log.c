/*
 * log — one line per event on stderr, prefixed with the program name and a
 * level.  Kept tiny on purpose: daemons log through this and nothing else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *prog = "parley";
static int debug;

void
log_init(const char *p, int d)
{
	const char *s = strrchr(p, '/');

	prog = s ? s + 1 : p;
	debug = d;
}

const char *
log_prog(void)
{
	return prog;
}

static void
vlog(const char *level, const char *fmt, va_list ap, const char *err)
{
	char buf[1024];
	int n;

	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		buf[0] = '\0';
	if (err)
		fprintf(stderr, "%s: %s%s: %s\n", prog, level, buf, err);
	else
		fprintf(stderr, "%s: %s%s\n", prog, level, buf);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap, NULL);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	const char *e = strerror(errno);

	va_start(ap, fmt);
	vlog("warn: ", fmt, ap, e);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warn: ", fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!debug)
		return;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap, NULL);
	va_end(ap);
}

void
fatalx_at(const char *file, int line, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: fatal: %s:%d: %s\n", prog, file, line, buf);
	abort();
}

void
log_exit(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("fatal: ", fmt, ap, NULL);
	va_end(ap);
	exit(code);
}
