/*
 * t_lease — offers as leases (lib/lease): a deadline, lapses reported per
 * agent and remembered for the next offer (not for ringall), held slots
 * released when an offer ends, withdraw and drop, a new round after a reset.
 */
#include <stdio.h>
#include <string.h>

#include "lease.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, desc);
	if (!cond)
		failed++;
}

struct seen {
	char	got[512];
	int	calls;
};

static void
cb(const char *conv, const char *agent, int ringall, void *arg)
{
	struct seen *s = arg;

	s->calls++;
	strncat(s->got, conv, sizeof(s->got) - strlen(s->got) - 1);
	strncat(s->got, ":", sizeof(s->got) - strlen(s->got) - 1);
	strncat(s->got, agent, sizeof(s->got) - strlen(s->got) - 1);
	strncat(s->got, ringall ? "(r) " : " ", sizeof(s->got) -
	    strlen(s->got) - 1);
}

int
main(void)
{
	struct lease_tab *t = lease_new();
	const char *ab[] = { "ada", "bob" }, *a[] = { "ada" }, *b[] = { "bob" };
	const char *out[4];
	struct seen s;

	printf("1..29\n");
	ok(t != NULL, "a table");
	ok(!lease_live(t, "c1"), "nothing offered yet");
	ok(lease_offer(t, "c1", a, 1, 0, 1000, 30000) == 0, "offer c1 to ada");
	ok(lease_live(t, "c1") && lease_deadline(t, "c1") == 31000,
	    "the lease runs until now + timeout");
	ok(lease_has(t, "c1", "ada") && !lease_has(t, "c1", "bob"),
	    "ada has it, bob not");
	ok(lease_held(t, "ada") == 1 && lease_held(t, "bob") == 0,
	    "the offer holds one of ada's slots");

	memset(&s, 0, sizeof(s));
	ok(lease_expire(t, 30999, cb, &s) == 0 && s.calls == 0,
	    "1 ms before the deadline nothing lapses");
	ok(lease_expire(t, 31000, cb, &s) == 1 && s.calls == 1,
	    "at the deadline the offer lapses");
	ok(strcmp(s.got, "c1:ada ") == 0, "the lapse names the agent");
	ok(!lease_live(t, "c1") && lease_held(t, "ada") == 0,
	    "the offer ended and ada's slot is free");
	ok(lease_lapsed(t, "c1", "ada"), "ada's lapse is remembered");
	ok(!lease_lapsed(t, "c1", "bob"), "bob has not lapsed");
	memset(&s, 0, sizeof(s));
	ok(lease_expire(t, 99999, cb, &s) == 0 && s.calls == 0,
	    "an ended offer does not lapse twice");

	ok(lease_offer(t, "c1", b, 1, 0, 32000, 30000) == 0,
	    "the next offer goes to bob");
	ok(lease_lapsed(t, "c1", "ada"), "ada's lapse is still remembered");
	lease_withdraw(t, "c1");
	ok(!lease_live(t, "c1") && lease_held(t, "bob") == 0,
	    "withdrawn (claimed): bob's slot is free");
	lease_reset_lapsed(t, "c1");
	ok(!lease_lapsed(t, "c1", "ada"), "a reset starts a new round");

	ok(lease_offer(t, "c2", ab, 2, 1, 0, 5000) == 0, "ringall: c2 to both");
	ok(lease_held(t, "ada") == 1 && lease_held(t, "bob") == 1,
	    "both hold a slot for it");
	ok(lease_agents(t, "c2", out, 4) == 2 && !strcmp(out[0], "ada") &&
	    !strcmp(out[1], "bob"), "both are on the offer, in order");
	memset(&s, 0, sizeof(s));
	ok(lease_expire(t, 5000, cb, &s) == 1 && s.calls == 2 &&
	    !strcmp(s.got, "c2:ada(r) c2:bob(r) "),
	    "a ringall lapse reports every agent");
	ok(!lease_lapsed(t, "c2", "ada") && !lease_lapsed(t, "c2", "bob"),
	    "ringall rings everyone again: no lapse remembered");
	ok(lease_held(t, "ada") == 0 && lease_held(t, "bob") == 0,
	    "and every slot is free");

	ok(lease_offer(t, "c3", a, 1, 0, 0, 1000) == 0 &&
	    lease_offer(t, "c3", b, 1, 0, 10, 1000) == 0,
	    "a new offer replaces the live one");
	ok(lease_held(t, "ada") == 0 && lease_held(t, "bob") == 1,
	    "the replaced offer's slot is released");
	lease_drop(t, "c3");
	ok(!lease_live(t, "c3") && lease_held(t, "bob") == 0,
	    "drop forgets the conversation and frees the slot");

	ok(lease_offer(t, "c4", a, 0, 0, 0, 1000) == -1,
	    "an offer to nobody is refused");
	{
		char longname[100];

		memset(longname, 'x', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		ok(lease_offer(t, longname, a, 1, 0, 0, 1000) == -1,
		    "an over-long conversation id is refused");
	}
	ok(lease_offer(t, "c4", a, 1, 0, 0, -1) == -1,
	    "a negative timeout is refused");
	lease_free(t);
	return failed ? 1 : 0;
}
