/*
 * t_wa_parse — WhatsApp Cloud API notifications into routerd's frames
 * (bin/whatsappd/whatsappd_parse.c, linked in: it is pure).
 *
 * What a user relies on: every message type Meta documents arrives with its
 * text (or caption, or the derived text of contract.md) and its facts; an
 * unknown type is still stored; statuses carry Meta's error code and
 * reason; a batch of entries and changes gives every element; a bad element
 * is skipped with a note while the rest go through; a body that is not a
 * WhatsApp notification is refused as a whole; a message whose text holds
 * invalid UTF-8 or a NUL is kept, its text made valid (U+FFFD) and marked
 * "repaired", and refuses neither itself nor the others.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "log.h"
#include "mp.h"
#include "proto.h"
#include "valid.h"

#include "../../bin/whatsappd/whatsappd.h"

static int n, failed;

static void
ok(int cond, const char *desc)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, desc);
}

/* The decoded frame of item i (with request id 7), kept until the next. */
static msgpack_unpacked up;
static struct fbuf fb;

static const msgpack_object *
frame(const struct wa_items *it, size_t i)
{
	const char *why;
	size_t used;

	if (i >= it->n)
		return NULL;
	wa_item_frame(&it->v[i], 7, &fb);
	if (fbuf_finish(&fb) == -1)
		return NULL;
	msgpack_unpacked_destroy(&up);
	msgpack_unpacked_init(&up);
	if (frame_decode(fbuf_data(&fb), fbuf_len(&fb), &up, &used, &why) != 1)
		return NULL;
	return &up.data;
}

static int
streq(const msgpack_object *o, const char *key, const char *want)
{
	const char *s;
	size_t len;

	if (o == NULL || !mp_str(o, key, &s, &len))
		return want == NULL;
	return want != NULL && len == strlen(want) && memcmp(s, want, len) == 0;
}

static int
inteq(const msgpack_object *o, const char *key, int64_t want)
{
	int64_t v;

	return o != NULL && mp_int(o, key, &v) && v == want;
}

static const msgpack_object *
path(const msgpack_object *o, const char *k1, const char *k2)
{
	if (o == NULL || (o = mp_get(o, k1)) == NULL || k2 == NULL)
		return o;
	return mp_get(o, k2);
}

/* A notification for phone-number id 106540352242922 with value parts. */
static int
parse(struct wa_items *it, const char *value, char *err, size_t errsz)
{
	char *body;
	int r;

	if (asprintf(&body, "{\"object\":\"whatsapp_business_account\","
	    "\"entry\":[{\"id\":\"102290129340398\",\"changes\":[{\"field\":"
	    "\"messages\",\"value\":{\"messaging_product\":\"whatsapp\","
	    "\"metadata\":{\"display_phone_number\":\"15550783881\","
	    "\"phone_number_id\":\"106540352242922\"},%s}}]}]}", value) == -1)
		abort();
	wa_items_free(it);
	r = wa_parse(body, strlen(body), it, err, errsz);
	free(body);
	return r;
}

/* One message {"from":..,"id":..,"timestamp":..,"type":T,<rest>}. */
static const msgpack_object *
one(struct wa_items *it, const char *type, const char *rest)
{
	char v[4096], err[256];

	snprintf(v, sizeof(v), "\"contacts\":[{\"profile\":{\"name\":"
	    "\"Sheena Nelson\"},\"wa_id\":\"16505551234\"}],\"messages\":"
	    "[{\"from\":\"16505551234\",\"id\":\"wamid.M1\",\"timestamp\":"
	    "\"1749416383\",\"type\":\"%s\"%s%s}]", type, rest[0] ? "," : "",
	    rest);
	if (parse(it, v, err, sizeof(err)) == -1 || it->n != 1) {
		printf("# %s: %s, %zu items\n", type, err, it->n);
		return NULL;
	}
	return frame(it, 0);
}

static void
t_text(struct wa_items *it)
{
	const msgpack_object *f = one(it, "text",
	    "\"text\":{\"body\":\"Does it come in another color?\"}");

	ok(f && inteq(f, "id", 7) && streq(f, "t", "in") &&
	    streq(f, "channel", "whatsapp") && streq(f, "pid", "wamid.M1") &&
	    streq(f, "from", "+16505551234") &&
	    streq(f, "to", "106540352242922") &&
	    inteq(f, "ts", 1749416383000LL) &&
	    streq(f, "text", "Does it come in another color?") &&
	    streq(f, "type", "text") && streq(f, "name", "Sheena Nelson") &&
	    mp_get(f, "media") == NULL && mp_get(f, "data") == NULL,
	    "text: the in frame of contract.md, name from contacts[]");
	ok(it->n == 1 && strcmp(it->v[0].pnid, "106540352242922") == 0 &&
	    strcmp(it->v[0].pid, "wamid.M1") == 0 && it->v[0].kind == WA_IN,
	    "text: the item names its wamid and phone-number id");
}

