/*
 * loadgen — the load tool behind `make bench` and the crash tests.
 *
 * inbound:  posts N signed Twilio inbound webhooks to smsd over C kept-alive
 *           connections (libcurl multi), each with a MessageSid derived from
 *           --prefix and its index, so a rerun re-posts the very same
 *           messages.  With --whatsapp SECRET_FILE they are instead Meta's
 *           notifications of one inbound WhatsApp text each (providers.md
 *           §1.4: wamid derived from --prefix and the index, the customer's
 *           profile name, timestamp now), signed with X-Hub-Signature-256,
 *           for whatsappd's /whatsapp/webhook; with --messenger SECRET_FILE
 *           Meta's Messenger notifications of one text each to --page from
 *           one of 1,000 customers, for messengerd's /messenger/webhook.
 *           With --retry a webhook is
 *           posted again after a short backoff until it is answered 200,
 *           which is what a crash test needs: every message is eventually
 *           acknowledged, hence stored.  Latency runs from a message's first
 *           post to its 200.
 *           With --kannel USER:PASS the requests are instead Kannel's: GET
 *           URL?username&password&from&to&text=bench+i (bearerbox's HTTP
 *           SMSC receiving an MO message, or smsbox's sendsms taking an MT
 *           one), counted on Kannel's 202; with --sink URL loadgen then
 *           waits until every "bench i" has reached the sink (tests/bench/
 *           sink.c, read like sandboxd's received log) and reports that
 *           rate and latency too ("through").
 *           With --rate R (here and in outbound) message i is not started
 *           before R per second allow (i / R seconds after the start): a
 *           steady load rather than a burst; max_late_ms says how far
 *           loadgen itself fell behind that schedule.
 * outbound: sends N {t:"send"} requests to routerd over one bus connection,
 *           CONC of them outstanding, then reads sandboxd's
 *           /sandbox/received until every "bench i" body has arrived there
 *           (Twilio's Body parameter, or with --channel whatsapp the
 *           text.body of the Cloud API message JSON, with --channel
 *           messenger the message.text of the Send API JSON).  Message i
 *           goes to --to-base + i, or with --recipients K to --to-base +
 *           i % K (K customers, round robin: on WhatsApp and Messenger they
 *           must have written first), from --from + i % --senders (an E.164
 *           number on SMS, a phone-number id on WhatsApp, a Page id on
 *           Messenger, where --from is required and --to-base is a
 *           page-scoped id, digits: "messenger:" + --to-base + i % K).  Latency runs from the request
 *           leaving loadgen to sandboxd's receive timestamp (same host, same
 *           clock); q_p50_ms and on run from routerd's "queued" answer as
 *           loadgen read it (sandboxd's Twilio timestamps have milliseconds,
 *           so these are good to about 1 ms, and may be slightly negative).
 * sign:     prints the X-Twilio-Signature of URL and name=value pairs.
 * raw:      writes the bytes on stdin to a Unix socket and reports whether
 *           the daemon dropped the connection (how tests send hostile
 *           frames without python or socat).
 * spawn:    runs PROGRAM N times, one after the other, output to /dev/null,
 *           and reports the wall time of each run, fork to exit (p50, p90,
 *           min): how long a command takes to start.
 * commit:   what this disk makes an LMDB commit cost, parley left out:
 *           in FILE (made, 64 MiB of zeros written and synced, then
 *           removed) N times write P 4 KiB pages at random places, one
 *           pwrite each, fdatasync, then write the first page through an
 *           O_DSYNC descriptor -- the data pages, the flush and the meta
 *           page of LMDB's mdb_txn_commit -- and report the wall time of
 *           each (p50, p99, p99.9), a millisecond apart as under a paced
 *           load: the floor under a stored message's latency.
 *
 * Each mode prints one JSON summary line on stdout.  Exit 0 when every
 * message made it, 1 when some did not (or the time limit passed), 2 on a
 * usage error.
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "form.h"
#include "frame.h"
#include "mp.h"
#include "proto.h"
#include "rec.h"
#include "sig.h"

#define DEF_ACCOUNT	"AC00000000000000000000000000000001"
#define MAXCODES	16

static const char *usage_text =
    "usage: loadgen inbound -u URL -t TOKEN_FILE -n N -c CONC [--sig-url URL]\n"
    "           [--from-base +E164] [--to +E164] [--prefix P] [--account AC..]\n"
    "           [--retry] [--rate R] [--timeout SEC]\n"
    "       loadgen inbound -u URL --kannel USER:PASS -n N -c CONC\n"
    "           [--from-base +E164] [--to +E164] [--sink URL] [--rate R]\n"
    "           [--timeout SEC]\n"
    "       loadgen inbound -u URL --whatsapp SECRET_FILE -n N -c CONC\n"
    "           [--phone-number-id ID] [--from-base +E164] [--prefix P]\n"
    "           [--retry] [--timeout SEC]\n"
    "       loadgen inbound -u URL --messenger SECRET_FILE -n N -c CONC\n"
    "           [--page PAGE-ID] [--prefix P] [--retry] [--timeout SEC]\n"
    "       loadgen outbound -s ROUTERD_SOCK -n N -c CONC --to-base +E164\n"
    "           --from +E164|PHONE_NUMBER_ID [--senders K] [--recipients K]\n"
    "           [--channel sms|whatsapp|messenger] [--sandbox URL] [--rate R]\n"
    "           [--timeout SEC]\n"
    "       loadgen sign -t TOKEN_FILE URL [name=value ...]\n"
    "       loadgen raw -s SOCK [-w MS] < bytes\n"
    "       loadgen spawn -n N PROGRAM [ARG ...]\n"
    "       loadgen commit -f FILE -p PAGES -n N\n";

static void __attribute__((noreturn))
usage(void)
{
	fputs(usage_text, stderr);
	exit(2);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fputs("loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Wall-clock milliseconds (sandboxd stamps with the same clock). */
static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long
num_arg(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < min || v > max) {
		fprintf(stderr, "loadgen: bad number: %s\n", s);
		usage();
	}
	return v;
}

/* "+1555000000" plus i, as an E.164 string. */
static void
e164_add(const char *base, long i, char *out, size_t outsz)
{
	long long v;

	if (base[0] != '+' || (v = atoll(base + 1)) <= 0)
		die("not an E.164 number: %s", base);
	snprintf(out, outsz, "+%lld", v + i);
}

/* A number made of digits ("106540352242922") plus i, as digits. */
static void
digits_add(const char *base, long i, char *out, size_t outsz)
{
	unsigned long long v;
	const char *p;

	for (p = base; *p >= '0' && *p <= '9'; p++)
		;
	if (p == base || *p != '\0' || p - base > 18 ||
	    (v = strtoull(base, NULL, 10)) == 0)
		die("not a number of digits: %s", base);
	snprintf(out, outsz, "%llu", v + (unsigned long long)i);
}

