/*
 * sms — pure rules about SMS text and numbers that several programs need
 * (sandboxd answers num_segments like Twilio, routerd and campaignd will pace
 * and price by segments): GSM-7 versus UCS-2 segment counting, the character
 * count Twilio's 1600 limit (PROTO_SMS_CHARS_MAX) is measured in.  Numbers
 * are valid.h's (valid_e164).
 * No I/O, no allocation.
 */
#ifndef PARLEY_SMS_H
#define PARLEY_SMS_H

#include <stddef.h>

/*
 * Segments needed to send utf8 (providers.md §3.6): GSM-7 when every
 * character is in the GSM 03.38 basic or extension table (extension
 * characters take 2 septets; 160 septets fit one segment, 153 each when
 * split), else UCS-2 (70 UTF-16 units, 67 each when split).  An escape pair
 * or a surrogate pair is never split across segments.  *ucs2 (may be NULL)
 * is set to 1 for UCS-2.  An empty or NULL text is 1 segment; bytes that are
 * not valid UTF-8 count as one UCS-2 unit each.
 */
int	sms_segments(const char *utf8, int *ucs2);
/* Characters (Unicode code points; invalid bytes count one each) in utf8. */
size_t	sms_chars(const char *utf8);

#endif