static void
t_media(struct wa_items *it)
{
	const msgpack_object *f, *m;

	f = one(it, "image", "\"image\":{\"id\":\"1013859600285441\","
	    "\"mime_type\":\"image/jpeg\",\"sha256\":\"abc=\","
	    "\"caption\":\"Receipt\"}");
	m = f ? mp_get(f, "media") : NULL;
	ok(f && streq(f, "type", "image") && streq(f, "text", "Receipt") &&
	    m && m->type == MSGPACK_OBJECT_ARRAY && m->via.array.size == 1 &&
	    streq(&m->via.array.ptr[0], "id", "1013859600285441") &&
	    streq(&m->via.array.ptr[0], "mime", "image/jpeg") &&
	    streq(&m->via.array.ptr[0], "sha256", "abc="),
	    "image: caption as text, media [{id, mime, sha256}]");

	f = one(it, "document", "\"document\":{\"id\":\"77\",\"mime_type\":"
	    "\"application/pdf\",\"filename\":\"inv.pdf\"}");
	m = f ? mp_get(f, "media") : NULL;
	ok(f && streq(f, "type", "document") && streq(f, "text", "") &&
	    m && m->via.array.size == 1 &&
	    streq(&m->via.array.ptr[0], "filename", "inv.pdf") &&
	    streq(&m->via.array.ptr[0], "mime", "application/pdf"),
	    "document: no caption gives \"\", filename kept");

	f = one(it, "audio", "\"audio\":{\"id\":\"78\",\"mime_type\":"
	    "\"audio/ogg; codecs=opus\",\"voice\":true}");
	m = f ? mp_get(f, "media") : NULL;
	ok(f && streq(f, "type", "audio") && streq(f, "text", "") &&
	    m && streq(&m->via.array.ptr[0], "mime", "audio/ogg; codecs=opus"),
	    "audio: media with its mime");

	f = one(it, "video", "\"video\":{\"id\":\"79\",\"mime_type\":"
	    "\"video/mp4\",\"caption\":\"look\"}");
	m = f ? mp_get(f, "media") : NULL;
	ok(f && streq(f, "type", "video") && streq(f, "text", "look") &&
	    m && streq(&m->via.array.ptr[0], "id", "79"),
	    "video: caption and media");

	f = one(it, "sticker", "\"sticker\":{\"id\":\"80\",\"mime_type\":"
	    "\"image/webp\",\"animated\":false}");
	m = f ? mp_get(f, "media") : NULL;
	ok(f && streq(f, "type", "sticker") && streq(f, "text", "") &&
	    m && streq(&m->via.array.ptr[0], "mime", "image/webp"),
	    "sticker: media");

	f = one(it, "image", "\"image\":{\"id\":\"81\"}");
	m = f ? mp_get(f, "media") : NULL;
	ok(f && m && streq(&m->via.array.ptr[0], "mime",
	    "application/octet-stream") &&
	    mp_get(&m->via.array.ptr[0], "sha256") == NULL,
	    "media without mime_type: application/octet-stream");

	f = one(it, "image", "\"image\":{\"caption\":\"no id\"}");
	ok(f && mp_get(f, "media") == NULL && streq(f, "text", "no id"),
	    "media without an id: stored without media, caption kept");
}

static void
t_location(struct wa_items *it)
{
	const msgpack_object *f, *l;

	f = one(it, "location", "\"location\":{\"latitude\":37.483307,"
	    "\"longitude\":-122.148981,\"name\":\"Pablo Morales\","
	    "\"address\":\"1 Hacker Way, Menlo Park, CA 94025\"}");
	l = path(f, "data", "location");
	ok(f && streq(f, "text", "Pablo Morales, 1 Hacker Way, Menlo Park, "
	    "CA 94025 (37.483307, -122.148981)") && l &&
	    mp_get(l, "latitude") && mp_get(l, "latitude")->type ==
	    MSGPACK_OBJECT_FLOAT64 &&
	    mp_get(l, "latitude")->via.f64 == 37.483307 &&
	    mp_get(l, "longitude")->via.f64 == -122.148981 &&
	    streq(l, "name", "Pablo Morales") &&
	    streq(l, "address", "1 Hacker Way, Menlo Park, CA 94025"),
	    "location: \"name, address (lat, lon)\" and data.location");

	f = one(it, "location", "\"location\":{\"latitude\":48.8566,"
	    "\"longitude\":2}");
	l = path(f, "data", "location");
	ok(f && streq(f, "text", "(48.8566, 2)") && l &&
	    mp_get(l, "name") == NULL && mp_get(l, "address") == NULL,
	    "location without name or address: \"(lat, lon)\"");

	f = one(it, "location", "\"location\":{\"latitude\":1.5,"
	    "\"longitude\":-0.25,\"name\":\"Home\"}");
	ok(f && streq(f, "text", "Home (1.5, -0.25)"),
	    "location with a name only: \"name (lat, lon)\"");
}

