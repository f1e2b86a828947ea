/*
 * log — the small fixed logging API every parley program uses.
 *
 * One line per event on stderr, "prog: level: message"; no timestamps (svlogd
 * and journald add them).  Never pass secrets or message bodies.
 */
#ifndef PARLEY_LOG_H
#define PARLEY_LOG_H

#include <stdarg.h>

/* Set the program name used as prefix; debug != 0 enables log_debug. */
void	log_init(const char *prog, int debug);
const char *log_prog(void);
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A broken invariant: log with file and line and abort. */
void	fatalx_at(const char *file, int line, const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 3, 4)));
#define fatalx(...) fatalx_at(__FILE__, __LINE__, __VA_ARGS__)
/* Start-up failure: log and exit with code (EX_CONFIG 100 or EX_TEMP 111). */
void	log_exit(int code, const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 2, 3)));

#define EX_CONFIG	100	/* configuration or usage: permanent */
#define EX_TEMP		111	/* temporary: the supervisor retries */

#endif