static char *
read_token(const char *path)
{
	char buf[512];
	FILE *fp;
	size_t n;

	if ((fp = fopen(path, "r")) == NULL)
		die("%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n == 0)
		die("%s: empty token", path);
	return strdup(buf);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The q-th percentile (nearest rank) of n values, sorting them. */
static double
pct(double *v, size_t n, int q)
{
	size_t k;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	k = (n * (size_t)q + 99) / 100;
	return v[k == 0 ? 0 : k - 1];
}

/* Counts per non-200 status ("0" is a transport error). */
struct codes {
	long	code[MAXCODES];
	long	count[MAXCODES];
	int	n;
};

static void
codes_add(struct codes *c, long code)
{
	int i;

	for (i = 0; i < c->n; i++)
		if (c->code[i] == code) {
			c->count[i]++;
			return;
		}
	if (c->n == MAXCODES)
		return;
	c->code[c->n] = code;
	c->count[c->n++] = 1;
}

static json_t *
codes_json(const struct codes *c)
{
	json_t *o = json_object();
	char k[24];
	int i;

	for (i = 0; i < c->n; i++) {
		snprintf(k, sizeof(k), "%ld", c->code[i]);
		json_object_set_new(o, k, json_integer(c->count[i]));
	}
	return o;
}

static void
print_summary(json_t *o)
{
	char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT |
	    JSON_REAL_PRECISION(6));

	if (s == NULL)
		die("cannot encode summary");
	printf("%s\n", s);
	fflush(stdout);
	free(s);
	json_decref(o);
}

/* Which provider's requests sandboxd's received log is read for. */
enum out_chan { OC_SMS, OC_WHATSAPP, OC_MESSENGER };

static int poll_received(const char *prefix, enum out_chan chan,
    double *recv_ms, long n, long expect, double deadline, long *received,
    long *dups, long *api_err, double *last_ms);

/* The percentiles of n latencies into o, as KEYp50_ms, KEYp99_ms and
 * KEYp999_ms (p99.9); sorts v. */
static void
pcts_json(json_t *o, const char *key, double *v, size_t n)
{
	static const struct { const char *name; int q10; } q[] = {
		{ "p50_ms", 500 }, { "p99_ms", 990 }, { "p999_ms", 999 },
	};
	char k[64];
	size_t i, r;

	qsort(v, n, sizeof(*v), cmp_double);
	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		snprintf(k, sizeof(k), "%s%s", key, q[i].name);
		r = (n * (size_t)q[i].q10 + 999) / 1000;	/* nearest rank */
		json_object_set_new(o, k, json_real(n == 0 ? 0 :
		    v[r == 0 ? 0 : r - 1]));
	}
}

/* ---------------------------------------------------------------- inbound */

struct in_opts {
	const char	*url, *sig_url, *token_file, *from_base, *to, *prefix;
	const char	*account;
	const char	*wa_secret_file;	/* WhatsApp: Meta's notifications */
	const char	*pnid;			/* WhatsApp: phone_number_id */
	const char	*mg_secret_file;	/* Messenger: Meta's notifications */
	const char	*page;			/* Messenger: the Page */
	const char	*kannel;		/* Kannel: USER:PASS */
	const char	*sink;			/* Kannel: the sink's URL */
	long		 n, conc, timeout_s;
	double		 rate;			/* messages/s, 0: a burst */
	int		 retry;
};

struct slot {
	CURL		*easy;
	struct curl_slist *hdrs;
	char		*body;		/* or Kannel's URL */
	long		 msg;		/* index, -1 when idle */
	double		 first_ms;	/* first post of this message */
	double		 due_ms;	/* next post not before */
	int		 attempts;
	int		 busy;		/* added to the multi handle */
};

/* MessageSid "SM" + 32 hex, a hash of prefix and i (stable across runs). */
static void
msg_sid(const char *prefix, long i, char out[35])
{
	unsigned char h[16];
	char in[256];
	int len;

	len = snprintf(in, sizeof(in), "%s:%ld", prefix, i);
	if (crypto_generichash(h, sizeof(h), (unsigned char *)in, (size_t)len,
	    NULL, 0) != 0)
		die("generichash failed");
	memcpy(out, "SM", 2);
	sodium_bin2hex(out + 2, 33, h, sizeof(h));
}

/* A wamid "wamid.HBgL" + 32 hex, a hash of prefix and i (stable too). */
static void
wa_msg_id(const char *prefix, long i, char out[43])
{
	unsigned char h[16];
	char in[256];
	int len;

	len = snprintf(in, sizeof(in), "wa:%s:%ld", prefix, i);
	if (crypto_generichash(h, sizeof(h), (unsigned char *)in, (size_t)len,
	    NULL, 0) != 0)
		die("generichash failed");
	memcpy(out, "wamid.HBgL", 10);
	sodium_bin2hex(out + 10, 33, h, sizeof(h));
}

/*
 * Meta's notification of one inbound text from customer --from-base + i to
 * --phone-number-id (providers.md §1.4), signed with the app secret.
 * Every value is made of digits, hex or fixed words: nothing to escape.
 */
static void
slot_prepare_wa(struct slot *s, const struct in_opts *o, const char *secret,
    long i)
{
	char wamid[43], from[32], sig[SIG_META_LEN + 1], hdr[128];
	int len;

	wa_msg_id(o->prefix, i, wamid);
	e164_add(o->from_base, i, from, sizeof(from));
	free(s->body);
	if ((len = asprintf(&s->body,
	    "{\"object\":\"whatsapp_business_account\",\"entry\":[{"
	    "\"id\":\"102290129340398\",\"changes\":[{\"field\":\"messages\","
	    "\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{"
	    "\"display_phone_number\":\"15550783881\","
	    "\"phone_number_id\":\"%s\"},"
	    "\"contacts\":[{\"profile\":{\"name\":\"Bench Customer %ld\"},"
	    "\"wa_id\":\"%s\"}],"
	    "\"messages\":[{\"from\":\"%s\",\"id\":\"%s\","
	    "\"timestamp\":\"%lld\",\"type\":\"text\","
	    "\"text\":{\"body\":\"load %ld\"}}]}}]}]}",
	    o->pnid, i, from + 1, from + 1, wamid, (long long)time(NULL),
	    i)) < 0)
		die("out of memory");
	sig_meta(s->body, (size_t)len, secret, sig);

	curl_slist_free_all(s->hdrs);
	s->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	snprintf(hdr, sizeof(hdr), "X-Hub-Signature-256: %s", sig);
	s->hdrs = curl_slist_append(s->hdrs, hdr);
	if (s->hdrs == NULL)
		die("out of memory");
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)len);
	s->msg = i;
	s->attempts = 0;
	s->first_ms = 0;
	s->due_ms = 0;
}