static void
t_contacts(struct wa_items *it)
{
	const msgpack_object *f, *c, *p;

	f = one(it, "contacts", "\"contacts\":[{\"name\":{\"formatted_name\":"
	    "\"Ada Lovelace\",\"first_name\":\"Ada\"},\"phones\":[{\"phone\":"
	    "\"+1 650 555 0001\",\"wa_id\":\"16505550001\",\"type\":\"CELL\"},"
	    "{\"phone\":\"+1 650 555 0002\"}]},{\"name\":{\"formatted_name\":"
	    "\"Alan Turing\"}}]");
	c = path(f, "data", "contacts");
	p = c && c->type == MSGPACK_OBJECT_ARRAY && c->via.array.size == 2 ?
	    mp_get(&c->via.array.ptr[0], "phones") : NULL;
	ok(f && streq(f, "text", "Ada Lovelace, Alan Turing") && c &&
	    c->via.array.size == 2 &&
	    streq(&c->via.array.ptr[0], "name", "Ada Lovelace") && p &&
	    p->type == MSGPACK_OBJECT_ARRAY && p->via.array.size == 2 &&
	    p->via.array.ptr[0].via.str.size == 15 &&
	    mp_get(&c->via.array.ptr[1], "phones")->via.array.size == 0,
	    "contacts: names joined by \", \", data.contacts [{name, phones}]");
	ok(f && streq(f, "name", "Sheena Nelson"),
	    "contacts: the sender's own name still from value.contacts[]");
}

static void
t_interactive(struct wa_items *it)
{
	const msgpack_object *f, *x;

	f = one(it, "interactive", "\"interactive\":{\"type\":\"button_reply\","
	    "\"button_reply\":{\"id\":\"yes-1\",\"title\":\"Yes\"}}");
	x = path(f, "data", "interactive");
	ok(f && streq(f, "text", "Yes") && x &&
	    streq(x, "type", "button_reply") && streq(x, "id", "yes-1") &&
	    streq(x, "title", "Yes") && mp_get(x, "description") == NULL,
	    "interactive button_reply: the title, data.interactive");

	f = one(it, "interactive", "\"interactive\":{\"type\":\"list_reply\","
	    "\"list_reply\":{\"id\":\"r2\",\"title\":\"Red\",\"description\":"
	    "\"the red one\"}}");
	x = path(f, "data", "interactive");
	ok(f && streq(f, "text", "Red") && x &&
	    streq(x, "type", "list_reply") && streq(x, "id", "r2") &&
	    streq(x, "description", "the red one"),
	    "interactive list_reply: title and description");

	f = one(it, "button", "\"button\":{\"payload\":\"STOP_PROMO\","
	    "\"text\":\"Stop promotions\"},\"context\":{\"from\":"
	    "\"15550783881\",\"id\":\"wamid.T1\"}");
	x = path(f, "data", "button");
	ok(f && streq(f, "text", "Stop promotions") && x &&
	    streq(x, "payload", "STOP_PROMO") &&
	    streq(x, "text", "Stop promotions") &&
	    streq(path(f, "data", "context"), "id", "wamid.T1") &&
	    streq(path(f, "data", "context"), "from", "15550783881"),
	    "button: its text, data.button and data.context");
}

static void
t_reaction(struct wa_items *it)
{
	const msgpack_object *f, *x;

	f = one(it, "reaction", "\"reaction\":{\"message_id\":\"wamid.O1\","
	    "\"emoji\":\"\xf0\x9f\x91\x8d\"}");
	x = path(f, "data", "reaction");
	ok(f && streq(f, "text", "\xf0\x9f\x91\x8d") && x &&
	    streq(x, "message_id", "wamid.O1") &&
	    streq(x, "emoji", "\xf0\x9f\x91\x8d"),
	    "reaction: the emoji, data.reaction");

	f = one(it, "reaction", "\"reaction\":{\"message_id\":\"wamid.O1\"}");
	x = path(f, "data", "reaction");
	ok(f && streq(f, "text", "") && x && streq(x, "emoji", ""),
	    "reaction removed: \"\" text and emoji");
}

static void
t_unsupported(struct wa_items *it)
{
	const msgpack_object *f, *e;

	f = one(it, "unsupported", "\"errors\":[{\"code\":131051,\"title\":"
	    "\"Message type unknown\",\"message\":\"Message type unknown\","
	    "\"error_data\":{\"details\":\"Message type is currently not "
	    "supported.\"}}]");
	e = path(f, "data", "errors");
	ok(f && streq(f, "type", "unsupported") && streq(f, "text", "") &&
	    e && e->type == MSGPACK_OBJECT_ARRAY && e->via.array.size == 1 &&
	    inteq(&e->via.array.ptr[0], "code", 131051) &&
	    streq(&e->via.array.ptr[0], "title", "Message type unknown") &&
	    streq(&e->via.array.ptr[0], "details",
	    "Message type is currently not supported."),
	    "unsupported: stored with \"\" text and data.errors");

	f = one(it, "order_v9", "\"order_v9\":{\"catalog_id\":\"1\"}");
	ok(f && streq(f, "type", "order_v9") && streq(f, "text", "") &&
	    mp_get(f, "data") == NULL,
	    "an unknown type is stored with its type and \"\" text");
}

