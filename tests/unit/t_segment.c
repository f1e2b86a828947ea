/*
 * t_segment — contact-list segments (lib/parley/segment.c): --where parsed
 * into conditions or refused with a reason, and contacts matched on tags,
 * own fields and custom fields: equality ignoring case, prefix '*', '!=',
 * '~' (contains), empty values (absent or set).  TAP output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segment.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

static json_t *ada, *bob, *eve;

/* Does where match contact c?  -1 when where is refused. */
static int
M(const char *where, const json_t *c)
{
	char err[256];
	json_t *f = segment_parse(where, err, sizeof(err));
	int r;

	if (f == NULL)
		return -1;
	r = segment_match(f, c);
	json_decref(f);
	return r;
}

/* Is where refused with a reason holding e? */
static int
R(const char *where, const char *e)
{
	char err[256] = "";
	json_t *f = segment_parse(where, err, sizeof(err));

	if (f) {
		json_decref(f);
		return 0;
	}
	if (strstr(err, e) == NULL)
		printf("# err \"%s\"\n", err);
	return strstr(err, e) != NULL;
}

int
main(void)
{
	ada = json_pack("{s:s,s:s,s:s,s:s,s:[s,s],s:{s:s,s:s}}", "first_name",
	    "Ada", "last_name", "King", "phone", "+15550000001", "timezone",
	    "Europe/London", "tags", "vip", "gold", "fields", "city", "Lyon",
	    "plan", "pro");
	bob = json_pack("{s:s,s:s,s:[s],s:{s:s}}", "first_name", "Bob",
	    "phone", "+33600000002", "tags", "fr", "fields", "city", "lyon");
	eve = json_pack("{s:s,s:s}", "first_name", "Eve", "phone",
	    "+15550000003");

	ok(M("tag=vip", ada) == 1, "a tag the contact has");
	ok(M("tag=VIP", ada) == 1, "tags ignore case");
	ok(M("tag=vip", bob) == 0, "a tag the contact lacks");
	ok(M("tag!=vip", bob) == 1 && M("tag!=vip", ada) == 0, "tag!=");
	ok(M("tag=", eve) == 1 && M("tag=", ada) == 0,
	    "tag= : contacts without tags");
	ok(M("tag=vip,city=Lyon", ada) == 1, "two conditions, both hold");
	ok(M("tag=vip,city=Paris", ada) == 0, "two conditions, one fails");
	ok(M("city=LYON", bob) == 1, "a custom field, case ignored");
	ok(M("city=", eve) == 1 && M("city=", ada) == 0,
	    "field= : absent or empty");
	ok(M("city!=", ada) == 1 && M("city!=", eve) == 0, "field!= : set");
	ok(M("phone=+1555*", ada) == 1 && M("phone=+1555*", bob) == 0,
	    "a prefix with '*'");
	ok(M("phone!=+1555*", bob) == 1, "not a prefix");
	ok(M("last_name~in", ada) == 1 && M("last_name~in", bob) == 0,
	    "~ : contains");
	ok(M("first_name=ada", ada) == 1, "an own field");
	ok(M("timezone=Europe/*", ada) == 1 && M("timezone=Europe/*", eve)
	    == 0, "the time zone by prefix");
	ok(M(" tag = vip , plan = pro ", ada) == 1, "blanks around are trimmed");
	ok(M("Tags=gold", ada) == 1, "TAGS is tag");
	ok(R("", "at least one condition"), "an empty --where is refused");
	ok(R("tag", "is not FIELD=VALUE"), "a condition without operator");
	ok(R("=vip", "is not FIELD=VALUE"), "a condition without field");
	ok(R("Bad Field=1", "field"), "a field name that is not a name");
	ok(R("city~", "needs a text"), "~ without text");
	ok(R(",,,", "at least one condition"), "only commas");
	{
		char big[1100];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		big[0] = 'x';
		big[1] = '=';
		ok(R(big, "longer than"), "a --where over 1000 bytes");
	}
	ok(R("a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8,i=9,j=10,k=11,l=12,m=13,n=14,"
	    "o=15,p=16,q=17,r=18,s=19,t=20,u=21", "more than 20"),
	    "more than 20 conditions");
	json_decref(ada);
	json_decref(bob);
	json_decref(eve);
	printf("1..%d\n", n);
	if (failed)
		printf("# %d of %d failed\n", failed, n);
	return failed != 0;
}
