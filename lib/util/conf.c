/*
 * conf — parley.conf(5) parsing.  Every key parley knows is in the table
 * below with its default; an unknown key is an error with file:line so a typo
 * never silently falls back to a default.  The environment (PARLEY_<KEY>)
 * overrides the file, as postfix's -o does on the command line.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "str.h"

#define CONF_DEFAULT	"/etc/parley/parley.conf"
#define CONF_LINEMAX	4096
#define SECRET_MAX	4096

static const struct {
	const char *key;
	const char *def;
} keys[] = {
	{ "home",			"/var/lib/parley" },
	{ "twilio_api_url",		"https://api.twilio.com" },
	{ "twilio_account_sid",		"" },
	{ "twilio_auth_token_file",	"secrets/twilio_auth_token" },
	{ "twilio_webhook_url",		"http://127.0.0.1:8083" },
	{ "smsd_listen",		"127.0.0.1:8083" },
	{ "sms_rate",			"1" },
	{ "sms_burst",			"1" },
	{ "sms_max_inflight",		"256" },
	{ "http_timeout_ms",		"15000" },
	{ "whatsappd_listen",		"127.0.0.1:8081" },
	{ "whatsapp_api_url",		"https://graph.facebook.com" },
	{ "whatsapp_api_version",	"v23.0" },
	{ "whatsapp_token_file",	"secrets/whatsapp_token" },
	{ "whatsapp_app_secret_file",	"secrets/whatsapp_app_secret" },
	{ "whatsapp_verify_token_file",	"secrets/whatsapp_verify_token" },
	{ "whatsapp_numbers",		"" },
	{ "whatsapp_rate",		"80" },
	{ "whatsapp_tier",		"1000" },
	{ "whatsapp_max_inflight",	"256" },
	{ "messengerd_listen",		"127.0.0.1:8082" },
	{ "messenger_api_url",		"https://graph.facebook.com" },
	{ "messenger_api_version",	"v23.0" },
	{ "messenger_pages",		"" },
	{ "messenger_token_dir",	"secrets/messenger" },
	{ "messenger_app_secret_file",	"secrets/messenger_app_secret" },
	{ "messenger_verify_token_file", "secrets/messenger_verify_token" },
	{ "messenger_rate",		"300" },
	{ "instagram_rate",		"300" },
	{ "messenger_av_rate",		"10" },
	{ "messenger_max_inflight",	"256" },
	{ "messenger_profile_ttl_s",	"604800" },
	{ "messenger_profile_wait_ms",	"2000" },
	{ "sandbox_listen",		"127.0.0.1:8099" },
	{ "sandbox_sms_inbound_url",	"http://127.0.0.1:8083/twilio/inbound" },
	{ "sandbox_status_delay_ms",	"20" },
	{ "sandbox_whatsapp_webhook_url", "http://127.0.0.1:8081/whatsapp/webhook" },
	{ "sandbox_whatsapp_rate",	"80" },
	{ "sandbox_whatsapp_window_s",	"86400" },
	{ "sandbox_messenger_webhook_url", "http://127.0.0.1:8082/messenger/webhook" },
	{ "sandbox_messenger_rate",	"300" },
	{ "sandbox_messenger_window_s",	"86400" },
	{ "sandbox_messenger_human_window_s", "604800" },
	{ "store_map_size_mb",		"64" },
	{ "store_map_max_mb",		"4096" },
	{ "drain_timeout_ms",		"10000" },
	{ "bus_max_per_user",		"64" },
	{ "bus_frame_timeout_ms",	"10000" },
	{ "bus_input_budget_mb",	"64" },
	{ "subscriber_queue_kb",	"512" },
	{ "subscriber_stall_ms",	"10000" },
	/* every HTTP listener's budgets (lib/httpd) */
	{ "http_header_timeout_ms",	"10000" },
	{ "http_body_timeout_ms",	"30000" },
	{ "http_idle_timeout_ms",	"75000" },
	{ "http_max_connections",	"1000" },
	{ "http_body_budget_mb",	"64" },
	/* statsd(8) */
	{ "statsd_listen",		"127.0.0.1:8090" },
	{ "statsd_http_users",		"" },
	{ "stats_timezone",		"UTC" },
	{ "statsd_commit_ms",		"1000" },
	{ "clock_offset_ms",		"0" },
	/* consent keywords and automatic replies (routerd_policy.c) */
	{ "sms_help_text",		"Reply STOP to unsubscribe." },
	{ "sms_stop_text",		"" },
	{ "sms_start_text",		"" },
	{ "optout_keywords_sms",	"" },
	{ "optin_keywords_sms",		"" },
	{ "optout_keywords_whatsapp",	"" },
	{ "optin_keywords_whatsapp",	"" },
	{ "optout_keywords_messenger",	"" },
	{ "optin_keywords_messenger",	"" },
	{ "optout_reply_text",		"" },
	{ "optin_reply_text",		"" },
	/* the bus over NATS JetStream (parley-cluster(7)) */
	{ "bus_transport",		"unix" },
	{ "nats_servers",		"nats://127.0.0.1:4222" },
	{ "nats_token_file",		"" },
	{ "nats_prefix",		"parley" },
	{ "nats_shard",			"" },
	{ "nats_shards",		"" },
	{ "nats_addresses",		"" },
	{ "nats_default_shard",		"" },
	{ "nats_shard_confs",		"" },
	{ "nats_replicas",		"3" },
	{ "nats_dupe_window_s",		"604800" },
	{ "nats_ack_wait_ms",		"30000" },
	{ "nats_publish_timeout_ms",	"5000" },
	{ "nats_batch",			"128" },
};
#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