static void
t_statuses(struct wa_items *it)
{
	const msgpack_object *f;
	char err[256];
	int r;

	r = parse(it, "\"statuses\":[{\"id\":\"wamid.S1\",\"status\":\"sent\","
	    "\"timestamp\":\"1750263770\",\"recipient_id\":\"16505551234\","
	    "\"conversation\":{\"id\":\"c1\",\"origin\":{\"type\":\"service\"}},"
	    "\"pricing\":{\"billable\":true,\"pricing_model\":\"PMP\","
	    "\"category\":\"service\"}},{\"id\":\"wamid.S1\",\"status\":"
	    "\"delivered\",\"timestamp\":\"1750263771\",\"recipient_id\":"
	    "\"16505551234\"},{\"id\":\"wamid.S1\",\"status\":\"read\","
	    "\"timestamp\":\"1750263772\",\"recipient_id\":\"16505551234\"},"
	    "{\"id\":\"wamid.S2\",\"status\":\"failed\",\"timestamp\":"
	    "\"1750263773\",\"recipient_id\":\"16505551234\",\"errors\":[{"
	    "\"code\":131047,\"title\":\"Re-engagement message\",\"message\":"
	    "\"Re-engagement message\",\"error_data\":{\"details\":\"More than "
	    "24 hours since the customer last replied.\"},\"href\":\"x\"}]}]",
	    err, sizeof(err));
	ok(r == 0 && it->n == 4 && it->v[0].kind == WA_ST &&
	    it->v[3].kind == WA_ST, "statuses: four st items");
	f = frame(it, 0);
	ok(f && streq(f, "t", "st") && streq(f, "channel", "whatsapp") &&
	    streq(f, "pid", "wamid.S1") && streq(f, "status", "sent") &&
	    inteq(f, "ts", 1750263770000LL) && mp_get(f, "code") == NULL &&
	    mp_get(f, "reason") == NULL && inteq(f, "id", 7),
	    "sent: {t:st, channel, pid, status, ts}, no code");
	f = frame(it, 1);
	ok(f && streq(f, "status", "delivered") &&
	    inteq(f, "ts", 1750263771000LL), "delivered");
	f = frame(it, 2);
	ok(f && streq(f, "status", "read"), "read");
	f = frame(it, 3);
	ok(f && streq(f, "pid", "wamid.S2") && streq(f, "status", "failed") &&
	    streq(f, "code", "131047") &&
	    streq(f, "reason", "Re-engagement message: More than 24 hours "
	    "since the customer last replied."),
	    "failed: code as a decimal string, reason \"title: details\"");

	r = parse(it, "\"statuses\":[{\"id\":\"wamid.S3\",\"status\":"
	    "\"failed\",\"timestamp\":1750263773,\"errors\":[{\"code\":131026,"
	    "\"title\":\"Message undeliverable\"}]}]", err, sizeof(err));
	f = r == 0 ? frame(it, 0) : NULL;
	ok(f && streq(f, "code", "131026") &&
	    streq(f, "reason", "Message undeliverable") &&
	    inteq(f, "ts", 1750263773000LL),
	    "failed without details: reason is the title; numeric timestamp");
}

static void
t_batch(struct wa_items *it)
{
	const char *body =
	    "{\"object\":\"whatsapp_business_account\",\"entry\":["
	    "{\"id\":\"1\",\"changes\":["
	    " {\"field\":\"messages\",\"value\":{\"metadata\":"
	    "  {\"phone_number_id\":\"111\"},\"contacts\":[{\"profile\":"
	    "  {\"name\":\"A\"},\"wa_id\":\"15550000001\"},{\"profile\":"
	    "  {\"name\":\"B\"},\"wa_id\":\"15550000002\"}],\"messages\":["
	    "  {\"from\":\"15550000001\",\"id\":\"wamid.A\",\"timestamp\":\"1\","
	    "   \"type\":\"text\",\"text\":{\"body\":\"a\"}},"
	    "  {\"from\":\"15550000002\",\"id\":\"wamid.B\",\"timestamp\":\"2\","
	    "   \"type\":\"text\",\"text\":{\"body\":\"b\"}}]}},"
	    " {\"field\":\"message_template_status_update\",\"value\":"
	    "  {\"event\":\"APPROVED\"}},"
	    " {\"field\":\"messages\",\"value\":{\"metadata\":"
	    "  {\"phone_number_id\":\"222\"},\"statuses\":[{\"id\":\"wamid.C\","
	    "  \"status\":\"delivered\",\"timestamp\":\"3\"}],"
	    "  \"errors\":[{\"code\":131000,\"title\":\"Something went wrong\","
	    "  \"error_data\":{\"details\":\"try later\"}}]}}]},"
	    "{\"id\":\"2\",\"changes\":["
	    " {\"field\":\"messages\",\"value\":{\"metadata\":"
	    "  {\"phone_number_id\":\"333\"},\"messages\":["
	    "  {\"from\":\"15550000003\",\"id\":\"wamid.D\",\"timestamp\":\"4\","
	    "   \"type\":\"text\",\"text\":{\"body\":\"d\"}}],\"statuses\":["
	    "  {\"id\":\"wamid.E\",\"status\":\"read\",\"timestamp\":\"5\"}]}}]}"
	    "]}";
	const msgpack_object *f;
	char err[256];
	size_t i, warns = 0, infos = 0;
	int r;

	wa_items_free(it);
	r = wa_parse(body, strlen(body), it, err, sizeof(err));
	ok(r == 0 && it->n == 5, "batch: 2 entries, 4 changes give 5 items");
	ok(it->n == 5 && strcmp(it->v[0].pid, "wamid.A") == 0 &&
	    strcmp(it->v[1].pid, "wamid.B") == 0 &&
	    strcmp(it->v[2].pid, "wamid.C") == 0 &&
	    strcmp(it->v[3].pid, "wamid.D") == 0 &&
	    strcmp(it->v[4].pid, "wamid.E") == 0 &&
	    strcmp(it->v[1].pnid, "111") == 0 &&
	    strcmp(it->v[2].pnid, "222") == 0 &&
	    strcmp(it->v[4].pnid, "333") == 0 && it->v[2].kind == WA_ST &&
	    it->v[3].kind == WA_IN, "batch: in order, each with its number");
	f = frame(it, 1);
	ok(f && streq(f, "name", "B") && streq(f, "to", "111") &&
	    inteq(f, "ts", 2000), "batch: names matched by wa_id");
	for (i = 0; i < it->nnotes; i++) {
		if (it->notes[i].warn)
			warns++;
		else
			infos++;
	}
	ok(warns == 1 && infos == 1 && it->skipped == 0 &&
	    strstr(it->notes[0].text, "message_template_status_update") &&
	    strstr(it->notes[1].text, "131000") &&
	    strstr(it->notes[1].text, "try later"),
	    "batch: value.errors[] and the other field are noted");
}

