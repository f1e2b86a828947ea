/*
 * provcode — the providers' error codes in words: what a Twilio or Meta
 * (WhatsApp Cloud API, Messenger Platform) error code on a failed or
 * undelivered message means, in a phrase an agent or a supervisor can act
 * on.  routerd adds it to "status" events beside the provider's own code and
 * reason; parley-records(7) lists the table.  One table, here, so that every
 * program that shows a delivery state says the same thing.
 */
#ifndef PARLEY_PROVCODE_H
#define PARLEY_PROVCODE_H

/*
 * The reason in words for code on channel ("sms", "whatsapp", "messenger",
 * "instagram"), or NULL when the table does not know the code.
 */
const char *provcode_text(const char *channel, const char *code);

#endif
