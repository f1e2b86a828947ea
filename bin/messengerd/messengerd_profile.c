/*
 * messengerd_profile — customers' names from the profile API, cached.
 *
 * Meta's webhooks carry no name (providers.md §2.5): a Page asks
 * GET /{PSID}?fields=first_name,last_name (Messenger) or
 * GET /{IGSID}?fields=name,username (Instagram) with the Page's token.
 * Each (channel, account, customer) is asked once; the answer is kept
 * messenger_profile_ttl_s and then asked again in the background while the
 * old name goes on being used, so after the first message a name never
 * waits.  A lookup that fails (the customer blocked the Page, Meta is
 * down, no token) is remembered for MG_PROFILE_RETRY_MS as "no name": its
 * messages go without one and the API is not asked again at every
 * message.  A 190 on a lookup is the Page's token dying, like on a send.
 *
 * The cache is bounded (MG_PROFILES_MAX): past it the oldest entries go,
 * except those being looked up.  Webhooks waiting for a lookup are kept as
 * counted references (mg_pend_ref) and told when it ends (mg_pend_ready).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "htab.h"
#include "http_out.h"
#include "log.h"
#include "messengerd.h"

#define MG_PROFILES_MAX		100000
#define MG_PROFILE_RETRY_MS	(10 * 60 * 1000)
#define KEY_MAX			(16 + 2 * MG_ID_MAX + 3)

enum pstate { P_NONE, P_OK, P_FAILED };

struct lookup {
	struct messengerd	*m;
	char			 key[KEY_MAX];
};

struct mg_prof {
	struct htab_node hn;
	char		 key[KEY_MAX];	/* channel:account:user */
	char		 channel[16];
	char		 account[MG_ID_MAX + 1];
	char		 user[MG_ID_MAX + 1];
	char		 name[MG_NAME_MAX + 1];
	enum pstate	 state;
	long long	 at_ms;		/* when last answered */
	int		 fetching;
	struct lookup	*lk;		/* the one in flight */
	struct mg_pend	**w;		/* webhooks waiting */
	size_t		 nw, wcap;
	struct mg_prof	*prev, *next;	/* oldest first */
};

static int
prof_eq(const struct htab_node *n, const void *k, size_t l)
{
	const struct mg_prof *p = HTAB_ENTRY(n, struct mg_prof, hn);

	return strlen(p->key) == l && memcmp(p->key, k, l) == 0;
}

static struct mg_prof *
prof_find(struct messengerd *m, const char *key)
{
	struct htab_node *n = htab_find(&m->profiles, key, strlen(key),
	    prof_eq);

	return n ? HTAB_ENTRY(n, struct mg_prof, hn) : NULL;
}

static void
age_unlink(struct messengerd *m, struct mg_prof *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		m->pfirst = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		m->plast = p->prev;
	p->prev = p->next = NULL;
}

static void
age_append(struct messengerd *m, struct mg_prof *p)
{
	p->prev = m->plast;
	p->next = NULL;
	if (m->plast)
		m->plast->next = p;
	else
		m->pfirst = p;
	m->plast = p;
}

static void
prof_free(struct messengerd *m, struct mg_prof *p)
{
	htab_remove(&m->profiles, &p->hn);
	age_unlink(m, p);
	m->nprofiles--;
	free(p->lk);		/* at exit: its call died with http_out */
	free(p->w);
	free(p);
}

/* Past the bound: the oldest entries nobody waits on go. */
static void
evict(struct messengerd *m)
{
	struct mg_prof *p, *next;

	for (p = m->pfirst; p != NULL && m->nprofiles > MG_PROFILES_MAX;
	    p = next) {
		next = p->next;
		if (!p->fetching && p->nw == 0)
			prof_free(m, p);
	}
}

/* The name from the profile API's answer into name; 0 if none. */
static int
name_of(const char *channel, const char *body, size_t len, char *name,
    size_t namesz)
{
	json_t *root, *f, *l, *n, *u;
	json_error_t je;
	const char *fs, *ls;
	int ok = 0;

	if ((root = json_loadb(body, len, 0, &je)) == NULL)
		return 0;
	if (!json_is_object(root))
		goto done;
	if (strcmp(channel, "instagram") == 0) {
		n = json_object_get(root, "name");
		u = json_object_get(root, "username");
		if (json_is_string(n) && json_string_length(n) > 0)
			snprintf(name, namesz, "%s", json_string_value(n));
		else if (json_is_string(u) && json_string_length(u) > 0)
			snprintf(name, namesz, "@%s", json_string_value(u));
		else
			goto done;
	} else {
		f = json_object_get(root, "first_name");
		l = json_object_get(root, "last_name");
		fs = json_is_string(f) ? json_string_value(f) : "";
		ls = json_is_string(l) ? json_string_value(l) : "";
		if (fs[0] == '\0' && ls[0] == '\0')
			goto done;
		snprintf(name, namesz, "%s%s%s", fs, fs[0] && ls[0] ? " " : "",
		    ls);
	}
	ok = strlen(name) > 0;
done:
	json_decref(root);
	return ok;
}

