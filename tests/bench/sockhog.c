/*
 * sockhog — a misbehaving HTTP client for the budget tests
 * (tests/integration/t_http_budget.sh): it opens many TCP connections to one
 * listener and holds them idle, trickles header lines into them, or sends
 * part of a large declared body, and reports what the server did with each
 * connection: answered with which status, closed, or still open.
 *
 *   sockhog -p PORT -n N [-m idle|trickle|body] [-H HOST] [-P PATH]
 *           [-i MS] [-l BYTES] [-s BYTES] [-w MS] [-t SECONDS]
 *
 *   idle     connect and send nothing
 *   trickle  send "POST PATH HTTP/1.1", then one header line every -i ms
 *            (2000) until the server answers or closes
 *   body     send a POST head declaring -l bytes (3 MiB) and -s of them
 *            (1 MiB), then nothing
 *
 * It prints a report (below) once things settled: every connection made
 * and its sending done (idle, body) and nothing heard for -w ms (1000), or
 * every connection closed; then it holds what is still open until -t
 * seconds (60) have passed or SIGTERM comes, and prints a last report.  A
 * report is "key value" lines ended by ".":
 *
 *   connected N     connections made       refused N    connects that failed
 *   answered-C N    answered with status C (the first status line)
 *   closed N        closed by the server   open N       still open
 *   max-open-ms N   the longest any connection lived from its first byte
 *                   to its close (or to now)
 *   lines N         trickle: header lines sent in all
 *
 * Written in C because a test must not need python, and a shell cannot hold
 * 1,100 sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

enum mode { M_IDLE, M_TRICKLE, M_BODY };
enum cst { S_CONNECTING, S_OPEN, S_CLOSED, S_REFUSED };

struct conn {
	int		 fd;
	enum cst	 st;
	char		 head[512];
	size_t		 hlen, hsent;	/* the head to send */
	size_t		 bsent;		/* body bytes sent */
	int		 lines;
	long long	 first, closed_at, next_line;
	char		 ans[16];	/* the first bytes answered */
	size_t		 alen;
};

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	stop = 1;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
usage(void)
{
	fprintf(stderr, "usage: sockhog -p port -n count [-m idle|trickle|"
	    "body] [-H host] [-P path] [-i ms] [-l bytes] [-s bytes] "
	    "[-w ms] [-t seconds]\n");
	exit(2);
}

static void
report(struct conn *c, int n, enum mode m)
{
	int connected = 0, refused = 0, closed = 0, open = 0, lines = 0;
	int codes[600], i, code;
	long long now = now_ms(), maxopen = 0, life;

	memset(codes, 0, sizeof(codes));
	for (i = 0; i < n; i++) {
		if (c[i].st == S_REFUSED) {
			refused++;
			continue;
		}
		if (c[i].st == S_CONNECTING)
			continue;
		connected++;
		lines += c[i].lines;
		if (c[i].st == S_CLOSED)
			closed++;
		else
			open++;
		if (c[i].alen >= 12 && sscanf(c[i].ans, "HTTP/1.%*d %d",
		    &code) == 1 && code >= 100 && code < 600)
			codes[code]++;
		if (c[i].first > 0) {
			life = (c[i].st == S_CLOSED ? c[i].closed_at : now) -
			    c[i].first;
			if (life > maxopen)
				maxopen = life;
		}
	}
	printf("connected %d\nrefused %d\n", connected, refused);
	for (i = 100; i < 600; i++)
		if (codes[i])
			printf("answered-%d %d\n", i, codes[i]);
	printf("closed %d\nopen %d\nmax-open-ms %lld\n", closed, open,
	    maxopen);
	if (m == M_TRICKLE)
		printf("lines %d\n", lines);
	printf(".\n");
	fflush(stdout);
}

static void
conn_closed(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->st = S_CLOSED;
	c->closed_at = now_ms();
}

