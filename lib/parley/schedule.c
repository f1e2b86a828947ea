/*
 * sched — opening hours: the weekly schedule, its JSON form, and the
 * calendar questions routerd and msg ask of it (open now? today's hours?
 * when does it open, when does it close?) in the campaign's time zone.
 *
 * The zone is applied by switching TZ for one call and restoring it after.
 * Local-to-UTC conversion does not trust mktime with a time inside a DST gap
 * or repeat (what it returns there is unspecified); it reads UTC offsets
 * with localtime_r on both sides of the wanted instant and, when they
 * differ, finds the transition by bisection.  See sched.h for the meaning of
 * an interval across DST changes.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rec.h"
#include "schedule.h"

#define ZONEINFO	"/usr/share/zoneinfo"
#define HORIZON		370		/* days searched ahead */
#define DAY		86400

static const char *const days[7] = {
	"mon", "tue", "wed", "thu", "fri", "sat", "sun"
};

void
sched_default(struct sched *s)
{
	int d;

	memset(s, 0, sizeof(*s));
	for (d = 0; d < 5; d++) {
		s->iv[d][0].start = 9 * 60;
		s->iv[d][0].end = 18 * 60;
		s->n[d] = 1;
	}
}

/* ---- JSON ---- */

static void
fmt_hhmm(int m, char buf[6])
{
	unsigned h, mm;

	if (m < 0 || m > 1440)	/* callers hold 0..1440 */
		m = 0;
	h = (unsigned)m / 60;
	mm = (unsigned)m % 60;
	buf[0] = (char)('0' + h / 10);
	buf[1] = (char)('0' + h % 10);
	buf[2] = ':';
	buf[3] = (char)('0' + mm / 10);
	buf[4] = (char)('0' + mm % 10);
	buf[5] = '\0';
}

/* "HH:MM" exactly; 24:00 only when is_end.  Minutes, or -1. */
static int
parse_hhmm(const char *p, int is_end)
{
	int h, m;

	if (strlen(p) != 5 || p[2] != ':' ||
	    p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' ||
	    p[3] < '0' || p[3] > '9' || p[4] < '0' || p[4] > '9')
		return -1;
	h = (p[0] - '0') * 10 + (p[1] - '0');
	m = (p[3] - '0') * 10 + (p[4] - '0');
	if (m > 59)
		return -1;
	if (h == 24 && m == 0 && is_end)
		return 1440;
	if (h > 23)
		return -1;
	return h * 60 + m;
}

struct niv {
	struct sched_iv	iv;
	int		idx;		/* 1-based position in the input */
};

static int
niv_cmp(const void *a, const void *b)
{
	const struct niv *x = a, *y = b;

	if (x->iv.start != y->iv.start)
		return x->iv.start < y->iv.start ? -1 : 1;
	return x->iv.end < y->iv.end ? -1 : x->iv.end > y->iv.end;
}