static void
t_missing(struct wa_items *it)
{
	const msgpack_object *f;
	char err[256];
	int r;

	r = parse(it, "\"messages\":[{\"from\":\"16505551234\",\"type\":"
	    "\"text\",\"text\":{\"body\":\"no id\"}},"
	    "{\"id\":\"wamid.X\",\"type\":\"text\"},"
	    "{\"id\":\"wamid.Y\",\"from\":\"Ada\",\"type\":\"text\"},"
	    "42,"
	    "{\"id\":\"wamid.Z\",\"from\":\"+16505551234\"}],"
	    "\"statuses\":[{\"id\":\"wamid.S\"},{\"status\":\"read\"}]",
	    err, sizeof(err));
	ok(r == 0 && it->n == 1 && it->skipped == 6 && it->nnotes == 6,
	    "missing id, sender, status: each skipped with a note, rest kept");
	f = frame(it, 0);
	ok(f && streq(f, "pid", "wamid.Z") && streq(f, "type", "unknown") &&
	    streq(f, "text", "") && streq(f, "from", "+16505551234") &&
	    mp_get(f, "ts") == NULL && mp_get(f, "name") == NULL,
	    "no type: \"unknown\"; no timestamp: no ts (routerd's clock); "
	    "a + in from is not doubled");

	r = parse(it, "\"messages\":[{\"from\":\"1\",\"id\":\"wamid.T\","
	    "\"timestamp\":\"soon\",\"type\":\"text\",\"text\":{}}]", err,
	    sizeof(err));
	f = r == 0 ? frame(it, 0) : NULL;
	ok(f && mp_get(f, "ts") == NULL && streq(f, "text", ""),
	    "a bad timestamp is left out; a text without body is \"\"");

	{
		const char *b = "{\"object\":\"whatsapp_business_account\","
		    "\"entry\":[{\"changes\":[{\"field\":\"messages\","
		    "\"value\":{\"messages\":[{\"from\":\"1\",\"id\":\"w\","
		    "\"type\":\"text\"}]}}]}]}";

		wa_items_free(it);
		r = wa_parse(b, strlen(b), it, err, sizeof(err));
		ok(r == 0 && it->n == 0 && it->skipped == 1 &&
		    it->nnotes == 1 && it->notes[0].warn,
		    "a change without phone_number_id: skipped, noted");
	}
	{
		const char *b = "{\"object\":\"whatsapp_business_account\","
		    "\"entry\":[]}";

		wa_items_free(it);
		r = wa_parse(b, strlen(b), it, err, sizeof(err));
		ok(r == 0 && it->n == 0 && it->nnotes == 0,
		    "no entries: nothing to store, not an error");
	}
}

