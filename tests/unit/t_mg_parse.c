/*
 * t_mg_parse — Messenger and Instagram notifications into routerd's frames
 * (bin/messengerd/messengerd_parse.c, linked in: it is pure).
 *
 * The golden files: each tests/golden/messenger/NN-*.json is one webhook
 * body as Meta posts it (every event kind of both objects, standby,
 * multi-entry batches, echoes of our own sends and of the Page's, broken
 * UTF-8, bodies that are refused) and NN-*.expected the frames messengerd
 * makes of it, one JSON line each, keys sorted, followed by the notes it
 * logs ("note:" or "warn:") or the one line "refused: <why>".
 * GOLDEN_UPDATE=1 writes the .expected files instead (review them before
 * committing).  Then what goldens do not show: each frame packs into one
 * msgpack map that routerd reads, pids fold long mids the same way every
 * time, and a customer's name goes only where a customer wrote.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "mp.h"

#include "../../bin/messengerd/messengerd.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, got;

	*len = 0;
	if (fp == NULL)
		return NULL;
	for (;;) {
		if (*len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			if ((buf = realloc(buf, cap)) == NULL)
				abort();
		}
		got = fread(buf + *len, 1, cap - *len - 1, fp);
		*len += got;
		if (got == 0)
			break;
	}
	fclose(fp);
	buf[*len] = '\0';
	return buf;
}

/* What the parser made of body, as the .expected text. */
static char *
render(const char *body, size_t len)
{
	struct mg_items items;
	char err[256], *line, *out = NULL;
	size_t i, olen = 0;
	FILE *fp = open_memstream(&out, &olen);

	mg_items_init(&items);
	if (mg_parse(body, len, &items, err, sizeof(err)) == -1)
		fprintf(fp, "refused: %s\n", err);
	else {
		for (i = 0; i < items.n; i++) {
			line = mg_item_json(&items.v[i], NULL);
			fprintf(fp, "%s\n", line);
			free(line);
		}
		for (i = 0; i < items.nnotes; i++)
			fprintf(fp, "%s: %s\n", items.notes[i].warn ? "warn" :
			    "note", items.notes[i].text);
	}
	fclose(fp);
	mg_items_free(&items);
	return out;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
goldens(void)
{
	const char *src = getenv("PARLEY_SRC");
	char dir[1024], path[2048], *names[256], *body, *want, *got, desc[300];
	int update = getenv("GOLDEN_UPDATE") && strcmp(getenv("GOLDEN_UPDATE"),
	    "1") == 0;
	struct dirent *de;
	size_t nn = 0, i, blen, wlen, l;
	DIR *d;
	FILE *fp;

	snprintf(dir, sizeof(dir), "%s/tests/golden/messenger", src ? src :
	    ".");
	if ((d = opendir(dir)) == NULL) {
		ok(0, "tests/golden/messenger can be read");
		return;
	}
	while ((de = readdir(d)) != NULL && nn < 256) {
		l = strlen(de->d_name);
		if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0)
			names[nn++] = strndup(de->d_name, l - 5);
	}
	closedir(d);
	qsort(names, nn, sizeof(names[0]), cmp_names);
	ok(nn >= 40, "forty golden webhooks or more");
	for (i = 0; i < nn; i++) {
		snprintf(path, sizeof(path), "%s/%s.json", dir, names[i]);
		body = slurp(path, &blen);
		got = render(body ? body : "", blen);
		snprintf(path, sizeof(path), "%s/%s.expected", dir, names[i]);
		if (update) {
			if ((fp = fopen(path, "w")) != NULL) {
				fputs(got, fp);
				fclose(fp);
			}
			snprintf(desc, sizeof(desc), "%s: written", names[i]);
			ok(fp != NULL, desc);
		} else {
			want = slurp(path, &wlen);
			snprintf(desc, sizeof(desc), "%s: the frames are the "
			    "golden ones", names[i]);
			ok(want != NULL && strcmp(want, got) == 0, desc);
			if (want == NULL || strcmp(want, got) != 0)
				printf("# got:\n%s# expected:\n%s", got,
				    want ? want : "(no file)\n");
			free(want);
		}
		free(got);
		free(body);
		free(names[i]);
	}
}