/*
 * Meta's Messenger notification of one text from one of 1,000 customers
 * (i mod 1000, so that most names are cached, as in a day's traffic) to
 * --page (providers.md §2.3), signed with the app secret.
 */
static void
slot_prepare_mg(struct slot *s, const struct in_opts *o, const char *secret,
    long i)
{
	unsigned char h[16];
	char mid[40], in[256], sig[SIG_META_LEN + 1], hdr[128];
	long long ms = (long long)time(NULL) * 1000;
	int len;

	len = snprintf(in, sizeof(in), "mg:%s:%ld", o->prefix, i);
	if (crypto_generichash(h, sizeof(h), (unsigned char *)in, (size_t)len,
	    NULL, 0) != 0)
		die("generichash failed");
	memcpy(mid, "m_", 2);
	sodium_bin2hex(mid + 2, 33, h, sizeof(h));
	free(s->body);
	if ((len = asprintf(&s->body,
	    "{\"object\":\"page\",\"entry\":[{\"id\":\"%s\",\"time\":%lld,"
	    "\"messaging\":[{\"sender\":{\"id\":\"65432100%08ld\"},"
	    "\"recipient\":{\"id\":\"%s\"},\"timestamp\":%lld,"
	    "\"message\":{\"mid\":\"%s\",\"text\":\"load %ld\"}}]}]}",
	    o->page, ms, i % 1000, o->page, ms, mid, i)) < 0)
		die("out of memory");
	sig_meta(s->body, (size_t)len, secret, sig);

	curl_slist_free_all(s->hdrs);
	s->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	snprintf(hdr, sizeof(hdr), "X-Hub-Signature-256: %s", sig);
	s->hdrs = curl_slist_append(s->hdrs, hdr);
	if (s->hdrs == NULL)
		die("out of memory");
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)len);
	s->msg = i;
	s->attempts = 0;
	s->first_ms = 0;
	s->due_ms = 0;
}

/*
 * Kannel's request for message i: GET URL?username&password&from&to&text,
 * the text "bench i" (what the sink counts), from --from-base + i to --to.
 */
static void
slot_prepare_kannel(struct slot *s, const struct in_opts *o, long i)
{
	char from[32], *user, *pass, *colon, *efrom, *eto;

	e164_add(o->from_base, i, from, sizeof(from));
	colon = strchr(o->kannel, ':');
	user = curl_easy_escape(s->easy, o->kannel, (int)(colon - o->kannel));
	pass = curl_easy_escape(s->easy, colon + 1, 0);
	efrom = curl_easy_escape(s->easy, from, 0);
	eto = curl_easy_escape(s->easy, o->to, 0);
	if (user == NULL || pass == NULL || efrom == NULL || eto == NULL)
		die("out of memory");
	free(s->body);
	if (asprintf(&s->body, "%s%susername=%s&password=%s&from=%s&to=%s"
	    "&text=bench+%ld", o->url, strchr(o->url, '?') ? "&" : "?", user,
	    pass, efrom, eto, i) < 0)
		die("out of memory");
	curl_free(user);
	curl_free(pass);
	curl_free(efrom);
	curl_free(eto);
	curl_easy_setopt(s->easy, CURLOPT_URL, s->body);
	s->msg = i;
	s->attempts = 0;
	s->first_ms = 0;
	s->due_ms = 0;
}

static size_t
discard(char *p, size_t sz, size_t n, void *arg)
{
	return sz * n;
}

/* Build the signed request for message i into slot s. */
static void
slot_prepare(struct slot *s, const struct in_opts *o, const char *token,
    long i)
{
	struct form f;
	char sid[35], from[32], body[32], sig[SIG_TWILIO_LEN + 1];
	char hdr[64];
	size_t len;

	msg_sid(o->prefix, i, sid);
	e164_add(o->from_base, i, from, sizeof(from));
	snprintf(body, sizeof(body), "load %ld", i);
	form_init(&f);
	form_add(&f, "MessageSid", sid);
	form_add(&f, "SmsSid", sid);
	form_add(&f, "SmsMessageSid", sid);
	form_add(&f, "AccountSid", o->account);
	form_add(&f, "From", from);
	form_add(&f, "To", o->to);
	form_add(&f, "Body", body);
	form_add(&f, "NumMedia", "0");
	form_add(&f, "NumSegments", "1");
	form_add(&f, "SmsStatus", "received");
	form_add(&f, "ApiVersion", "2010-04-01");
	sig_twilio(o->sig_url, &f, token, sig);
	free(s->body);
	if ((s->body = form_encode(&f, &len)) == NULL)
		die("form_encode failed");
	form_free(&f);

	curl_slist_free_all(s->hdrs);
	s->hdrs = curl_slist_append(NULL,
	    "Content-Type: application/x-www-form-urlencoded");
	snprintf(hdr, sizeof(hdr), "X-Twilio-Signature: %s", sig);
	s->hdrs = curl_slist_append(s->hdrs, hdr);
	if (s->hdrs == NULL)
		die("out of memory");
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)len);
	s->msg = i;
	s->attempts = 0;
	s->first_ms = 0;
	s->due_ms = 0;
}