int
sched_from_json(const json_t *j, struct sched *out, char *err, size_t errsz)
{
	struct sched s;
	struct niv v[SCHED_MAXIV];
	const char *key, *a, *b;
	json_t *val, *pair;
	size_t i;
	int d, k;
	char x[6], y[6];

	memset(&s, 0, sizeof(s));
	if (!json_is_object(j)) {
		snprintf(err, errsz, "schedule: not a JSON object");
		return -1;
	}
	json_object_foreach((json_t *)j, key, val) {
		for (d = 0; d < 7 && strcmp(key, days[d]) != 0; d++)
			;
		if (d == 7) {
			snprintf(err, errsz, "schedule: unknown day \"%.20s\" "
			    "(want mon, tue, wed, thu, fri, sat or sun)", key);
			return -1;
		}
		if (!json_is_array(val)) {
			snprintf(err, errsz, "%s: not an array of intervals",
			    key);
			return -1;
		}
		if (json_array_size(val) > SCHED_MAXIV) {
			snprintf(err, errsz, "%s: %zu intervals, more than %d",
			    key, json_array_size(val), SCHED_MAXIV);
			return -1;
		}
		json_array_foreach(val, i, pair) {
			if (!json_is_array(pair) || json_array_size(pair) != 2 ||
			    !json_is_string(json_array_get(pair, 0)) ||
			    !json_is_string(json_array_get(pair, 1))) {
				snprintf(err, errsz, "%s interval %zu: not a "
				    "[\"HH:MM\",\"HH:MM\"] pair", key, i + 1);
				return -1;
			}
			a = json_string_value(json_array_get(pair, 0));
			b = json_string_value(json_array_get(pair, 1));
			v[i].idx = (int)i + 1;
			if ((v[i].iv.start = parse_hhmm(a, 0)) == -1) {
				snprintf(err, errsz, "%s interval %zu: bad start "
				    "\"%.10s\" (want HH:MM, 00:00 to 23:59)",
				    key, i + 1, a);
				return -1;
			}
			if ((v[i].iv.end = parse_hhmm(b, 1)) == -1) {
				snprintf(err, errsz, "%s interval %zu: bad end "
				    "\"%.10s\" (want HH:MM, 00:01 to 24:00)",
				    key, i + 1, b);
				return -1;
			}
			if (v[i].iv.end <= v[i].iv.start) {
				snprintf(err, errsz, "%s interval %zu: inverted "
				    "(end %s is not after start %s)", key,
				    i + 1, b, a);
				return -1;
			}
		}
		k = (int)json_array_size(val);
		qsort(v, (size_t)k, sizeof(v[0]), niv_cmp);
		for (i = 1; i < (size_t)k; i++) {
			if (v[i].iv.start < v[i - 1].iv.end) {
				const struct niv *p = &v[i - 1], *q = &v[i];
				char x2[6], y2[6];

				if (p->idx > q->idx) {	/* name them in input order */
					p = &v[i];
					q = &v[i - 1];
				}
				fmt_hhmm(q->iv.start, x);
				fmt_hhmm(q->iv.end, y);
				fmt_hhmm(p->iv.start, x2);
				fmt_hhmm(p->iv.end, y2);
				snprintf(err, errsz, "%s interval %d (%s-%s) "
				    "overlaps interval %d (%s-%s)", key, q->idx,
				    x, y, p->idx, x2, y2);
				return -1;
			}
		}
		for (i = 0; i < (size_t)k; i++)
			s.iv[d][i] = v[i].iv;
		s.n[d] = k;
	}
	*out = s;
	return 0;
}