static void
t_refused(struct wa_items *it)
{
	static const struct {
		const char *body, *why;
	} bad[] = {
		{ "{\"object\":\"whatsapp_business_account\",", "not JSON" },
		{ "[1,2]", "not a JSON object" },
		{ "{\"object\":\"page\",\"entry\":[]}", "not whatsapp" },
		{ "{\"entry\":[]}", "object missing" },
		{ "{\"object\":\"whatsapp_business_account\"}", "entry missing" },
		{ "{\"object\":\"whatsapp_business_account\",\"entry\":{}}",
		    "entry not an array" },
		{ "{\"object\":\"whatsapp_business_account\",\"entry\":[{"
		    "\"changes\":{}}]}", "changes not an array" },
		{ "{\"object\":\"whatsapp_business_account\",\"entry\":[{"
		    "\"changes\":[{\"field\":\"messages\",\"value\":{\"metadata\":"
		    "{\"phone_number_id\":\"1\"},\"messages\":[{\"from\":\"1\","
		    "\"id\":\"ok\",\"type\":\"text\"}],\"statuses\":{}}}]}]}",
		    "statuses not an array (and nothing else forwarded)" },
		{ "{\"object\":\"whatsapp_business_account\",\"entry\":[{"
		    "\"changes\":[{\"field\":\"messages\",\"value\":{"
		    "\"messages\":\"x\"}}]}]}", "messages not an array" },
		{ "{\"object\":\"whatsapp_business_account\",\"entry\":[\"x\"]}",
		    "an entry not an object" },
		{ "{\"object\":\"whatsapp_business_account\",\"entry\":[]\xff}",
		    "invalid UTF-8 outside any string (not JSON)" },
	};
	char err[256], desc[160];
	size_t i;
	int r;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wa_items_free(it);
		err[0] = '\0';
		r = wa_parse(bad[i].body, strlen(bad[i].body), it, err,
		    sizeof(err));
		snprintf(desc, sizeof(desc), "refused: %s", bad[i].why);
		ok(r == -1 && it->n == 0 && err[0] != '\0', desc);
	}
}

static void
t_long_text(struct wa_items *it)
{
	size_t len = PROTO_TEXT_MAX + 100, i;
	char *v, *p, err[64];
	const msgpack_object *f;
	const char *s;
	size_t sl;
	int r;

	if ((v = malloc(len + 512)) == NULL)
		abort();
	p = v + sprintf(v, "\"messages\":[{\"from\":\"1\",\"id\":\"w\","
	    "\"type\":\"text\",\"text\":{\"body\":\"a");
	/* "a" then 3-byte characters: the cut must not split one */
	for (i = 0; i < (PROTO_TEXT_MAX + 90) / 3; i++)
		p += sprintf(p, "\xe2\x82\xac");
	sprintf(p, "\"}}]");
	r = parse(it, v, err, sizeof(err));
	f = r == 0 ? frame(it, 0) : NULL;
	ok(f && mp_str(f, "text", &s, &sl) && sl <= PROTO_TEXT_MAX &&
	    sl > PROTO_TEXT_MAX - 3 && (sl - 1) % 3 == 0,
	    "a text over 64 KiB is cut on a character boundary");
	free(v);
}

/*
 * Two messages, the first with text body b1 (raw JSON string contents);
 * the frames of both, or NULL.  len: of the whole body (NUL bytes too).
 */
static int
two(struct wa_items *it, const char *b1, size_t b1len, const char *name,
    const msgpack_object **f1, const msgpack_object **f2)
{
	static msgpack_unpacked u1;	/* the first frame, and its bytes */
	static struct fbuf f;
	static int init;
	char head[512], tail[512], err[256], *body;
	size_t hl, tl;
	const char *why;
	size_t used;
	int r;

	hl = (size_t)snprintf(head, sizeof(head), "{\"object\":"
	    "\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\","
	    "\"changes\":[{\"field\":\"messages\",\"value\":{\"metadata\":"
	    "{\"phone_number_id\":\"106540352242922\"},\"contacts\":[{"
	    "\"profile\":{\"name\":\"%s\"},\"wa_id\":\"16505551234\"},"
	    "{\"profile\":{\"name\":\"Omar\"},\"wa_id\":\"16505554321\"}],"
	    "\"messages\":[{\"from\":\"16505551234\",\"id\":\"wamid.R1\","
	    "\"type\":\"text\",\"text\":{\"body\":\"", name);
	tl = (size_t)snprintf(tail, sizeof(tail), "\"}},{\"from\":"
	    "\"16505554321\",\"id\":\"wamid.R2\",\"type\":\"text\","
	    "\"text\":{\"body\":\"fine\"}}]}}]}]}");
	if ((body = malloc(hl + b1len + tl)) == NULL)
		abort();
	memcpy(body, head, hl);
	memcpy(body + hl, b1, b1len);
	memcpy(body + hl + b1len, tail, tl);
	wa_items_free(it);
	r = wa_parse(body, hl + b1len + tl, it, err, sizeof(err));
	free(body);
	*f1 = *f2 = NULL;
	if (r == -1 || it->n != 2) {
		printf("# %s, %zu items\n", r == -1 ? err : "parsed", it->n);
		return -1;
	}
	/* the first frame is decoded into buffers of its own */
	if (!init) {
		msgpack_unpacked_init(&u1);
		fbuf_init(&f);
		init = 1;
	}
	wa_item_frame(&it->v[0], 7, &f);
	if (fbuf_finish(&f) == 0 && frame_decode(fbuf_data(&f), fbuf_len(&f),
	    &u1, &used, &why) == 1)
		*f1 = &u1.data;
	*f2 = frame(it, 1);
	return 0;
}

