/*
 * t_conf — parley.conf(5) as a sysadmin meets it: "key = value" lines with
 * comments and blank lines, errors that name file:line, a typo that is an
 * error rather than a silent default, PARLEY_<KEY> overriding the file,
 * integer bounds, and secrets that are refused while group or world
 * readable and found relative to the configuration's directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "natsbus.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

static char dir[256];

/* Write text to dir/name with mode; the full path into path. */
static void
put(const char *name, const char *text, mode_t mode, char *path, size_t psz)
{
	FILE *fp;

	snprintf(path, psz, "%s/%s", dir, name);
	if ((fp = fopen(path, "w")) == NULL || fputs(text, fp) == EOF ||
	    fclose(fp) == EOF || chmod(path, mode) == -1) {
		perror(path);
		exit(99);
	}
}

static int
has(const char *s, const char *sub)
{
	return s != NULL && strstr(s, sub) != NULL;
}

int
main(void)
{
	static const char *envs[] = { "PARLEY_CONF", "PARLEY_HOME",
	    "PARLEY_SMS_RATE", "PARLEY_SMS_BURST", "PARLEY_TWILIO_API_URL",
	    "PARLEY_TWILIO_ACCOUNT_SID", "PARLEY_TWILIO_AUTH_TOKEN_FILE",
	    "PARLEY_HTTP_TIMEOUT_MS", NULL };
	char path[512], bad[512], want[600], err[512], sub[300];
	struct conf *c;
	long long v;
	char *s;
	int i;

	for (i = 0; envs[i]; i++)
		unsetenv(envs[i]);
	snprintf(dir, sizeof(dir), "/tmp/t_conf.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	/* conf keeps the real path of its file: compare like with like */
	if ((s = realpath(dir, NULL)) != NULL) {
		snprintf(dir, sizeof(dir), "%s", s);
		free(s);
	}
	snprintf(sub, sizeof(sub), "%s/secrets", dir);
	if (mkdir(sub, 0700) == -1) {
		perror(sub);
		return 99;
	}

	put("parley.conf",
	    "# parley test configuration\n"
	    "\n"
	    "   \t\n"
	    "home = /srv/parley\n"
	    "  # an indented comment\n"
	    "sms_rate=50\n"
	    "\ttwilio_account_sid   =   AC00000000000000000000000000000001  \n"
	    "twilio_auth_token_file = secrets/token\n"
	    "http_timeout_ms = 12x\n"
	    "twilio_api_url =\n",
	    0644, path, sizeof(path));
	err[0] = '\0';
	c = conf_load(path, err, sizeof(err));
	ok(c != NULL, "a file with comments and blank lines loads");
	if (c == NULL) {
		printf("# %s\n", err);
		printf("1..%d\n", n);
		return 1;
	}
	ok(strcmp(conf_get(c, "home"), "/srv/parley") == 0 &&
	    strcmp(conf_get(c, "sms_rate"), "50") == 0,
	    "key = value and key=value both read");
	ok(strcmp(conf_get(c, "twilio_account_sid"),
	    "AC00000000000000000000000000000001") == 0,
	    "spaces and tabs around key and value are trimmed");
	ok(strcmp(conf_get(c, "sms_burst"), "1") == 0 &&
	    strcmp(conf_get(c, "smsd_listen"), "127.0.0.1:8083") == 0,
	    "an unset key has its built-in default");
	ok(conf_get(c, "twilio_api_url") != NULL,
	    "a key set to nothing still reads (empty or default)");
	ok(conf_get(c, "no_such_key") == NULL,
	    "conf_get of an unknown key is NULL");
	ok(has(conf_file(c), "parley.conf"), "conf_file names the file");

	/* conf_int */
	ok(conf_int(c, "sms_rate", 1, 10000, &v, err, sizeof(err)) == 0 &&
	    v == 50, "conf_int reads 50 in [1,10000]");
	err[0] = '\0';
	ok(conf_int(c, "sms_rate", 1, 10, &v, err, sizeof(err)) == -1 &&
	    has(err, "sms_rate"), "conf_int refuses 50 outside [1,10], "
	    "naming the key");
	err[0] = '\0';
	ok(conf_int(c, "http_timeout_ms", 1, 100000, &v, err,
	    sizeof(err)) == -1 && has(err, "http_timeout_ms"),
	    "conf_int refuses \"12x\"");
	ok(conf_int(c, "sms_burst", 1, 1, &v, err, sizeof(err)) == 0 &&
	    v == 1, "conf_int accepts a value equal to both bounds");

	/* environment overrides */
	setenv("PARLEY_SMS_RATE", "77", 1);
	setenv("PARLEY_HOME", "/elsewhere", 1);
	ok(strcmp(conf_get(c, "sms_rate"), "77") == 0 &&
	    conf_int(c, "sms_rate", 1, 10000, &v, err, sizeof(err)) == 0 &&
	    v == 77, "PARLEY_SMS_RATE overrides the file");
	ok(strcmp(conf_get(c, "home"), "/elsewhere") == 0,
	    "PARLEY_HOME overrides home");
	setenv("PARLEY_SMS_BURST", "9", 1);
	ok(strcmp(conf_get(c, "sms_burst"), "9") == 0,
	    "the environment overrides a default too");
	unsetenv("PARLEY_SMS_RATE");
	unsetenv("PARLEY_HOME");
	unsetenv("PARLEY_SMS_BURST");
	ok(strcmp(conf_get(c, "sms_rate"), "50") == 0,
	    "without the variable the file's value is back");

	/* secrets */
	put("secrets/token", "s3cr3t-token\n", 0644, bad, sizeof(bad));
	err[0] = '\0';
	s = conf_secret(c, "twilio_auth_token_file", err, sizeof(err));
	ok(s == NULL && err[0] != '\0',
	    "a 0644 secret file is refused with a reason");
	ok(!has(err, "s3cr3t"), "the refusal does not print the secret");
	free(s);
	chmod(bad, 0640);
	s = conf_secret(c, "twilio_auth_token_file", err, sizeof(err));
	ok(s == NULL, "a 0640 (group readable) secret file is refused");
	free(s);
	chmod(bad, 0600);
	if (chdir("/") == -1)
		return 99;
	s = conf_secret(c, "twilio_auth_token_file", err, sizeof(err));
	ok(s != NULL && strcmp(s, "s3cr3t-token") == 0,
	    "a 0600 secret is read, from the config's directory, "
	    "newline stripped");
	free(s);
	s = conf_path(c, "secrets/token");
	snprintf(want, sizeof(want), "%s/secrets/token", dir);
	ok(s != NULL && strcmp(s, want) == 0,
	    "conf_path resolves a relative path from the config's directory");
	free(s);
	s = conf_path(c, "/abs/path");
	ok(s != NULL && strcmp(s, "/abs/path") == 0,
	    "conf_path keeps an absolute path");
	free(s);
	s = conf_secret_line(c, "twilio_auth_token_file", err, sizeof(err));
	ok(s != NULL && strcmp(s, "s3cr3t-token") == 0,
	    "conf_secret_line: a one-line secret is read");
	conf_secret_free(s);
	put("secrets/token", "line one\nline two\n", 0600, bad, sizeof(bad));
	err[0] = '\0';
	s = conf_secret_line(c, "twilio_auth_token_file", err, sizeof(err));
	ok(s == NULL && has(err, "twilio_auth_token_file: the file must hold "
	    "one non-empty line") && !has(err, "line one"),
	    "conf_secret_line: two lines are refused, naming the key and "
	    "not the secret");
	put("secrets/token", "\n", 0600, bad, sizeof(bad));
	s = conf_secret_line(c, "twilio_auth_token_file", err, sizeof(err));
	ok(s == NULL && has(err, "twilio_auth_token_file: ") &&
	    has(err, "empty"), "conf_secret_line: an empty secret is refused");
	conf_secret_free(NULL);
	setenv("PARLEY_TWILIO_AUTH_TOKEN_FILE", "secrets/missing", 1);
	err[0] = '\0';
	s = conf_secret(c, "twilio_auth_token_file", err, sizeof(err));
	ok(s == NULL && has(err, "missing"),
	    "a missing secret file is an error naming it");
	free(s);
	unsetenv("PARLEY_TWILIO_AUTH_TOKEN_FILE");
	conf_free(c);

	/* errors name file:line */
	put("noeq.conf", "# ok\nhome = /x\nthis line has no equals\n", 0644,
	    bad, sizeof(bad));
	err[0] = '\0';
	c = conf_load(bad, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:3:", bad);
	ok(c == NULL && has(err, want), "a line without '=' is file:3: error");
	printf("# %s\n", err);
	conf_free(c);

	put("typo.conf", "home = /x\n\nsms_rat = 5\n", 0644, bad, sizeof(bad));
	err[0] = '\0';
	c = conf_load(bad, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:3:", bad);
	ok(c == NULL && has(err, want) && has(err, "sms_rat"),
	    "an unknown key is a file:line error naming the key");
	printf("# %s\n", err);
	conf_free(c);

	put("nokey.conf", "= 5\n", 0644, bad, sizeof(bad));
	c = conf_load(bad, err, sizeof(err));
	ok(c == NULL, "a line with no key is refused");
	conf_free(c);

	snprintf(bad, sizeof(bad), "%s/absent.conf", dir);
	err[0] = '\0';
	c = conf_load(bad, err, sizeof(err));
	ok(c == NULL && has(err, "absent.conf"),
	    "an explicit file that does not exist is an error naming it");
	conf_free(c);

	/* $PARLEY_CONF names the file when no path is given */
	setenv("PARLEY_CONF", path, 1);
	c = conf_load(NULL, err, sizeof(err));
	ok(c != NULL && strcmp(conf_get(c, "sms_rate"), "50") == 0,
	    "conf_load(NULL) reads $PARLEY_CONF");
	conf_free(c);
	unsetenv("PARLEY_CONF");

	/* the cluster maps (lib/util/natsbus, parley-cluster(7)) */
	setenv("PARLEY_NATS_SHARDS", "sales=s1, support=s2", 1);
	setenv("PARLEY_NATS_SHARD_CONFS", "s1=/srv/s1/parley.conf s2=s2.conf", 1);
	c = conf_load(path, err, sizeof(err));
	{
		char out[1024];

		ok(c != NULL && natsbus_lookup(c, "nats_shards", "support",
		    out, sizeof(out), err, sizeof(err)) == 0 &&
		    strcmp(out, "s2") == 0,
		    "natsbus_lookup: a campaign's shard (pairs split by , and space)");
		ok(c != NULL && natsbus_lookup(c, "nats_shard_confs", "s1",
		    out, sizeof(out), err, sizeof(err)) == 0 &&
		    strcmp(out, "/srv/s1/parley.conf") == 0,
		    "natsbus_lookup: a shard's parley.conf");
		ok(c != NULL && natsbus_lookup(c, "nats_shards", "nosuch",
		    out, sizeof(out), err, sizeof(err)) == -1 &&
		    has(err, "nosuch"), "natsbus_lookup: an unknown name is an error");
		conf_free(c);
		setenv("PARLEY_NATS_SHARDS", "sales", 1);
		c = conf_load(path, err, sizeof(err));
		ok(c != NULL && natsbus_lookup(c, "nats_shards", "sales",
		    out, sizeof(out), err, sizeof(err)) == -1 &&
		    has(err, "NAME="), "natsbus_lookup: a pair without = is refused");
		conf_free(c);
	}
	unsetenv("PARLEY_NATS_SHARDS");
	unsetenv("PARLEY_NATS_SHARD_CONFS");

	/* clean up */
	snprintf(bad, sizeof(bad), "%s/secrets/token", dir);
	unlink(bad);
	rmdir(sub);
	{
		static const char *f[] = { "parley.conf", "noeq.conf",
		    "typo.conf", "nokey.conf", NULL };

		for (i = 0; f[i]; i++) {
			snprintf(bad, sizeof(bad), "%s/%s", dir, f[i]);
			unlink(bad);
		}
	}
	rmdir(dir);
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
