/*
 * routerd_files — what files an outbound message may carry: the
 * campaign's file policy (files enabled; from the agent's own machine,
 * from the library, i.e. media URLs; the types allowed per channel) and
 * the channel's own limits (lib/media: how many per message, what types
 * and sizes).  A rule module under routerd_policy; it calls routerd_store,
 * routerd_campaign and lib/.
 */
#include <stdio.h>
#include <string.h>

#include "media.h"
#include "mp.h"
#include "valid.h"
#include "routerd.h"

/*
 * Is mime in the campaign's files.types list for channel?  1 yes, 0 no
 * (the list is put in list, comma-separated, for the reason); a campaign
 * without a list for the channel allows every type, except on WhatsApp,
 * which takes only Meta's types (lib/valid.h).
 */
static int
type_allowed(const char *campaign, enum chan ch, const char *mime,
    char *list, size_t listsz)
{
	const char *channel = rs_chan_name(ch);
	msgpack_unpacked up;
	const msgpack_object *files, *types, *l = NULL;
	MDB_txn *ct;
	size_t i, off = 0;
	int found = 0, haslist = 0;

	list[0] = '\0';
	msgpack_unpacked_init(&up);
	if (camp_rtxn(&ct) == 0) {
		if (camp_doc(ct, "campaigns", campaign, &up) == 0 &&
		    (files = mp_get(&up.data, "files")) != NULL &&
		    (types = mp_get(files, "types")) != NULL &&
		    (l = mp_get(types, channel)) != NULL &&
		    l->type == MSGPACK_OBJECT_ARRAY) {
			haslist = 1;
			for (i = 0; i < l->via.array.size; i++) {
				const msgpack_object *e = &l->via.array.ptr[i];

				if (e->type != MSGPACK_OBJECT_STR)
					continue;
				if (mime && mp_streq(e, mime))
					found = 1;
				if (off + e->via.str.size + 3 < listsz) {
					off += (size_t)snprintf(list + off,
					    listsz - off, "%s%.*s", off ? ", " :
					    "", (int)e->via.str.size,
					    e->via.str.ptr);
				}
			}
		}
		mdb_txn_abort(ct);
	}
	msgpack_unpacked_destroy(&up);
	if (haslist)
		return found;
	if (ch != CH_WHATSAPP)
		return 1;
	for (i = 0; valid_whatsapp_mimes[i]; i++) {
		if (mime && strcmp(valid_whatsapp_mimes[i], mime) == 0)
			found = 1;
		if (off + strlen(valid_whatsapp_mimes[i]) + 3 < listsz)
			off += (size_t)snprintf(list + off, listsz - off, "%s%s",
			    off ? ", " : "", valid_whatsapp_mimes[i]);
	}
	return found;
}

int
files_check(const struct conv *cv, const msgpack_object *file,
    const msgpack_object *media, char *why, size_t whysz)
{
	const char *ch = rs_chan_name(cv->channel);
	struct camp c;
	char mime[128], name[128], src[16] = "local", list[400], sz[200];
	const msgpack_object *e;
	int64_t size = 0;
	size_t i, n;

	why[0] = '\0';
	if (file == NULL && media == NULL)
		return 0;
	camp_get(cv->campaign, &c);
	if (!c.files_enabled) {
		snprintf(why, whysz, "campaign %s does not allow agents to send "
		    "files", cv->campaign);
		return -1;
	}
	if (file != NULL)
		mp_strcpy(file, "source", src, sizeof(src));
	if (file != NULL && strcmp(src, "local") == 0 && !c.files_local) {
		snprintf(why, whysz, "campaign %s allows agents to send files "
		    "only from the library", cv->campaign);
		return -1;
	}
	/* a media URL is a file from the library: not one of the agent's */
	if ((media != NULL || strcmp(src, "library") == 0) &&
	    !c.files_library) {
		snprintf(why, whysz, "campaign %s does not allow files from the "
		    "library (media URLs); only local files", cv->campaign);
		return -1;
	}
	n = media ? media->via.array.size : 1;
	if (n > (size_t)media_max_count(ch)) {
		snprintf(why, whysz, "%s takes at most %d file%s per message",
		    ch, media_max_count(ch),
		    media_max_count(ch) == 1 ? "" : "s");
		return -1;
	}
	for (i = 0; i < n; i++) {
		e = media ? &media->via.array.ptr[i] : file;
		mime[0] = name[0] = '\0';
		mp_strcpy(e, "mime", mime, sizeof(mime));
		if (!mp_strcpy(e, "name", name, sizeof(name)))
			mp_strcpy(e, "url", name, sizeof(name));
		if (!type_allowed(cv->campaign, cv->channel, mime[0] ? mime :
		    NULL, list, sizeof(list))) {
			if (mime[0])
				snprintf(why, whysz, "campaign %s does not allow "
				    "%s files on %s (allowed: %s)", cv->campaign,
				    mime, ch, list);
			else
				snprintf(why, whysz, "the type of %.80s is not "
				    "known, and campaign %s allows only %s on %s",
				    name, cv->campaign, list, ch);
			return -1;
		}
		if (file != NULL && mp_int(file, "size", &size) &&
		    media_check_size(ch, mime[0] ? mime :
		    "application/octet-stream", size, sz, sizeof(sz)) == -1) {
			snprintf(why, whysz, "%.100s: %s", name, sz);
			return -1;
		}
	}
	if (file != NULL && cv->channel == CH_SMS) {
		snprintf(why, whysz, "SMS (Twilio) takes media only as a public "
		    "URL: msg send --media-url URL");
		return -1;
	}
	/* Instagram takes only some types (messengerd checks them again,
	 * with the file's own bytes, before it uploads) */
	for (i = 0; cv->channel == CH_INSTAGRAM && i < n; i++) {
		e = media ? &media->via.array.ptr[i] : file;
		if (mp_strcpy(e, "mime", mime, sizeof(mime)) && mime[0] &&
		    media_check_type(ch, mime, why, whysz) == -1)
			return -1;
	}
	return 0;
}