static int
mode_inbound(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "token", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'n' },
		{ "conc", required_argument, NULL, 'c' },
		{ "from-base", required_argument, NULL, 'F' },
		{ "to", required_argument, NULL, 'T' },
		{ "prefix", required_argument, NULL, 'P' },
		{ "account", required_argument, NULL, 'A' },
		{ "sig-url", required_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 'W' },
		{ "retry", no_argument, NULL, 'r' },
		{ "whatsapp", required_argument, NULL, 'w' },
		{ "phone-number-id", required_argument, NULL, 'p' },
		{ "messenger", required_argument, NULL, 'm' },
		{ "page", required_argument, NULL, 'g' },
		{ "kannel", required_argument, NULL, 'k' },
		{ "sink", required_argument, NULL, 'K' },
		{ "rate", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct in_opts o = { .from_base = "+1555000000", .to = "+15557654321",
	    .prefix = "SMtest", .account = DEF_ACCOUNT, .n = 0, .conc = 16,
	    .timeout_s = 600, .pnid = "106540352242922",
	    .page = "106540352242001" };
	struct codes codes = { .n = 0 };
	struct slot *slots;
	double *lat, *sent_ms, *recv_ms = NULL, t0, t_end, deadline;
	double max_late = 0, last_ms = 0;
	long next = 0, ok = 0, retries = 0, active, ok_code = 200;
	long received = 0, dups = 0, api_err = 0;
	char *token;
	CURLM *multi;
	json_t *sum;
	int ch, i, running, timed_out = 0;

	while ((ch = getopt_long(argc, argv, "u:t:n:c:", lo, NULL)) != -1) {
		switch (ch) {
		case 'u': o.url = optarg; break;
		case 't': o.token_file = optarg; break;
		case 'n': o.n = num_arg(optarg, 1, 100000000); break;
		case 'c': o.conc = num_arg(optarg, 1, 4096); break;
		case 'F': o.from_base = optarg; break;
		case 'T': o.to = optarg; break;
		case 'P': o.prefix = optarg; break;
		case 'A': o.account = optarg; break;
		case 'S': o.sig_url = optarg; break;
		case 'W': o.timeout_s = num_arg(optarg, 1, 86400); break;
		case 'r': o.retry = 1; break;
		case 'w': o.wa_secret_file = optarg; break;
		case 'p': o.pnid = optarg; break;
		case 'm': o.mg_secret_file = optarg; break;
		case 'g': o.page = optarg; break;
		case 'k': o.kannel = optarg; break;
		case 'K': o.sink = optarg; break;
		case 'R': o.rate = (double)num_arg(optarg, 1, 1000000); break;
		default: usage();
		}
	}
	if (o.url == NULL || o.n == 0 || optind != argc ||
	    (o.token_file != NULL) + (o.wa_secret_file != NULL) +
	    (o.mg_secret_file != NULL) + (o.kannel != NULL) != 1 ||
	    (o.kannel != NULL && strchr(o.kannel, ':') == NULL) ||
	    (o.sink != NULL && o.kannel == NULL))
		usage();
	if (o.kannel != NULL)
		ok_code = 202;		/* Kannel's "Sent." / "Accepted" */
	if (o.mg_secret_file != NULL) {
		char pg[32];

		digits_add(o.page, 0, pg, sizeof(pg));	/* dies if not digits */
	}
	if (o.wa_secret_file != NULL) {
		char pn[32];

		digits_add(o.pnid, 0, pn, sizeof(pn));	/* dies if not digits */
	}
	if (o.sig_url == NULL)
		o.sig_url = o.url;
	if (o.conc > o.n)
		o.conc = o.n;
	token = o.kannel != NULL ? NULL : read_token(o.wa_secret_file != NULL ?
	    o.wa_secret_file : o.mg_secret_file != NULL ? o.mg_secret_file :
	    o.token_file);

	if ((multi = curl_multi_init()) == NULL)
		die("curl_multi_init failed");
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, o.conc);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, o.conc);
	if ((slots = calloc((size_t)o.conc, sizeof(*slots))) == NULL ||
	    (lat = calloc((size_t)o.n, sizeof(*lat))) == NULL ||
	    (sent_ms = calloc((size_t)o.n, sizeof(*sent_ms))) == NULL ||
	    (o.sink != NULL &&
	    (recv_ms = calloc((size_t)o.n, sizeof(*recv_ms))) == NULL))
		die("out of memory");
	for (i = 0; i < o.conc; i++) {
		struct slot *s = &slots[i];

		if ((s->easy = curl_easy_init()) == NULL)
			die("curl_easy_init failed");
		curl_easy_setopt(s->easy, CURLOPT_URL, o.url);
		if (o.kannel != NULL)
			curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
		else
			curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, 30000L);
		curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
		curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
		s->msg = -1;
	}

	if (o.sink != NULL) {	/* what arrived in an earlier phase goes */
		CURL *e = curl_easy_init();
		char url[512];

		snprintf(url, sizeof(url), "%s/sink/reset", o.sink);
		if (e == NULL)
			die("curl_easy_init failed");
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
		if (curl_easy_perform(e) != CURLE_OK)
			die("%s: no answer", url);
		curl_easy_cleanup(e);
	}
	t0 = now_ms();
	deadline = t0 + o.timeout_s * 1e3;
	t_end = t0;
	for (;;) {
		CURLMsg *m;
		double now = now_ms(), wait_ms = 1000;
		int left;

		/* Give idle slots work and start what is due. */
		active = 0;
		for (i = 0; i < o.conc; i++) {
			struct slot *s = &slots[i];

			if (s->msg < 0 && next < o.n && o.rate > 0 &&
			    t0 + next * 1e3 / o.rate > now) {
				double d = t0 + next * 1e3 / o.rate - now;

				if (d < wait_ms)
					wait_ms = d;
			} else if (s->msg < 0 && next < o.n) {
				if (o.rate > 0 &&
				    now - (t0 + next * 1e3 / o.rate) > max_late)
					max_late = now - (t0 + next * 1e3 /
					    o.rate);
				if (o.kannel != NULL)
					slot_prepare_kannel(s, &o, next++);
				else if (o.wa_secret_file != NULL)
					slot_prepare_wa(s, &o, token, next++);
				else if (o.mg_secret_file != NULL)
					slot_prepare_mg(s, &o, token, next++);
				else
					slot_prepare(s, &o, token, next++);
			}
			if (s->msg < 0)
				continue;
			active++;
			if (s->busy)
				continue;
			if (s->due_ms > now) {
				if (s->due_ms - now < wait_ms)
					wait_ms = s->due_ms - now;
				continue;
			}
			if (s->first_ms == 0)
				s->first_ms = sent_ms[s->msg] = now;
			if (s->attempts++ > 0)
				retries++;
			if (curl_multi_add_handle(multi, s->easy) != CURLM_OK)
				die("curl_multi_add_handle failed");
			s->busy = 1;
		}
		if (active == 0 && next >= o.n)
			break;
		if (now > deadline) {
			timed_out = 1;
			break;
		}
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			die("curl_multi_perform failed");
		while ((m = curl_multi_info_read(multi, &left)) != NULL) {
			struct slot *s;
			char *priv = NULL;
			long code = 0;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
			    &priv);
			s = (struct slot *)(void *)priv;
			if (m->data.result == CURLE_OK)
				curl_easy_getinfo(s->easy,
				    CURLINFO_RESPONSE_CODE, &code);
			curl_multi_remove_handle(multi, s->easy);
			s->busy = 0;
			now = now_ms();
			if (code == ok_code) {
				lat[ok++] = now - s->first_ms;
				t_end = now;
				s->msg = -1;
				continue;
			}
			codes_add(&codes, code);
			if (!o.retry) {
				s->msg = -1;
				continue;
			}
			/* Back off 50..400 ms, with jitter. */
			s->due_ms = now + (s->attempts < 4 ?
			    50 << (s->attempts - 1) : 400) +
			    randombytes_uniform(50);
		}
		if (running > 0 || wait_ms > 0) {
			int w = wait_ms < 1 ? 1 : (int)wait_ms;

			if (w > 100)
				w = 100;
			if (curl_multi_poll(multi, NULL, 0, w, NULL) !=
			    CURLM_OK)
				die("curl_multi_poll failed");
		}
	}

	/* Kannel: wait until the sink has seen every message accepted. */
	if (o.sink != NULL && !timed_out) {
		char prefix[512];

		snprintf(prefix, sizeof(prefix), "%s/sink/received?", o.sink);
		timed_out = poll_received(prefix, OC_SMS, recv_ms, o.n, ok,
		    deadline, &received, &dups, &api_err, &last_ms);
	}

	sum = json_object();
	json_object_set_new(sum, "mode", json_string("inbound"));
	json_object_set_new(sum, "channel", json_string(o.kannel ? "kannel" :
	    o.wa_secret_file ? "whatsapp" : o.mg_secret_file ? "messenger" :
	    "sms"));
	json_object_set_new(sum, "sent", json_integer(o.n));
	json_object_set_new(sum, "ok", json_integer(ok));
	json_object_set_new(sum, "retries", json_integer(retries));
	json_object_set_new(sum, "non200", codes_json(&codes));
	json_object_set_new(sum, "seconds", json_real((t_end - t0) / 1e3));
	json_object_set_new(sum, "rate", json_real(t_end > t0 ?
	    ok / ((t_end - t0) / 1e3) : 0));
	pcts_json(sum, "", lat, (size_t)ok);
	if (o.rate > 0) {
		json_object_set_new(sum, "rate_asked", json_real(o.rate));
		json_object_set_new(sum, "max_late_ms", json_real(max_late));
	}
	if (o.sink != NULL) {
		long nl = 0;

		for (i = 0; i < o.n; i++)
			if (recv_ms[i] != 0 && sent_ms[i] != 0)
				lat[nl++] = recv_ms[i] - sent_ms[i];
		json_object_set_new(sum, "through", json_integer(received));
		json_object_set_new(sum, "through_duplicates",
		    json_integer(dups));
		json_object_set_new(sum, "through_seconds", json_real(
		    last_ms > t0 ? (last_ms - t0) / 1e3 : 0));
		json_object_set_new(sum, "through_rate", json_real(
		    last_ms > t0 ? received / ((last_ms - t0) / 1e3) : 0));
		pcts_json(sum, "through_", lat, (size_t)nl);
	}
	if (timed_out)
		json_object_set_new(sum, "timed_out", json_true());
	print_summary(sum);

	for (i = 0; i < o.conc; i++) {
		if (slots[i].busy)
			curl_multi_remove_handle(multi, slots[i].easy);
		curl_easy_cleanup(slots[i].easy);
		curl_slist_free_all(slots[i].hdrs);
		free(slots[i].body);
	}
	curl_multi_cleanup(multi);
	free(slots);
	free(lat);
	free(sent_ms);
	free(recv_ms);
	free(token);
	return ok == o.n && (o.sink == NULL || (received == ok && dups == 0)) ?
	    0 : 1;
}