struct conf {
	char	 file[PATH_MAX];
	char	 dir[PATH_MAX];
	char	*val[NKEYS];
};

static int
key_index(const char *k)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].key, k) == 0)
			return (int)i;
	return -1;
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < NKEYS; i++)
		free(c->val[i]);
	free(c);
}

struct conf *
conf_load(const char *path, char *err, size_t errsz)
{
	struct conf *c;
	FILE *fp = NULL;
	char line[CONF_LINEMAX + 2], *p, *k, *v, *eq;
	int lineno = 0, idx, optional = 0;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	if (path == NULL || *path == '\0')
		path = getenv("PARLEY_CONF");
	if (path == NULL || *path == '\0') {
		path = CONF_DEFAULT;
		optional = 1;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		if (optional && errno == ENOENT)
			return c;
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (realpath(path, c->file) == NULL)
		snprintf(c->file, sizeof(c->file), "%s", path);
	snprintf(c->dir, sizeof(c->dir), "%s", c->file);
	if ((p = strrchr(c->dir, '/')) != NULL)
		*(p == c->dir ? p + 1 : p) = '\0';
	else
		snprintf(c->dir, sizeof(c->dir), ".");

	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			snprintf(err, errsz, "%s:%d: line too long", path, lineno);
			goto fail;
		}
		p = str_trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			snprintf(err, errsz, "%s:%d: expected \"key = value\"",
			    path, lineno);
			goto fail;
		}
		*eq = '\0';
		k = str_trim(p);
		v = str_trim(eq + 1);
		if (*k == '\0') {
			snprintf(err, errsz, "%s:%d: missing key", path, lineno);
			goto fail;
		}
		if ((idx = key_index(k)) == -1) {
			snprintf(err, errsz, "%s:%d: unknown key \"%.64s\"",
			    path, lineno, k);
			goto fail;
		}
		if (c->val[idx] != NULL) {
			snprintf(err, errsz, "%s:%d: \"%s\" set twice", path,
			    lineno, k);
			goto fail;
		}
		if ((c->val[idx] = strdup(v)) == NULL) {
			snprintf(err, errsz, "out of memory");
			goto fail;
		}
	}
	if (ferror(fp)) {
		snprintf(err, errsz, "%s: read error", path);
		goto fail;
	}
	fclose(fp);
	return c;
fail:
	if (fp)
		fclose(fp);
	conf_free(c);
	return NULL;
}

const char *
conf_file(const struct conf *c)
{
	return c->file;
}

const char *
conf_get(const struct conf *c, const char *key)
{
	char env[80];
	const char *e;
	int idx = key_index(key);
	size_t i;

	if (idx == -1)
		return NULL;
	snprintf(env, sizeof(env), "PARLEY_%s", key);
	for (i = 7; env[i]; i++)
		env[i] = toupper((unsigned char)env[i]);
	if ((e = getenv(env)) != NULL && *e != '\0')
		return e;
	if (c->val[idx] != NULL)
		return c->val[idx];
	return keys[idx].def;
}

