/*
 * fz_conf — fuzz target for conf_load: the input is written to a temporary
 * parley.conf and loaded.  A configuration file is trusted more than the
 * network, but a damaged or hostile one must still give "file:line: why",
 * never a crash.  When it loads, every key is read and the integer keys are
 * checked against bounds, as the daemons do at start.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

static char path[64];

static void
cleanup(void)
{
	if (path[0])
		unlink(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *keys[] = { "home", "twilio_api_url",
	    "twilio_account_sid", "twilio_auth_token_file",
	    "twilio_webhook_url", "smsd_listen", "sms_rate", "sms_burst",
	    "sms_max_inflight", "http_timeout_ms", "sandbox_listen",
	    "sandbox_sms_inbound_url", "sandbox_status_delay_ms",
	    "store_map_size_mb", "store_map_max_mb", NULL };
	struct conf *c;
	char err[512];
	long long v;
	FILE *fp;
	char *p;
	int fd, i;

	if (path[0] == '\0') {
		/* memory-backed where there is one: a file per input */
		snprintf(path, sizeof(path), "%s/fz_conf.%ld.conf",
		    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
		    (long)getpid());
		atexit(cleanup);
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    (fp = fdopen(fd, "w")) == NULL)
		abort();	/* the environment, not the input */
	if (size && fwrite(data, 1, size, fp) != size)
		abort();
	if (fclose(fp) == EOF)
		abort();
	err[0] = '\0';
	if ((c = conf_load(path, err, sizeof(err))) == NULL) {
		if (err[0] == '\0')
			abort();	/* a refusal always says why */
		return 0;
	}
	for (i = 0; keys[i]; i++) {
		if (conf_get(c, keys[i]) == NULL)
			abort();	/* every known key reads */
		(void)conf_int(c, keys[i], 1, 10000, &v, err, sizeof(err));
	}
	if ((p = conf_path(c, conf_get(c, "twilio_auth_token_file"))) != NULL)
		free(p);
	conf_free(c);
	return 0;
}
