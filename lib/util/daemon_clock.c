/*
 * daemon_clock — the wall and monotonic clocks in milliseconds, in a file
 * of their own so that msg, which reads them, does not link the daemon
 * start-up (and the NATS transport it may start) of daemon.c.
 */
#include <sys/time.h>
#include <time.h>

#include "daemon.h"

long long
daemon_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

long long
daemon_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