/* --------------------------------------------------------------- outbound */

struct out_opts {
	const char	*sock, *to_base, *from, *sandbox;
	long		 n, conc, senders, recipients, timeout_s;
	double		 rate;		/* messages/s, 0: a burst */
	enum out_chan	 chan;		/* --channel */
};

/* A growable byte buffer (socket input, HTTP bodies). */
struct buf {
	char	*p;
	size_t	 len, cap;
};

static void
buf_add(struct buf *b, const void *d, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;

		while (b->len + n + 1 > cap)
			cap *= 2;
		if ((b->p = realloc(b->p, cap)) == NULL)
			die("out of memory");
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static size_t
buf_write(char *p, size_t sz, size_t n, void *arg)
{
	buf_add(arg, p, sz * n);
	return sz * n;
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("write to routerd: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

static void
send_frame(int fd, struct fbuf *fb)
{
	if (fbuf_finish(fb) != 0)
		die("frame too large");
	write_all(fd, fbuf_data(fb), fbuf_len(fb));
}

/*
 * Match the JSON lines of /sandbox/received (entries with serial n >= the
 * since asked for) to the "bench i" bodies sent; *since is moved past the
 * last entry read.
 */
static void
scan_received(const char *text, enum out_chan chan, uint64_t *since,
    double *recv_ms, long n, long *received, long *dups, long *api_err,
    double *last_ms)
{
	const char *line = text, *nl;

	for (; *line != '\0'; line = nl + 1) {
		json_t *o, *body, *ts, *params;
		json_error_t jerr;
		const char *b, *p;
		int64_t ms;
		long i;

		if ((nl = strchr(line, '\n')) == NULL)
			break;		/* a partial last line: asked again */
		if ((o = json_loadb(line, (size_t)(nl - line), 0, &jerr)) ==
		    NULL)
			continue;
		if (json_is_integer(json_object_get(o, "n")) &&
		    (uint64_t)json_integer_value(json_object_get(o, "n")) >=
		    *since)
			*since = (uint64_t)json_integer_value(
			    json_object_get(o, "n")) + 1;
		/* On Messenger only the Send API's calls (not the profile
		 * lookups, which fail for a customer sandboxd never saw). */
		if (chan == OC_MESSENGER) {
			p = json_string_value(json_object_get(o, "path"));
			if (p == NULL || strlen(p) < 9 ||
			    strcmp(p + strlen(p) - 9, "/messages") != 0) {
				json_decref(o);
				continue;
			}
		}
		/* Only message creations the API accepted (not refusals,
		 * not the webhooks sandboxd posted); refusals are counted. */
		if (json_is_string(json_object_get(o, "kind")) &&
		    strcmp(json_string_value(json_object_get(o, "kind")),
		    "request") == 0 &&
		    json_is_integer(json_object_get(o, "answer")) &&
		    json_integer_value(json_object_get(o, "answer")) / 100 != 2)
			(*api_err)++;
		if ((json_is_string(json_object_get(o, "kind")) &&
		    strcmp(json_string_value(json_object_get(o, "kind")),
		    "request") != 0) ||
		    (json_is_integer(json_object_get(o, "answer")) &&
		    json_integer_value(json_object_get(o, "answer")) / 100 !=
		    2)) {
			json_decref(o);
			continue;
		}
		if (chan == OC_WHATSAPP) {
			/* the Cloud API message JSON: text.body */
			body = json_object_get(json_object_get(json_object_get(
			    o, "body"), "text"), "body");
		} else if (chan == OC_MESSENGER) {
			/* the Send API JSON: message.text (a profile
			 * lookup's body is null) */
			body = json_object_get(json_object_get(json_object_get(
			    o, "body"), "message"), "text");
		} else {
			if ((params = json_object_get(o, "params")) == NULL)
				params = json_object_get(o, "form");
			body = json_object_get(params != NULL ? params : o,
			    "Body");
		}
		/* the WhatsApp and Messenger modules also stamp "ts_ms" */
		ts = json_object_get(o, "ts");
		if (json_is_integer(json_object_get(o, "ts_ms")))
			ms = json_integer_value(json_object_get(o, "ts_ms"));
		else if (!json_is_string(ts) ||
		    rec_ts_parse(json_string_value(ts), &ms) != 0)
			ms = -1;
		if (!json_is_string(body) || ms < 0) {
			json_decref(o);
			continue;
		}
		b = json_string_value(body);
		if (strncmp(b, "bench ", 6) == 0) {
			for (p = b + 6; *p >= '0' && *p <= '9'; p++)
				;
			i = (*p == '\0' && p > b + 6) ? atol(b + 6) : -1;
			if (i >= 0 && i < n) {
				if (recv_ms[i] != 0)
					(*dups)++;
				else {
					/* ms names a whole millisecond
					 * (sandboxd's and the sink's clocks
					 * are truncated), our own stamps are
					 * not: its middle, or every latency
					 * to the receiver reads 0.5 ms short
					 * (a p50 below 0 at 1,000/s) */
					recv_ms[i] = (double)ms + 0.5;
					(*received)++;
					if (ms > *last_ms)
						*last_ms = (double)ms;
				}
			}
		}
		json_decref(o);
	}
}

/*
 * Read PREFIX + "since=n" (sandboxd's or the sink's received log) every
 * 300 ms until expect bodies arrived; 1 when the deadline passed first.
 */
static int
poll_received(const char *prefix, enum out_chan chan, double *recv_ms,
    long n, long expect, double deadline, long *received, long *dups,
    long *api_err, double *last_ms)
{
	struct buf http = { NULL, 0, 0 };
	uint64_t since = 1;
	char url[1024];
	CURL *easy;
	int timed_out = 0;

	if ((easy = curl_easy_init()) == NULL)
		die("curl_easy_init failed");
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, buf_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &http);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 60000L);
	while (*received < expect) {
		long code = 0;

		http.len = 0;
		snprintf(url, sizeof(url), "%ssince=%llu", prefix,
		    (unsigned long long)since);
		curl_easy_setopt(easy, CURLOPT_URL, url);
		if (curl_easy_perform(easy) == CURLE_OK &&
		    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code) ==
		    CURLE_OK && code == 200 && http.p != NULL) {
			scan_received(http.p, chan, &since, recv_ms, n,
			    received, dups, api_err, last_ms);
		}
		if (*received >= expect)
			break;
		if (now_ms() > deadline) {
			timed_out = 1;
			break;
		}
		usleep(300 * 1000);
	}
	curl_easy_cleanup(easy);
	free(http.p);
	return timed_out;
}