static void
looked_up(const struct http_resp *r, void *arg)
{
	struct lookup *lk = arg;
	struct messengerd *m = lk->m;
	struct mg_prof *p = prof_find(m, lk->key);
	struct mg_acct *a, *page;
	struct mg_pend **w;
	struct mg_err ge;
	char name[MG_NAME_MAX + 1], why[300];
	size_t i, nw;

	free(lk);
	if (p == NULL)
		return;
	p->fetching = 0;
	p->lk = NULL;
	p->at_ms = daemon_now_ms();
	if (r->status >= 200 && r->status <= 299 &&
	    name_of(p->channel, r->body, r->bodylen, name, sizeof(name))) {
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->state = P_OK;
		log_debug("%s %s: name found", p->channel, p->user);
	} else {
		if (p->state != P_OK)
			p->state = P_FAILED;	/* an old name stays */
		if (r->status == 0)
			log_info("%s %s: name lookup failed: %s", p->channel,
			    p->user, r->timed_out ? "timed out" : r->error ?
			    r->error : "transport error");
		else if (r->status >= 200 && r->status <= 299)
			log_info("%s %s: the profile has no name", p->channel,
			    p->user);
		else {
			mg_graph_error(r, &ge);
			log_info("%s %s: name lookup refused (HTTP %ld, Meta "
			    "error %lld)", p->channel, p->user, r->status,
			    ge.code);
			if (ge.code == 190 && (a = mg_acct_find(m,
			    p->account)) != NULL && (page = mg_acct_page(m,
			    a)) != NULL) {
				mg_token_reason(&ge, why, sizeof(why));
				mg_token_dead(m, page, why);
			}
		}
	}
	/* the waiters: taken off first, since a webhook sent may free */
	w = p->w;
	nw = p->nw;
	p->w = NULL;
	p->nw = p->wcap = 0;
	for (i = 0; i < nw; i++) {
		mg_pend_ready(w[i]);
		mg_pend_unref(w[i]);
	}
	free(w);
	age_unlink(m, p);
	age_append(m, p);
	evict(m);
}

/* Ask the profile API about p; -1 if the call cannot be made. */
static int
lookup(struct messengerd *m, struct mg_prof *p, const char *token)
{
	const char *hdrs[] = { "Accept: application/json", NULL };
	struct http_req rq;
	struct lookup *lk;
	char url[4096];

	if (mg_url(m, p->user, strcmp(p->channel, "instagram") == 0 ?
	    "fields=name,username" : "fields=first_name,last_name", token,
	    url, sizeof(url)) == -1)
		return -1;
	if ((lk = calloc(1, sizeof(*lk))) == NULL)
		fatalx("out of memory");
	lk->m = m;
	snprintf(lk->key, sizeof(lk->key), "%s", p->key);
	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.url = url;
	rq.headers = hdrs;
	rq.timeout_ms = (long)m->cf.http_timeout_ms;
	if (http_out_start(m->e.ho, &rq, looked_up, lk) == -1) {
		free(lk);
		return -1;
	}
	p->fetching = 1;
	p->lk = lk;
	return 0;
}

int
mg_profile_want(struct messengerd *m, const char *channel,
    const char *account, const char *user, struct mg_pend *pend,
    const char **name)
{
	struct mg_acct *a = mg_acct_find(m, account);
	struct mg_acct *page = mg_acct_page(m, a);
	char key[KEY_MAX];
	struct mg_prof *p;
	long long now = daemon_now_ms();
	int usable = page != NULL && page->token != NULL && page->active;

	*name = NULL;
	snprintf(key, sizeof(key), "%s:%s:%s", channel, account, user);
	p = prof_find(m, key);
	if (p != NULL && p->state == P_OK) {
		*name = p->name;
		/* old: asked again in the background, the old name used */
		if (!p->fetching && usable &&
		    now - p->at_ms >= m->cf.profile_ttl_s * 1000)
			lookup(m, p, page->token);
		return 1;
	}
	if (p != NULL && p->state == P_FAILED && !p->fetching &&
	    now - p->at_ms < MG_PROFILE_RETRY_MS)
		return -1;
	if (!usable)
		return -1;
	if (p == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL)
			fatalx("out of memory");
		snprintf(p->key, sizeof(p->key), "%s", key);
		snprintf(p->channel, sizeof(p->channel), "%s", channel);
		snprintf(p->account, sizeof(p->account), "%s", account);
		snprintf(p->user, sizeof(p->user), "%s", user);
		if (htab_insert(&m->profiles, &p->hn, key, strlen(key)) == -1)
			fatalx("out of memory");
		age_append(m, p);
		m->nprofiles++;
	}
	if (!p->fetching && lookup(m, p, page->token) == -1) {
		p->state = P_FAILED;
		p->at_ms = now;
		evict(m);
		return -1;
	}
	if (pend == NULL)
		return 0;
	if (p->nw == p->wcap) {
		p->wcap = p->wcap ? p->wcap * 2 : 2;
		if ((p->w = reallocarray(p->w, p->wcap, sizeof(*p->w))) ==
		    NULL)
			fatalx("out of memory");
	}
	p->w[p->nw++] = pend;
	mg_pend_ref(pend);
	return 0;
}

const char *
mg_profile_name(struct messengerd *m, const char *channel,
    const char *account, const char *user)
{
	char key[KEY_MAX];
	struct mg_prof *p;

	snprintf(key, sizeof(key), "%s:%s:%s", channel, account, user);
	p = prof_find(m, key);
	return p != NULL && p->state == P_OK ? p->name : NULL;
}

void
mg_profiles_free(struct messengerd *m)
{
	/* the lookups in flight died with http_out: nothing calls back */
	while (m->pfirst != NULL)
		prof_free(m, m->pfirst);
}