static int
repaired(const msgpack_object *f)
{
	const msgpack_object *d = path(f, "data", "repaired");

	return d != NULL && d->type == MSGPACK_OBJECT_BOOLEAN && d->via.boolean;
}

#define RPL	"\xef\xbf\xbd"		/* U+FFFD */
#define TWO(b1, name)	two(it, b1, sizeof(b1) - 1, name, &f1, &f2)

static void
t_repair(struct wa_items *it)
{
	const msgpack_object *f1, *f2;
	size_t i, warns = 0;
	int r;

	r = TWO("caf\xe9 au lait", "Sheena");
	ok(r == 0 && streq(f1, "text", "caf" RPL " au lait") && repaired(f1) &&
	    streq(f1, "pid", "wamid.R1"),
	    "invalid UTF-8 (Latin-1): the message is kept, U+FFFD for the "
	    "bad byte, marked repaired");
	ok(r == 0 && streq(f2, "text", "fine") && mp_get(f2, "data") == NULL &&
	    streq(f2, "name", "Omar"),
	    "the other message of the notification is as it came, unmarked");
	for (i = 0; i < it->nnotes; i++)
		warns += it->notes[i].warn && strstr(it->notes[i].text,
		    "wamid.R1") && strstr(it->notes[i].text, "U+FFFD");
	ok(warns == 1 && it->skipped == 0, "a warning names the message");

	r = TWO("a\\u0000b\\u0000", "Sheena");
	ok(r == 0 && streq(f1, "text", "a" RPL "b" RPL) && repaired(f1) &&
	    streq(f2, "text", "fine") && !repaired(f2),
	    "\\u0000: each NUL becomes U+FFFD, the message marked, the other "
	    "not");
	r = TWO("x\0y", "Sheena");
	ok(r == 0 && streq(f1, "text", "x" RPL "y") && repaired(f1),
	    "a raw NUL byte in a string: the same");

	r = TWO("\xe2\x82x|\xf0\x80\x80|\xed\xa0\x80|\xc0\xaf|\xf4\x90\x80\x80|"
	    "\xe2\x82\xac", "Sheena");
	ok(r == 0 && streq(f1, "text", RPL "x|" RPL RPL RPL "|" RPL RPL RPL "|"
	    RPL RPL "|" RPL RPL RPL RPL "|\xe2\x82\xac") && repaired(f1),
	    "each maximal bad subpart is one U+FFFD: cut, overlong, "
	    "surrogate, past U+10FFFF; a good euro sign kept");
	r = TWO("hi \\ud83d there \\ude00 \\ud83d\\ude00", "Sheena");
	ok(r == 0 && streq(f1, "text", "hi " RPL " there " RPL " "
	    "\xf0\x9f\x98\x80") && repaired(f1),
	    "unpaired surrogate escapes become U+FFFD; a pair is kept");
	r = TWO("\\ud83d\\ude00 caf\xc3\xa9 \\u00e9", "Sheena");
	ok(r == 0 && streq(f1, "text", "\xf0\x9f\x98\x80 caf\xc3\xa9 \xc3\xa9") &&
	    !repaired(f1), "valid text with escapes is not marked");

	r = TWO("hello", "Sh\xff" "eena");
	ok(r == 0 && streq(f1, "text", "hello") &&
	    streq(f1, "name", "Sh" RPL "eena") && repaired(f1) &&
	    !repaired(f2), "invalid UTF-8 in the sender's profile name: the "
	    "name made valid, the message marked");

	{
		const char *b = "{\"object\":\"whatsapp_business_account\","
		    "\"entry\":[{\"changes\":[{\"field\":\"messages\","
		    "\"value\":{\"metadata\":{\"phone_number_id\":\"1\"},"
		    "\"messages\":[{\"from\":\"1\",\"id\":\"w\",\"x\xff\":1,"
		    "\"y\\u0000\":2,\"type\":\"text\",\"text\":{\"body\":\"k\"}}],"
		    "\"statuses\":[{\"id\":\"s\\u0000\",\"status\":\"read\"}]}}]}]}";
		char err[256];
		const msgpack_object *f;

		wa_items_free(it);
		r = wa_parse(b, strlen(b), it, err, sizeof(err));
		f = r == 0 ? frame(it, 0) : NULL;
		ok(r == 0 && it->n == 2 && streq(f, "text", "k") &&
		    !repaired(f), "a bad key (invalid UTF-8, \\u0000) refuses "
		    "nothing");
		f = r == 0 ? frame(it, 1) : NULL;
		ok(f && streq(f, "t", "st") && streq(f, "pid", "s" RPL),
		    "a status with a NUL in its id is forwarded, made valid");
	}
}

