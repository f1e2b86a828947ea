/*
 * sched — a campaign's weekly opening hours in its own IANA time zone.
 *
 * A schedule is up to SCHED_MAXIV intervals of local wall-clock minutes per
 * weekday; holidays ("YYYY-MM-DD", local dates) close the whole local day.
 * Pure logic: the only outside state touched is the zone database, read by
 * the C library while TZ is switched for the duration of one call (the
 * daemons are single-threaded; the previous TZ is always restored).
 *
 * Each interval of a local date D is one span of real time: from the first
 * instant the local clock reaches its start on D to the first instant it
 * reaches its end.  So across a spring-forward gap an interval is shorter
 * and one starting inside the gap starts when the gap ends; across a
 * fall-back repeat it is longer (a start inside the repeated hour is its
 * first occurrence).  Adjacent intervals stay adjacent, never overlap.
 */
#ifndef PARLEY_SCHED_H
#define PARLEY_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SCHED_MAXIV	8

/* Minutes from local midnight, [start,end); end may be 1440 ("24:00"). */
struct sched_iv {
	int	start, end;
};

/* Day 0 = Monday .. 6 = Sunday; each day's intervals sorted, disjoint. */
struct sched {
	struct sched_iv	iv[7][SCHED_MAXIV];
	int		n[7];
};

/* Monday to Friday 09:00-18:00, weekends closed. */
void	sched_default(struct sched *);
/*
 * Parse {"mon":[["09:00","12:00"],["13:00","18:00"]],...}; absent days (or
 * empty arrays) are closed.  0, or -1 with a one-line err naming the day
 * and interval; *s is left untouched on error.
 */
int	sched_from_json(const json_t *, struct sched *, char *err,
	    size_t errsz);
/* All seven days, mon..sun, closed days as []; NULL on allocation failure. */
json_t	*sched_to_json(const struct sched *);
/* 1 if tz is "UTC" or a zone file under /usr/share/zoneinfo, else 0. */
int	sched_tz_valid(const char *tz);

/*
 * The functions below take the campaign's zone and its holidays (its own
 * and the global ones together, local dates "YYYY-MM-DD") and return -1
 * when tz is not valid.
 */
/* 1 if open at t_ms (Unix milliseconds), 0 if not. */
int	sched_open_at(const struct sched *, const char *tz,
	    const char *const *holidays, size_t nh, int64_t t_ms);
/*
 * Today's configured ranges for the local date at t_ms:
 * "09:00-12:00,13:00-18:00", "closed" or "holiday".  0, or -1 (also when
 * buf is too small).
 */
int	sched_today(const struct sched *, const char *tz,
	    const char *const *holidays, size_t nh, int64_t t_ms, char *buf,
	    size_t bufsz);
/* The first instant at or after t_ms when it is open, within 370 days; -1. */
int64_t	sched_next_open(const struct sched *, const char *tz,
	    const char *const *holidays, size_t nh, int64_t t_ms);
/*
 * If open at t_ms, the instant it closes: contiguous intervals (also across
 * midnight) count as one.  INT64_MAX if still open after 370 days; -1 if
 * closed at t_ms.
 */
int64_t	sched_close_at(const struct sched *, const char *tz,
	    const char *const *holidays, size_t nh, int64_t t_ms);

#endif