int
main(int argc, char **argv)
{
	static char zeros[65536];
	struct sockaddr_in sin;
	struct rlimit rl;
	struct conn *c;
	struct pollfd *pfd;
	enum mode m = M_IDLE;
	const char *host = "127.0.0.1", *path = "/whatsapp/webhook";
	long interval = 2000, settle = 1000, hold = 60;
	long long declared = 3 << 20, partial = 1 << 20, now, quiet, end;
	int port = 0, n = 0, ch, i, k, reported = 0, busy;
	char buf[65536];
	ssize_t r;

	while ((ch = getopt(argc, argv, "H:i:l:m:n:p:P:s:t:w:")) != -1) {
		switch (ch) {
		case 'H': host = optarg; break;
		case 'i': interval = atol(optarg); break;
		case 'l': declared = atoll(optarg); break;
		case 'm':
			if (strcmp(optarg, "idle") == 0)
				m = M_IDLE;
			else if (strcmp(optarg, "trickle") == 0)
				m = M_TRICKLE;
			else if (strcmp(optarg, "body") == 0)
				m = M_BODY;
			else
				usage();
			break;
		case 'n': n = atoi(optarg); break;
		case 'p': port = atoi(optarg); break;
		case 'P': path = optarg; break;
		case 's': partial = atoll(optarg); break;
		case 't': hold = atol(optarg); break;
		case 'w': settle = atol(optarg); break;
		default: usage();
		}
	}
	if (port <= 0 || n <= 0 || interval <= 0 || partial > declared)
		usage();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)n + 16 > rl.rlim_cur) {
		fprintf(stderr, "sockhog: %d connections need more than the "
		    "descriptor limit (%lu)\n", n, (unsigned long)rl.rlim_cur);
		return 1;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		usage();
	if ((c = calloc((size_t)n, sizeof(*c))) == NULL ||
	    (pfd = calloc((size_t)n, sizeof(*pfd))) == NULL)
		return 1;
	for (i = 0; i < n; i++) {
		struct conn *x = &c[i];

		if (m == M_TRICKLE)
			x->hlen = (size_t)snprintf(x->head, sizeof(x->head),
			    "POST %s HTTP/1.1\r\nHost: %s\r\n", path, host);
		else if (m == M_BODY)
			x->hlen = (size_t)snprintf(x->head, sizeof(x->head),
			    "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: "
			    "application/json\r\nX-Hub-Signature-256: sha256="
			    "00\r\nContent-Length: %lld\r\n\r\n", path, host,
			    declared);
		x->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (x->fd == -1 || (connect(x->fd, (struct sockaddr *)&sin,
		    sizeof(sin)) == -1 && errno != EINPROGRESS)) {
			if (x->fd != -1)
				close(x->fd);
			x->fd = -1;
			x->st = S_REFUSED;
		} else
			x->st = S_CONNECTING;
	}
	end = now_ms() + hold * 1000;
	quiet = now_ms();
	while (!stop && (now = now_ms()) < end) {
		int timeout = 100, settled = 1, allclosed = 1;

		for (i = 0; i < n; i++) {
			struct conn *x = &c[i];

			pfd[i].fd = -1;
			pfd[i].events = 0;
			if (x->st == S_REFUSED || x->st == S_CLOSED)
				continue;
			allclosed = 0;
			pfd[i].fd = x->fd;
			pfd[i].events = POLLIN;
			if (x->st == S_CONNECTING)
				pfd[i].events = POLLOUT;
			else if (x->hsent < x->hlen || (m == M_BODY &&
			    x->bsent < (size_t)partial) ||
			    (m == M_TRICKLE && x->alen == 0 &&
			    now >= x->next_line))
				pfd[i].events |= POLLOUT;
			if (x->st == S_CONNECTING || x->hsent < x->hlen ||
			    (m == M_BODY && x->bsent < (size_t)partial))
				settled = 0;
		}
		if (!reported && (allclosed || (settled && m != M_TRICKLE &&
		    now - quiet >= settle))) {
			report(c, n, m);
			reported = 1;
		}
		if (allclosed)
			break;
		if (poll(pfd, (nfds_t)n, timeout) == -1) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		now = now_ms();
		busy = 0;
		for (i = 0; i < n; i++) {
			struct conn *x = &c[i];
			short re = pfd[i].revents;
			int err = 0;
			socklen_t el = sizeof(err);

			if (pfd[i].fd == -1 || re == 0)
				continue;
			busy = 1;
			if (x->st == S_CONNECTING) {
				if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR,
				    &err, &el) == -1 || err != 0) {
					close(x->fd);
					x->fd = -1;
					x->st = S_REFUSED;
					continue;
				}
				x->st = S_OPEN;
				x->next_line = now;
				continue;
			}
			if (re & (POLLIN | POLLHUP | POLLERR)) {
				r = recv(x->fd, buf, sizeof(buf), 0);
				if (r > 0) {
					k = (int)(sizeof(x->ans) - 1 - x->alen);
					if (k > r)
						k = (int)r;
					memcpy(x->ans + x->alen, buf, (size_t)k);
					x->alen += (size_t)k;
				} else if (r == 0 || (errno != EAGAIN &&
				    errno != EINTR)) {
					conn_closed(x);
					continue;
				}
			}
			if (!(re & POLLOUT))
				continue;
			if (x->first == 0)
				x->first = now;
			if (x->hsent < x->hlen) {
				r = send(x->fd, x->head + x->hsent, x->hlen -
				    x->hsent, MSG_NOSIGNAL);
				if (r > 0)
					x->hsent += (size_t)r;
			} else if (m == M_BODY) {
				size_t want = (size_t)partial - x->bsent;

				if (want > sizeof(zeros))
					want = sizeof(zeros);
				r = send(x->fd, zeros, want, MSG_NOSIGNAL);
				if (r > 0)
					x->bsent += (size_t)r;
			} else if (m == M_TRICKLE) {
				char line[64];
				int len = snprintf(line, sizeof(line),
				    "X-Trickle-%d: %d\r\n", x->lines, x->lines);

				r = send(x->fd, line, (size_t)len,
				    MSG_NOSIGNAL);
				if (r == len) {
					x->lines++;
					x->next_line = now + interval;
				}
			} else
				r = 0;
			if (r == -1 && errno != EAGAIN && errno != EINTR)
				conn_closed(x);
		}
		if (busy)
			quiet = now;
	}
	report(c, n, m);
	free(c);
	free(pfd);
	return 0;
}