int
conf_int(const struct conf *c, const char *key, long long min, long long max,
    long long *out, char *err, size_t errsz)
{
	const char *v = conf_get(c, key);
	char *end;
	long long n;

	if (v == NULL) {
		snprintf(err, errsz, "unknown key %s", key);
		return -1;
	}
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v || *end != '\0' || n < min || n > max) {
		snprintf(err, errsz, "%s%s%s = %s: not an integer in [%lld, %lld]",
		    c->file[0] ? c->file : "", c->file[0] ? ": " : "", key, v,
		    min, max);
		return -1;
	}
	*out = n;
	return 0;
}

char *
conf_path(const struct conf *c, const char *value)
{
	char *p;
	const char *dir = c->dir[0] ? c->dir : ".";

	if (value[0] == '/')
		return strdup(value);
	if (asprintf(&p, "%s/%s", dir, value) == -1)
		return NULL;
	return p;
}

char *
conf_secret(const struct conf *c, const char *key, char *err, size_t errsz)
{
	const char *v = conf_get(c, key);

	if (v == NULL || *v == '\0') {
		snprintf(err, errsz, "%s is not set", key);
		return NULL;
	}
	return conf_secret_at(c, v, err, errsz);
}

char *
conf_secret_line(const struct conf *c, const char *key, char *err,
    size_t errsz)
{
	char e[512], *s;

	if ((s = conf_secret(c, key, e, sizeof(e))) == NULL) {
		snprintf(err, errsz, "%s: %s", key, e);
		return NULL;
	}
	if (s[0] == '\0' || strpbrk(s, "\r\n") != NULL) {
		snprintf(err, errsz, "%s: the file must hold one non-empty "
		    "line", key);
		conf_secret_free(s);
		return NULL;
	}
	return s;
}

void
conf_secret_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

char *
conf_secret_at(const struct conf *c, const char *v, char *err, size_t errsz)
{
	char *path = NULL, *buf = NULL;
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd = -1;

	if ((path = conf_path(c, v)) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errsz, "%s: not a regular file", path);
		goto fail;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errsz, "%s: secret is readable by group or "
		    "others (mode %03o); chmod 600 it", path,
		    (unsigned)(st.st_mode & 0777));
		goto fail;
	}
	if ((buf = malloc(SECRET_MAX + 1)) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	while ((n = read(fd, buf + len, SECRET_MAX - len)) > 0)
		len += n;
	if (n == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto fail;
	}
	buf[len] = '\0';
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	if (len == 0) {
		snprintf(err, errsz, "%s: secret is empty", path);
		goto fail;
	}
	close(fd);
	free(path);
	return buf;
fail:
	if (fd != -1)
		close(fd);
	free(path);
	if (buf)
		explicit_bzero(buf, SECRET_MAX);
	free(buf);
	return NULL;
}

char *
conf_url(const struct conf *c, const char *key, char *err, size_t errsz)
{
	const char *v = conf_get(c, key);
	char *u;
	size_t n;

	if (v == NULL || (strncmp(v, "http://", 7) != 0 &&
	    strncmp(v, "https://", 8) != 0)) {
		snprintf(err, errsz, "%s: not an http(s) URL", key);
		return NULL;
	}
	if ((u = strdup(v)) == NULL) {
		snprintf(err, errsz, "%s: out of memory", key);
		return NULL;
	}
	n = strlen(u);
	while (n > 0 && u[n - 1] == '/')
		u[--n] = '\0';
	return u;
}

int
conf_listen(const struct conf *c, const char *key, char **host, int *port,
    char *err, size_t errsz)
{
	const char *v = conf_get(c, key), *colon, *h, *he;
	char *end;
	long p;

	if (v == NULL || (colon = strrchr(v, ':')) == NULL || colon == v)
		goto bad;
	h = v;
	he = colon;
	if (*h == '[') {
		if (colon[-1] != ']')
			goto bad;
		h++;
		he = colon - 1;
	}
	if (he <= h)
		goto bad;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || *end != '\0' || end == colon + 1 || p < 1 || p > 65535)
		goto bad;
	if ((*host = strndup(h, (size_t)(he - h))) == NULL) {
		snprintf(err, errsz, "%s: out of memory", key);
		return -1;
	}
	*port = (int)p;
	return 0;
bad:
	snprintf(err, errsz, "%s: expected host:port", key);
	return -1;
}