json_t *
sched_to_json(const struct sched *s)
{
	json_t *o, *day, *pair;
	char a[6], b[6];
	int d, i;

	if ((o = json_object()) == NULL)
		return NULL;
	for (d = 0; d < 7; d++) {
		if ((day = json_array()) == NULL ||
		    json_object_set_new(o, days[d], day) == -1)
			goto fail;
		for (i = 0; i < s->n[d] && i < SCHED_MAXIV; i++) {
			fmt_hhmm(s->iv[d][i].start, a);
			fmt_hhmm(s->iv[d][i].end, b);
			if ((pair = json_pack("[ss]", a, b)) == NULL ||
			    json_array_append_new(day, pair) == -1)
				goto fail;
		}
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* ---- zones ---- */

static char tz_valid_last[256];		/* the last zone found valid */

int
sched_tz_valid(const char *tz)
{
	char path[sizeof(ZONEINFO) + 256], magic[4];
	const char *p, *c;
	struct stat st;
	size_t len;
	int fd, ok;

	if (tz == NULL || *tz == '\0')
		return 0;
	if (strcmp(tz, "UTC") == 0 || strcmp(tz, tz_valid_last) == 0)
		return 1;
	if ((len = strlen(tz)) >= sizeof(tz_valid_last))
		return 0;
	for (p = tz; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/_-+.", *p) != NULL))
			return 0;
	/* no empty, hidden, "." or ".." component: nothing outside ZONEINFO */
	for (c = tz; ; c = p + 1) {
		p = strchr(c, '/');
		if (p == c || *c == '.' || *c == '\0')
			return 0;
		if (p == NULL)
			break;
	}
	/* leap-second zones count time_t differently from everyone else */
	if (strncmp(tz, "right/", 6) == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", ZONEINFO, tz);
	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return 0;
	/* a zone, not zone.tab or tzdata.zi */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	ok = read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0;
	close(fd);
	if (ok)
		memcpy(tz_valid_last, tz, len + 1);
	return ok;
}

/* TZ as it was before tz_enter, restored by tz_leave. */
static char	*tz_saved;
static int	 tz_had, tz_switched;

/* Apply zone tz for one call; 0, or -1 if tz is not valid. */
static int
tz_enter(const char *tz)
{
	const char *cur;

	if (!sched_tz_valid(tz))
		return -1;
	tz_switched = 0;
	cur = getenv("TZ");
	if (cur != NULL && strcmp(cur, tz) == 0) {
		tzset();	/* the same zone: glibc keeps what it loaded */
		return 0;
	}
	free(tz_saved);
	tz_saved = NULL;
	if ((tz_had = cur != NULL) && (tz_saved = strdup(cur)) == NULL)
		return -1;
	if (setenv("TZ", tz, 1) == -1) {
		free(tz_saved);
		tz_saved = NULL;
		return -1;
	}
	tz_switched = 1;
	tzset();
	return 0;
}

static void
tz_leave(void)
{
	if (!tz_switched)
		return;
	if (tz_had)
		setenv("TZ", tz_saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(tz_saved);
	tz_saved = NULL;
	tz_switched = 0;
}

/* ---- the calendar, in the current zone ---- */

static int64_t
floordiv(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floordiv(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Local wall-clock time of t as seconds since the local epoch. */
static int
local_secs(int64_t t, int64_t *l)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL)
		return -1;
	*l = rec_days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday) * DAY + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
	return 0;
}

static int
offset_at(int64_t t, int64_t *off)
{
	if (local_secs(t, off) == -1)
		return -1;
	*off -= t;
	return 0;
}

/*
 * The first instant whose local time is at or past local seconds x.  UTC
 * offsets lie within -12h..+14h, so it is within [x-15h, x+13h]; at most
 * one offset change is assumed in that window.  Inside a gap this is the
 * end of the gap; inside a repeat, the first occurrence.
 */
static int
reached(int64_t x, int64_t *out)
{
	int64_t lo = x - 15 * 3600, hi = x + 13 * 3600, oa, ob, o, mid, t;

	if (offset_at(lo, &oa) == -1 || offset_at(hi, &ob) == -1)
		return -1;
	if (oa == ob) {
		*out = x - oa;
		return 0;
	}
	while (hi - lo > 1) {		/* offset oa at lo, not at hi */
		mid = lo + (hi - lo) / 2;
		if (offset_at(mid, &o) == -1)
			return -1;
		if (o == oa)
			lo = mid;
		else
			hi = mid;
	}
	/* before hi the offset is oa, from hi on it is ob */
	if ((t = x - oa) < hi)
		*out = t;
	else
		*out = x - ob > hi ? x - ob : hi;
	return 0;
}

static int
is_holiday(const char *const *hol, size_t nh, int64_t day)
{
	char date[32];
	int64_t y;
	int m, d;
	size_t i;

	if (nh == 0)
		return 0;
	civil_from_days(day, &y, &m, &d);
	snprintf(date, sizeof(date), "%04lld-%02d-%02d", (long long)y, m, d);
	for (i = 0; i < nh; i++)
		if (hol[i] != NULL && strcmp(hol[i], date) == 0)
			return 1;
	return 0;
}

static int
weekday(int64_t day)
{
	return (int)(day - floordiv(day + 3, 7) * 7 + 3);	/* 1970-01-01: Thu */
}

/* The open spans [from,to) in ms of local date day, in order; count or -1. */
static int
day_spans(const struct sched *s, const char *const *hol, size_t nh,
    int64_t day, int64_t sp[SCHED_MAXIV][2])
{
	int wd = weekday(day), i, k = 0;
	int64_t a, b;

	if (is_holiday(hol, nh, day))
		return 0;
	for (i = 0; i < s->n[wd]; i++) {
		if (reached(day * DAY + s->iv[wd][i].start * 60, &a) == -1 ||
		    reached(day * DAY + s->iv[wd][i].end * 60, &b) == -1)
			return -1;
		if (a < b) {
			sp[k][0] = a * 1000;
			sp[k][1] = b * 1000;
			k++;
		}
	}
	return k;
}

/* A schedule read from storage is checked, not trusted. */
static int
sched_ok(const struct sched *s)
{
	int d, i;

	for (d = 0; d < 7; d++) {
		if (s->n[d] < 0 || s->n[d] > SCHED_MAXIV)
			return 0;
		for (i = 0; i < s->n[d]; i++)
			if (s->iv[d][i].start < 0 ||
			    s->iv[d][i].end > 1440 ||
			    s->iv[d][i].start >= s->iv[d][i].end ||
			    (i > 0 && s->iv[d][i].start < s->iv[d][i - 1].end))
				return 0;
	}
	return 1;
}

/* The local date of t_ms. */
static int
local_day(int64_t t_ms, int64_t *day)
{
	int64_t l;

	if (local_secs(floordiv(t_ms, 1000), &l) == -1)
		return -1;
	*day = floordiv(l, DAY);
	return 0;
}

/*
 * The span holding t_ms: 1 with its end and local date, 0 if none, -1.
 * Spans of the neighbouring dates are looked at too: an interval ending at
 * 24:00 and an odd transition at midnight can put t there.
 */
static int
span_at(const struct sched *s, const char *const *hol, size_t nh,
    int64_t t_ms, int64_t *end, int64_t *dayp)
{
	int64_t sp[SCHED_MAXIV][2], day, d;
	int k, i;

	if (local_day(t_ms, &day) == -1)
		return -1;
	for (d = day - 1; d <= day + 1; d++) {
		if ((k = day_spans(s, hol, nh, d, sp)) == -1)
			return -1;
		for (i = 0; i < k; i++)
			if (sp[i][0] <= t_ms && t_ms < sp[i][1]) {
				*end = sp[i][1];
				*dayp = d;
				return 1;
			}
	}
	return 0;
}

/* ---- the API ---- */

int
sched_open_at(const struct sched *s, const char *tz,
    const char *const *hol, size_t nh, int64_t t_ms)
{
	int64_t end, day;
	int r;

	if (!sched_ok(s) || tz_enter(tz) == -1)
		return -1;
	r = span_at(s, hol, nh, t_ms, &end, &day);
	tz_leave();
	return r;
}

int
sched_today(const struct sched *s, const char *tz, const char *const *hol,
    size_t nh, int64_t t_ms, char *buf, size_t bufsz)
{
	int64_t day;
	size_t len = 0;
	char a[6], b[6];
	int wd, i, r = -1, w;

	if (!sched_ok(s) || bufsz == 0 || tz_enter(tz) == -1)
		return -1;
	if (local_day(t_ms, &day) == -1)
		goto done;
	wd = weekday(day);
	if (is_holiday(hol, nh, day))
		w = snprintf(buf, bufsz, "holiday");
	else if (s->n[wd] == 0)
		w = snprintf(buf, bufsz, "closed");
	else {
		for (i = 0, w = 0; i < s->n[wd]; i++) {
			fmt_hhmm(s->iv[wd][i].start, a);
			fmt_hhmm(s->iv[wd][i].end, b);
			w = snprintf(buf + len, bufsz - len, "%s%s-%s",
			    i ? "," : "", a, b);
			if (w < 0 || (size_t)w >= bufsz - len)
				goto done;
			len += (size_t)w;
		}
		w = 0;
	}
	if (w < 0 || (size_t)w >= bufsz)
		goto done;
	r = 0;
done:
	tz_leave();
	return r;
}

int64_t
sched_next_open(const struct sched *s, const char *tz,
    const char *const *hol, size_t nh, int64_t t_ms)
{
	int64_t sp[SCHED_MAXIV][2], day, d, r = -1;
	int k, i;

	if (!sched_ok(s) || tz_enter(tz) == -1)
		return -1;
	if (local_day(t_ms, &day) == -1)
		goto done;
	/* spans come in time order: the first not yet over is the answer */
	for (d = day - 1; d <= day + HORIZON; d++) {
		if ((k = day_spans(s, hol, nh, d, sp)) == -1)
			goto done;
		for (i = 0; i < k; i++)
			if (sp[i][1] > t_ms) {
				r = sp[i][0] > t_ms ? sp[i][0] : t_ms;
				goto done;
			}
	}
done:
	tz_leave();
	return r;
}

int64_t
sched_close_at(const struct sched *s, const char *tz,
    const char *const *hol, size_t nh, int64_t t_ms)
{
	int64_t sp[SCHED_MAXIV][2], day, d, end, limit, r = -1;
	int k, i;

	if (!sched_ok(s) || tz_enter(tz) == -1)
		return -1;
	if (span_at(s, hol, nh, t_ms, &end, &day) != 1)
		goto done;
	/* follow spans that begin where the last one ended */
	for (d = day; d <= day + HORIZON; d++) {
		if ((k = day_spans(s, hol, nh, d, sp)) == -1)
			goto done;
		for (i = 0; i < k; i++) {
			if (sp[i][1] <= end)
				continue;
			if (sp[i][0] > end) {
				r = end;
				goto done;
			}
			end = sp[i][1];
		}
	}
	/* no later span: open up to the horizon, or closed before it */
	if (reached((day + HORIZON + 1) * DAY, &limit) == -1)
		goto done;
	r = end >= limit * 1000 ? INT64_MAX : end;
done:
	tz_leave();
	return r;
}
