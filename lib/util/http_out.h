/*
 * http_out — an HTTP client on libcurl's multi interface driven by libevent:
 * one persistent event per curl socket, one timer, many requests in flight
 * over kept-alive connections.  A CURLM/CURLE error fails one request, never
 * the daemon.  Callbacks are never called from inside http_out_start.
 */
#ifndef PARLEY_HTTP_OUT_H
#define PARLEY_HTTP_OUT_H

#include <stddef.h>
#include <event2/event.h>

struct http_out;

/*
 * One part of a multipart/form-data body: a field (value) or a file: size
 * bytes read from the open descriptor fd (from offset 0, with pread, while
 * the request is sent; never read whole into memory), with the filename
 * and Content-Type the part declares.  A file is read from the descriptor
 * the caller opened and checked, never reopened by a path, so nothing can
 * be swapped in between; http_out_start keeps a duplicate of fd, and the
 * caller may close its own at once.
 */
struct http_part {
	const char	*name;
	const char	*value;		/* a field's value, or NULL for a file */
	int		 fd;		/* the file, when value is NULL */
	long long	 size;		/* its bytes to send */
	const char	*filename;	/* the file's name; NULL: "file" */
	const char	*type;		/* Content-Type of the part, or NULL */
};

struct http_req {
	const char		*method;	/* "GET", "POST" */
	const char		*url;
	const char		*userpwd;	/* basic auth "user:pass", or NULL */
	const char *const	*headers;	/* NULL-terminated "Name: value" */
	const char		*body;		/* copied */
	size_t			 bodylen;
	/* a multipart/form-data POST instead of body (copied; a file that
	 * cannot be read to its size fails the request) */
	const struct http_part	*parts;
	size_t			 nparts;
	long			 timeout_ms;	/* 0: 30 s */
};

struct http_resp {
	long		 status;	/* HTTP status, 0 on a transport error */
	const char	*body;		/* NUL-terminated, valid during the callback */
	size_t		 bodylen;
	const char	*error;		/* curl's error text when status == 0 */
	int		 timed_out;
	double		 seconds;	/* total time */
};

typedef void (*http_done_cb)(const struct http_resp *, void *arg);

/*
 * max_conns bounds connections per host and requests active at once; more
 * wait in order inside http_out (0: no bound, libcurl's defaults).
 */
struct http_out *http_out_new(struct event_base *, long max_conns);
void	http_out_free(struct http_out *);
/* Start a request; -1 if it could not be started (cb not called). */
int	http_out_start(struct http_out *, const struct http_req *,
	    http_done_cb, void *arg);
/* Requests in flight. */
size_t	http_out_inflight(struct http_out *);

#endif
