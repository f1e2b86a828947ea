/*
 * routebench — routing decisions per second, per strategy (make bench).
 *
 * One campaign of 1,000 members in mixed states (mostly available, some on
 * a break, busy or offline, a few without receive permission, some in
 * wrap-up, some holding another offer, penalties 0..3 with a small tier 0)
 * and 10,000 waiting conversations, each with 0..2 agents whose offer of it
 * already lapsed.  For each conversation in turn, as routerd would: mark its
 * lapsed agents, call route_choose, clear the marks, and apply the
 * assignment (active, last_ts, taken, rr_last) while a random busy member
 * closes one, so the load stays steady instead of draining.  Every strategy
 * starts from the same seeded state and runs for at least --secs; it prints
 * decisions per second with and without the explain array, microseconds per
 * decision and how many decisions found someone.  No pass/fail.
 *
 * usage: routebench [-m members] [-c conversations] [-s seconds]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "route.h"

static uint64_t seed;

static uint64_t
next64(void)
{
	uint64_t z;

	z = (seed += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned
rnd(unsigned k)
{
	return (unsigned)(next64() % k);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct conv {
	int lapsed[2];		/* member indexes, -1 none */
};

static void
build(struct route_member *m, char (*names)[32], size_t nm, long long now)
{
	size_t i;
	unsigned r;

	seed = 1;
	for (i = 0; i < nm; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		snprintf(names[i], 32, "agent%04zu", i);
		m[i].agent = names[i];
		m[i].position = (int)i + 1;
		r = rnd(100);
		m[i].penalty = r < 10 ? 0 : r < 40 ? 1 : r < 70 ? 2 : 3;
		m[i].receive = rnd(100) >= 5;
		r = rnd(100);
		m[i].status = r < 70 ? ROUTE_AVAILABLE : r < 82 ? ROUTE_BREAK :
		    r < 90 ? ROUTE_BUSY : ROUTE_OFFLINE;
		m[i].max = 3;
		m[i].active = (int)rnd(4);
		m[i].wrapup_until = rnd(100) < 10 ? now + rnd(60000) : 0;
		m[i].last_ts = rnd(100) < 20 ? 0 : now - rnd(3600000);
		m[i].taken = (int)rnd(200);
		m[i].busy_offer = rnd(100) < 5;
	}
}

int
main(int argc, char **argv)
{
	struct route_member *m;
	struct route_explain *ex;
	struct conv *cv;
	char (*names)[32];
	size_t *out, nm = 1000, nc = 10000, i, r, c;
	long long now0 = 1767225600000LL, now, dec, found;
	double secs = 0.5, t0, t, rate[2];
	const char *rr_last;
	int s, pass, opt, k, j;

	while ((opt = getopt(argc, argv, "m:c:s:")) != -1) {
		switch (opt) {
		case 'm': nm = strtoul(optarg, NULL, 10); break;
		case 'c': nc = strtoul(optarg, NULL, 10); break;
		case 's': secs = strtod(optarg, NULL); break;
		default:
			fprintf(stderr, "usage: routebench [-m members] "
			    "[-c conversations] [-s seconds]\n");
			return 2;
		}
	}
	if (nm == 0 || nc == 0 || secs <= 0) {
		fprintf(stderr, "routebench: counts and seconds must be > 0\n");
		return 2;
	}
	m = calloc(nm, sizeof(*m));
	ex = calloc(nm, sizeof(*ex));
	out = calloc(nm, sizeof(*out));
	names = calloc(nm, sizeof(*names));
	cv = calloc(nc, sizeof(*cv));
	if (m == NULL || ex == NULL || out == NULL || names == NULL ||
	    cv == NULL) {
		fprintf(stderr, "routebench: out of memory\n");
		return 1;
	}

	printf("routebench: %zu members, %zu waiting conversations, >= %.2fs "
	    "per strategy\n", nm, nc, secs);
	printf("%-12s %14s %10s %8s %14s\n", "strategy", "decisions/s",
	    "us/dec", "found", "explain dec/s");
	for (s = RS_RINGALL; s <= RS_MANUAL; s++) {
		for (pass = 0; pass < 2; pass++) {
			build(m, names, nm, now0);
			seed = 2;
			for (c = 0; c < nc; c++)
				for (k = 0; k < 2; k++)
					cv[c].lapsed[k] = rnd(3) == 0 ?
					    (int)rnd((unsigned)nm) : -1;
			now = now0;
			rr_last = NULL;
			dec = found = 0;
			t0 = now_s();
			do {
				for (c = 0; c < nc; c++, now++) {
					for (k = 0; k < 2; k++)
						if (cv[c].lapsed[k] >= 0)
							m[cv[c].lapsed[k]].offered = 1;
					r = route_choose((enum route_strategy)s,
					    m, nm, rr_last, now, rnd, out, nm,
					    pass ? ex : NULL);
					for (k = 0; k < 2; k++)
						if (cv[c].lapsed[k] >= 0)
							m[cv[c].lapsed[k]].offered = 0;
					dec++;
					if (r == 0)
						continue;
					found++;
					/* the first to claim wins (ringall) */
					i = out[0];
					m[i].active++;
					m[i].last_ts = now;
					m[i].taken++;
					rr_last = m[i].agent;
					/* and somebody closes one */
					for (j = 0; j < 8; j++) {
						i = rnd((unsigned)nm);
						if (m[i].active > 0) {
							m[i].active--;
							break;
						}
					}
				}
				t = now_s() - t0;
			} while (t < secs);
			rate[pass] = dec / t;
			if (pass == 0)
				printf("%-12s %14.0f %10.2f %7.1f%%",
				    route_strategy_name((enum route_strategy)s),
				    rate[0], 1e6 / rate[0],
				    100.0 * found / dec);
		}
		printf(" %14.0f\n", rate[1]);
	}
	free(m);
	free(ex);
	free(out);
	free(names);
	free(cv);
	return 0;
}