static int
mode_outbound(int argc, char **argv)
{
	static const char *const chan_name[] = { "sms", "whatsapp",
	    "messenger" };
	static const char *const chan_api[] = { "twilio", "whatsapp",
	    "messenger" };
	static const struct option lo[] = {
		{ "sock", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "conc", required_argument, NULL, 'c' },
		{ "to-base", required_argument, NULL, 'T' },
		{ "from", required_argument, NULL, 'F' },
		{ "senders", required_argument, NULL, 'K' },
		{ "sandbox", required_argument, NULL, 'B' },
		{ "timeout", required_argument, NULL, 'W' },
		{ "recipients", required_argument, NULL, 'R' },
		{ "channel", required_argument, NULL, 'C' },
		{ "rate", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct out_opts o = { .to_base = "+15551000000", .from = NULL,
	    .sandbox = "http://127.0.0.1:8099", .conc = 64, .senders = 1,
	    .recipients = 0, .timeout_s = 600 };
	struct sockaddr_un sun;
	struct codes errs = { .n = 0 };
	struct buf in = { NULL, 0, 0 };
	double *sent_ms, *recv_ms, *queued_ms, *lat, t0, deadline, last_ms = 0;
	double max_late = 0;
	long next = 0, answered = 0, queued = 0, received = 0, dups = 0, i;
	long api_err = 0;
	long outstanding = 0, nlat = 0;
	msgpack_unpacked up;
	struct fbuf fb;
	char prefix[512];
	json_t *sum;
	int ch, fd, timed_out = 0;

	while ((ch = getopt_long(argc, argv, "s:n:c:", lo, NULL)) != -1) {
		switch (ch) {
		case 's': o.sock = optarg; break;
		case 'n': o.n = num_arg(optarg, 1, 100000000); break;
		case 'c': o.conc = num_arg(optarg, 1, 65536); break;
		case 'T': o.to_base = optarg; break;
		case 'F': o.from = optarg; break;
		case 'K': o.senders = num_arg(optarg, 1, 10000); break;
		case 'B': o.sandbox = optarg; break;
		case 'W': o.timeout_s = num_arg(optarg, 1, 86400); break;
		case 'R': o.recipients = num_arg(optarg, 1, 100000000); break;
		case 'r': o.rate = (double)num_arg(optarg, 1, 1000000); break;
		case 'C':
			if (strcmp(optarg, "whatsapp") == 0)
				o.chan = OC_WHATSAPP;
			else if (strcmp(optarg, "messenger") == 0)
				o.chan = OC_MESSENGER;
			else if (strcmp(optarg, "sms") == 0)
				o.chan = OC_SMS;
			else
				usage();
			break;
		default: usage();
		}
	}
	if (o.sock == NULL || o.n == 0 || optind != argc ||
	    (o.chan == OC_MESSENGER && o.from == NULL))
		usage();	/* on Messenger --from is the Page's id */
	if (o.from == NULL)
		o.from = o.chan == OC_WHATSAPP ? "106540352242922" :
		    "+15557654321";
	if (o.recipients == 0)
		o.recipients = o.n;	/* everyone new */
	if ((sent_ms = calloc((size_t)o.n, sizeof(double))) == NULL ||
	    (recv_ms = calloc((size_t)o.n, sizeof(double))) == NULL ||
	    (queued_ms = calloc((size_t)o.n, sizeof(double))) == NULL ||
	    (lat = calloc((size_t)o.n, sizeof(double))) == NULL)
		die("out of memory");

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(o.sock) >= sizeof(sun.sun_path))
		die("socket path too long: %s", o.sock);
	strcpy(sun.sun_path, o.sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		die("%s: %s", o.sock, strerror(errno));

	fbuf_init(&fb);
	msgpack_unpacked_init(&up);
	fbuf_begin(&fb, 4);
	mp_kv_str(&fb.pk, "t", "hello");
	mp_kv_int(&fb.pk, "id", 0);
	mp_kv_int(&fb.pk, "v", PROTO_VERSION);
	mp_kv_str(&fb.pk, "name", "loadgen");
	send_frame(fd, &fb);

	t0 = now_ms();
	deadline = t0 + o.timeout_s * 1e3;
	/* Phase 1: every request sent and answered ("queued" committed). */
	while (answered < o.n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char rb[65536];
		size_t used, off = 0;
		ssize_t r;
		int rc, wait = 1000;

		while (next < o.n && outstanding < o.conc) {
			char to[48], from[32], text[32];
			double now = now_ms(), due = t0 + next * 1e3 /
			    (o.rate > 0 ? o.rate : 1e300);

			if (o.rate > 0 && due > now) {
				wait = (int)(due - now) + 1;
				break;
			}
			if (o.rate > 0 && now - due > max_late)
				max_late = now - due;

			if (o.chan == OC_WHATSAPP) {
				memcpy(to, "whatsapp:", 9);
				e164_add(o.to_base, next % o.recipients,
				    to + 9, sizeof(to) - 9);
				digits_add(o.from, next % o.senders, from,
				    sizeof(from));
			} else if (o.chan == OC_MESSENGER) {
				memcpy(to, "messenger:", 10);
				digits_add(o.to_base, next % o.recipients,
				    to + 10, sizeof(to) - 10);
				digits_add(o.from, next % o.senders, from,
				    sizeof(from));
			} else {
				e164_add(o.to_base, next % o.recipients, to,
				    sizeof(to));
				e164_add(o.from, next % o.senders, from,
				    sizeof(from));
			}
			snprintf(text, sizeof(text), "bench %ld", next);
			fbuf_begin(&fb, 6);
			mp_kv_str(&fb.pk, "t", "send");
			mp_kv_int(&fb.pk, "id", next + 1);
			mp_kv_str(&fb.pk, "text", text);
			mp_kv_str(&fb.pk, "to", to);
			mp_kv_str(&fb.pk, "from", from);
			mp_kv_str(&fb.pk, "channel", chan_name[o.chan]);
			sent_ms[next] = now_ms();
			send_frame(fd, &fb);
			next++;
			outstanding++;
		}
		if (now_ms() > deadline) {
			timed_out = 1;
			break;
		}
		if ((rc = poll(&pfd, 1, wait)) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (rc <= 0)
			continue;
		if ((r = read(fd, rb, sizeof(rb))) < 0) {
			if (errno == EINTR)
				continue;
			die("read from routerd: %s", strerror(errno));
		}
		if (r == 0)
			die("routerd closed the connection after %ld answers",
			    answered);
		buf_add(&in, rb, (size_t)r);
		for (;;) {
			const char *why = NULL;
			int64_t re;

			rc = frame_decode(in.p + off, in.len - off, &up, &used,
			    &why);
			if (rc < 0)
				die("bad frame from routerd: %s", why);
			if (rc == 0)
				break;
			off += used;
			if (!mp_int(&up.data, "re", &re) || re == 0)
				continue;
			answered++;
			outstanding--;
			if (re >= 1 && re <= o.n)
				queued_ms[re - 1] = now_ms();
			if (mp_get(&up.data, "ok") != NULL)
				queued++;
			else
				codes_add(&errs, -1);
		}
		memmove(in.p, in.p + off, in.len - off);
		in.len -= off;
	}
	close(fd);

	/* Phase 2: wait for sandboxd to have received every queued body. */
	snprintf(prefix, sizeof(prefix), "%s/sandbox/received?api=%s&"
	    "kind=request&", o.sandbox, chan_api[o.chan]);
	if (!timed_out)
		timed_out = poll_received(prefix, o.chan, recv_ms, o.n,
		    queued, deadline, &received, &dups, &api_err, &last_ms);

	for (i = 0; i < o.n; i++)
		if (recv_ms[i] != 0)
			lat[nlat++] = recv_ms[i] - sent_ms[i];
	sum = json_object();
	json_object_set_new(sum, "mode", json_string("outbound"));
	json_object_set_new(sum, "channel", json_string(chan_name[o.chan]));
	json_object_set_new(sum, "sent", json_integer(o.n));
	json_object_set_new(sum, "queued", json_integer(queued));
	json_object_set_new(sum, "refused", json_integer(answered - queued));
	json_object_set_new(sum, "received", json_integer(received));
	json_object_set_new(sum, "duplicates", json_integer(dups));
	json_object_set_new(sum, "api_errors", json_integer(api_err));
	json_object_set_new(sum, "seconds", json_real(last_ms > t0 ?
	    (last_ms - t0) / 1e3 : 0));
	json_object_set_new(sum, "rate", json_real(last_ms > t0 ?
	    received / ((last_ms - t0) / 1e3) : 0));
	pcts_json(sum, "", lat, (size_t)nlat);
	for (nlat = 0, i = 0; i < o.n; i++)
		if (recv_ms[i] != 0 && queued_ms[i] != 0)
			lat[nlat++] = recv_ms[i] - queued_ms[i];
	pcts_json(sum, "q_", lat, (size_t)nlat);
	if (o.rate > 0) {
		json_object_set_new(sum, "rate_asked", json_real(o.rate));
		json_object_set_new(sum, "max_late_ms", json_real(max_late));
	}
	if (timed_out)
		json_object_set_new(sum, "timed_out", json_true());
	print_summary(sum);

	msgpack_unpacked_destroy(&up);
	fbuf_free(&fb);
	free(in.p);
	free(sent_ms);
	free(recv_ms);
	free(queued_ms);
	free(lat);
	return received == o.n && dups == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------- sign */

static int
mode_sign(int argc, char **argv)
{
	char sig[SIG_TWILIO_LEN + 1], *token;
	const char *tf = NULL;
	struct form f;
	int ch, i;

	while ((ch = getopt(argc, argv, "t:")) != -1) {
		if (ch != 't')
			usage();
		tf = optarg;
	}
	if (tf == NULL || optind >= argc)
		usage();
	token = read_token(tf);
	form_init(&f);
	for (i = optind + 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (eq == NULL)
			usage();
		*eq = '\0';
		form_add(&f, argv[i], eq + 1);
	}
	sig_twilio(argv[optind], &f, token, sig);
	printf("%s\n", sig);
	form_free(&f);
	free(token);
	return 0;
}

/* -------------------------------------------------------------------- raw */

/*
 * Connect to a Unix socket, write stdin to it and wait up to -w ms for the
 * peer to close.  Prints "closed" (exit 0) or "open" (exit 1).
 */
static int
mode_raw(int argc, char **argv)
{
	struct sockaddr_un sun;
	const char *path = NULL;
	char b[65536];
	double deadline;
	long wait_ms = 3000;
	ssize_t n;
	int ch, fd, closed = 0;

	while ((ch = getopt(argc, argv, "s:w:")) != -1) {
		switch (ch) {
		case 's': path = optarg; break;
		case 'w': wait_ms = num_arg(optarg, 1, 600000); break;
		default: usage();
		}
	}
	if (path == NULL || optind != argc)
		usage();
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		die("socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		die("%s: %s", path, strerror(errno));
	while ((n = read(0, b, sizeof(b))) > 0) {
		const char *p = b;

		while (n > 0) {
			ssize_t w = write(fd, p, (size_t)n);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {	/* dropped while we were writing */
				closed = 1;
				n = 0;
				break;
			}
			p += w;
			n -= w;
		}
	}
	deadline = now_ms() + wait_ms;
	while (!closed && now_ms() < deadline) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int rc = poll(&pfd, 1, 100);

		if (rc < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (rc > 0 && (n = read(fd, b, sizeof(b))) <= 0)
			closed = 1;
	}
	close(fd);
	printf("%s\n", closed ? "closed" : "open");
	return closed ? 0 : 1;
}

/* ------------------------------------------------------------------ spawn */

static int
mode_spawn(int argc, char **argv)
{
	double *t, t0;
	long n = 0, i, failed = 0;
	json_t *sum;
	int ch, devnull;

	while ((ch = getopt(argc, argv, "+n:")) != -1) {
		if (ch != 'n')
			usage();
		n = num_arg(optarg, 1, 100000);
	}
	if (n == 0 || optind >= argc)
		usage();
	if ((t = calloc((size_t)n, sizeof(*t))) == NULL)
		die("out of memory");
	if ((devnull = open("/dev/null", O_RDWR)) < 0)
		die("/dev/null: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		int status;
		pid_t pid;

		t0 = now_ms();
		if ((pid = fork()) < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
			execvp(argv[optind], argv + optind);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) < 0)
			die("waitpid: %s", strerror(errno));
		t[i] = now_ms() - t0;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	close(devnull);
	sum = json_object();
	json_object_set_new(sum, "mode", json_string("spawn"));
	json_object_set_new(sum, "runs", json_integer(n));
	json_object_set_new(sum, "failed", json_integer(failed));
	json_object_set_new(sum, "p50_ms", json_real(pct(t, (size_t)n, 50)));
	json_object_set_new(sum, "p90_ms", json_real(pct(t, (size_t)n, 90)));
	json_object_set_new(sum, "min_ms", json_real(t[0]));
	print_summary(sum);
	free(t);
	return failed == 0 ? 0 : 1;
}

/* ----------------------------------------------------------------- commit */

#define COMMIT_FILE_PAGES	16384		/* 64 MiB */

static const char *commit_file;		/* ours once made: removed on failure */

static void __attribute__((noreturn))
commit_fail(const char *what)
{
	int e = errno;

	unlink(commit_file);
	die("%s: %s: %s", commit_file, what, strerror(e));
}

static int
mode_commit(int argc, char **argv)
{
	static unsigned char page[4096];
	const char *file = NULL;
	long n = 0, p = 0, i, j;
	double *t, t0;
	json_t *sum;
	int ch, fd, mfd;

	while ((ch = getopt(argc, argv, "f:p:n:")) != -1) {
		switch (ch) {
		case 'f': file = optarg; break;
		case 'p': p = num_arg(optarg, 1, 4096); break;
		case 'n': n = num_arg(optarg, 1, 1000000); break;
		default: usage();
		}
	}
	if (file == NULL || n == 0 || p == 0 || optind != argc)
		usage();
	if ((t = calloc((size_t)n, sizeof(*t))) == NULL)
		die("out of memory");
	if ((fd = open(file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		die("%s: %s", file, strerror(errno));
	commit_file = file;
	if ((mfd = open(file, O_WRONLY | O_DSYNC | O_CLOEXEC)) < 0)
		commit_fail("open");
	/* a grown file: pages are rewritten in place, as in a store in use */
	for (i = 0; i < COMMIT_FILE_PAGES; i++)
		if (write(fd, page, sizeof(page)) != (ssize_t)sizeof(page))
			commit_fail("write");
	if (fsync(fd) < 0)
		commit_fail("fsync");
	randombytes_buf(page, sizeof(page));
	for (i = 0; i < n; i++) {
		t0 = now_ms();
		for (j = 0; j < p; j++) {
			off_t at = (off_t)(1 + randombytes_uniform(
			    COMMIT_FILE_PAGES - 1)) * (off_t)sizeof(page);

			if (pwrite(fd, page, sizeof(page), at) !=
			    (ssize_t)sizeof(page))
				break;
		}
		if (j < p || fdatasync(fd) < 0 ||
		    pwrite(mfd, page, sizeof(page), 0) != (ssize_t)sizeof(page))
			commit_fail("commit");
		t[i] = now_ms() - t0;
		usleep(1000);
	}
	close(mfd);
	close(fd);
	unlink(file);
	sum = json_object();
	json_object_set_new(sum, "mode", json_string("commit"));
	json_object_set_new(sum, "pages", json_integer(p));
	json_object_set_new(sum, "commits", json_integer(n));
	pcts_json(sum, "", t, (size_t)n);
	print_summary(sum);
	free(t);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *mode;
	int rc;

	if (argc < 2)
		usage();
	mode = argv[1];
	signal(SIGPIPE, SIG_IGN);	/* a dropped peer is an answer here */
	if (sodium_init() < 0)
		die("sodium_init failed");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		die("curl_global_init failed");
	argc--;
	argv++;
	if (strcmp(mode, "inbound") == 0)
		rc = mode_inbound(argc, argv);
	else if (strcmp(mode, "outbound") == 0)
		rc = mode_outbound(argc, argv);
	else if (strcmp(mode, "sign") == 0)
		rc = mode_sign(argc, argv);
	else if (strcmp(mode, "raw") == 0)
		rc = mode_raw(argc, argv);
	else if (strcmp(mode, "spawn") == 0)
		rc = mode_spawn(argc, argv);
	else if (strcmp(mode, "commit") == 0)
		rc = mode_commit(argc, argv);
	else
		usage();
	curl_global_cleanup();
	return rc;
}