/* Every frame of body packs into a map routerd decodes with its fields. */
static void
packs(void)
{
	const char *body = "{\"object\":\"page\",\"entry\":[{\"id\":\"1\","
	    "\"messaging\":[{\"sender\":{\"id\":\"2\"},\"recipient\":{\"id\":"
	    "\"1\"},\"timestamp\":1750000000000,\"message\":{\"mid\":\"m_1\","
	    "\"text\":\"hi\"}},{\"sender\":{\"id\":\"2\"},\"recipient\":{\"id\":"
	    "\"1\"},\"timestamp\":1750000000001,\"read\":{\"watermark\":"
	    "1750000000001}}]}]}";
	struct mg_items items;
	msgpack_unpacked up;
	struct fbuf fb;
	const char *why;
	char err[256], t[8], name[32];
	size_t used;
	int64_t id = 0, upto = 0;
	int good;

	mg_items_init(&items);
	ok(mg_parse(body, strlen(body), &items, err, sizeof(err)) == 0 &&
	    items.n == 2, "a text and a read watermark: two frames");
	fbuf_init(&fb);
	mg_item_frame(&items.v[0], 41, "Ada Lovelace", &fb);
	msgpack_unpacked_init(&up);
	good = fbuf_finish(&fb) == 0 && frame_decode(fbuf_data(&fb),
	    fbuf_len(&fb), &up, &used, &why) == 1 &&
	    mp_int(&up.data, "id", &id) && id == 41 &&
	    mp_strcpy(&up.data, "t", t, sizeof(t)) && strcmp(t, "in") == 0 &&
	    mp_strcpy(&up.data, "name", name, sizeof(name)) &&
	    strcmp(name, "Ada Lovelace") == 0;
	ok(good, "an \"in\" frame decodes with its id, type and the name");
	msgpack_unpacked_destroy(&up);
	fbuf_free(&fb);
	fbuf_init(&fb);
	mg_item_frame(&items.v[1], 42, "Ada Lovelace", &fb);
	msgpack_unpacked_init(&up);
	good = fbuf_finish(&fb) == 0 && frame_decode(fbuf_data(&fb),
	    fbuf_len(&fb), &up, &used, &why) == 1 &&
	    mp_int(&up.data, "upto", &upto) && upto == 1750000000001LL &&
	    mp_get(&up.data, "name") == NULL;
	ok(good, "a watermark \"st\" carries upto and never a name");
	msgpack_unpacked_destroy(&up);
	fbuf_free(&fb);
	mg_items_free(&items);
}

static void
pids(void)
{
	char a[MG_PID_MAX + 1], b[MG_PID_MAX + 1], mid[300];

	mg_pid("m_short", a);
	ok(strcmp(a, "m_short") == 0, "a short mid is its own pid");
	memset(mid, 'A', 200);
	mid[200] = '\0';
	mg_pid(mid, a);
	mg_pid(mid, b);
	ok(a[0] == '~' && strlen(a) == 33 && strcmp(a, b) == 0,
	    "a 200-byte mid folds to ~ and 32 hex digits, the same each time");
	mid[199] = 'B';
	mg_pid(mid, b);
	ok(strcmp(a, b) != 0, "another long mid folds to another pid");
	mg_pid("~looks-folded", a);
	ok(a[0] == '~' && strlen(a) == 33, "a mid starting with ~ is folded "
	    "too, so it cannot pose as another mid's fold");
	ok(mg_is_id("12345", 5) && !mg_is_id("12a45", 5) && !mg_is_id("", 0) &&
	    !mg_is_id("123456789012345678901234567890123", 33),
	    "ids are 1 to 32 digits");
}

int
main(void)
{
	goldens();
	packs();
	pids();
	printf("1..%d\n", n);
	return failed != 0;
}
