/*
 * conf — parley.conf(5): "key = value" lines, '#' comments, postfix main.cf
 * style.  Errors name file:line.  Every key parley knows is listed once in
 * conf.c with its default, so a typo is an error, not a silent default.
 * PARLEY_<KEY> in the environment overrides the file (PARLEY_HOME for home).
 * Secrets live in their own files, refused when group or world readable.
 */
#ifndef PARLEY_CONF_H
#define PARLEY_CONF_H

#include <stddef.h>

struct conf;

/*
 * Load path (NULL: $PARLEY_CONF, else /etc/parley/parley.conf, which may be
 * absent: then every key has its default).  NULL with err "file:line: why".
 */
struct conf *conf_load(const char *path, char *err, size_t errsz);
void	conf_free(struct conf *);
/* The file loaded ("" when none). */
const char *conf_file(const struct conf *);
/* The value of key: environment, else file, else the built-in default. */
const char *conf_get(const struct conf *, const char *key);
/* key as an integer in [min,max]; -1 with err naming the key (and file:line). */
int	conf_int(const struct conf *, const char *key, long long min,
	    long long max, long long *out, char *err, size_t errsz);
/*
 * Read the secret whose file is named by key (relative paths are taken from
 * the config file's directory).  Refuses files readable by group or others.
 * Trailing newlines are stripped.  malloc'd, or NULL with err.
 */
char	*conf_secret(const struct conf *, const char *key, char *err,
	    size_t errsz);
/* The same for the secret in the file at path (relative to the config
 * file's directory), a file no key names alone (one of a directory's). */
/* A secret that must be one non-empty line (a token, an app secret):
 * malloc'd, or NULL with err "key: why". */
char	*conf_secret_line(const struct conf *, const char *key, char *err,
	    size_t errsz);
/* Free a secret (NULL is nothing), its bytes zeroed first. */
void	conf_secret_free(char *);
char	*conf_secret_at(const struct conf *, const char *path, char *err,
	    size_t errsz);
/* Resolve a path relative to the config file's directory (malloc'd). */
char	*conf_path(const struct conf *, const char *value);
/*
 * key as an http:// or https:// URL, copied without trailing '/'
 * (malloc'd); NULL with err "key: not an http(s) URL".
 */
char	*conf_url(const struct conf *, const char *key, char *err,
	    size_t errsz);
/*
 * key as "host:port" or "[v6]:port" (port 1..65535): *host malloc'd
 * (without the brackets).  -1 with err "key: expected host:port".
 */
int	conf_listen(const struct conf *, const char *key, char **host,
	    int *port, char *err, size_t errsz);

#endif