/* Customers known by a business-scoped user id, with or without a number. */
static void
t_bsuid(struct wa_items *it)
{
	const msgpack_object *f;
	char err[256];
	int r;

	r = parse(it, "\"contacts\":[{\"profile\":{\"name\":\"Kai\","
	    "\"username\":\"@kai\"},\"user_id\":\"US.1349120865530\"}],"
	    "\"messages\":[{\"from_user_id\":\"US.1349120865530\",\"id\":"
	    "\"wamid.B1\",\"timestamp\":\"1749416383\",\"type\":\"text\","
	    "\"text\":{\"body\":\"hi\"}}]", err, sizeof(err));
	f = r == 0 ? frame(it, 0) : NULL;
	ok(f && streq(f, "from", "US.1349120865530") &&
	    streq(f, "name", "Kai") &&
	    streq(path(f, "data", NULL), "username", "@kai") &&
	    streq(path(f, "data", NULL), "user_id", "US.1349120865530"),
	    "no number: the sender is the BSUID, its profile found by user_id");
	r = parse(it, "\"messages\":[{\"from\":\"16505551234\","
	    "\"from_user_id\":\"US.1349120865531\",\"from_parent_user_id\":"
	    "\"US.ENT.99\",\"id\":\"wamid.B2\",\"type\":\"text\","
	    "\"text\":{\"body\":\"hi\"}}]", err, sizeof(err));
	f = r == 0 ? frame(it, 0) : NULL;
	ok(f && streq(f, "from", "+16505551234") &&
	    streq(path(f, "data", NULL), "user_id", "US.1349120865531") &&
	    streq(path(f, "data", NULL), "parent_user_id", "US.ENT.99"),
	    "number and BSUID: the number is the sender, the BSUIDs kept");
	{
		char big[VALID_BSUID_MAX + 1], v[512];

		memset(big, '7', VALID_BSUID_MAX);
		memcpy(big, "US.", 3);
		big[VALID_BSUID_MAX] = '\0';
		snprintf(v, sizeof(v), "\"messages\":[{\"from_user_id\":\"%s\","
		    "\"id\":\"wamid.B4\",\"type\":\"text\"}]", big);
		r = parse(it, v, err, sizeof(err));
		f = r == 0 ? frame(it, 0) : NULL;
		ok(f && streq(f, "from", big),
		    "a BSUID of the longest length is the sender, whole");
	}
	r = parse(it, "\"messages\":[{\"from\":\"Ada\",\"from_user_id\":"
	    "\"not a bsuid\",\"id\":\"wamid.B3\",\"type\":\"text\"},"
	    "{\"from_user_id\":\"US.1\",\"type\":\"text\"}]", err, sizeof(err));
	ok(r == 0 && it->n == 0 && it->skipped == 2 && it->nnotes == 2 &&
	    strstr(it->notes[0].text, "no sender") != NULL &&
	    strstr(it->notes[1].text, "without a usable id") != NULL,
	    "no number nor BSUID, or no id: refused, each with its reason");
}

/* Statuses: conversation, pricing, callback data, recipient, deleted. */
static void
t_status_data(struct wa_items *it)
{
	const msgpack_object *f, *d;
	char err[256];
	int r;

	r = parse(it, "\"statuses\":[{\"id\":\"wamid.S1\",\"status\":"
	    "\"delivered\",\"timestamp\":\"1750263771\",\"recipient_user_id\":"
	    "\"US.77\",\"biz_opaque_callback_data\":\"run=7\",\"conversation\":"
	    "{\"id\":\"c1\",\"expiration_timestamp\":\"1750349771\",\"origin\":"
	    "{\"type\":\"marketing\"}},\"pricing\":{\"billable\":true,"
	    "\"pricing_model\":\"PMP\",\"category\":\"marketing\",\"type\":"
	    "\"regular\"}},{\"id\":\"wamid.S2\",\"status\":\"deleted\"}]",
	    err, sizeof(err));
	f = r == 0 ? frame(it, 0) : NULL;
	d = path(f, "data", NULL);
	ok(d && streq(path(d, "conversation", NULL), "id", "c1") &&
	    streq(path(d, "conversation", NULL), "origin", "marketing") &&
	    inteq(path(d, "conversation", NULL), "expires", 1750349771000LL) &&
	    streq(path(d, "pricing", NULL), "category", "marketing") &&
	    streq(d, "biz_opaque_callback_data", "run=7") &&
	    streq(d, "recipient_user_id", "US.77"),
	    "a status keeps conversation, pricing, callback data, recipient");
	f = r == 0 ? frame(it, 1) : NULL;
	ok(f && streq(f, "status", "deleted") && mp_get(f, "data") == NULL,
	    "a deleted status is forwarded");
}

int
main(void)
{
	struct wa_items it;

	printf("1..65\n");
	log_init("t_wa_parse", 0);
	wa_items_init(&it);
	fbuf_init(&fb);
	msgpack_unpacked_init(&up);
	t_text(&it);
	t_media(&it);
	t_location(&it);
	t_contacts(&it);
	t_interactive(&it);
	t_reaction(&it);
	t_unsupported(&it);
	t_statuses(&it);
	t_batch(&it);
	t_missing(&it);
	t_refused(&it);
	t_long_text(&it);
	t_repair(&it);
	t_bsuid(&it);
	t_status_data(&it);
	wa_items_free(&it);
	fbuf_free(&fb);
	msgpack_unpacked_destroy(&up);
	return failed ? 1 : 0;
}
