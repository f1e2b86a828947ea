/*
 * utf8 — decode one UTF-8 sequence.  Records on pipes, SMS segment counts,
 * input rules and msg's terminal output all walk UTF-8 text, and each wrote
 * its own decoder; a decoder that accepts what another refuses lets a
 * text pass one check and break another, so there is one, here.  What to do
 * with a byte that is not UTF-8 (refuse it, replace it, count it) stays the
 * caller's.  Pure: no I/O, no allocation.
 */
#ifndef PARLEY_UTF8_H
#define PARLEY_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * The well-formed UTF-8 sequence at s (at most len bytes): its length, 1
 * to 4, with its code point in *cp (cp may be NULL); 0 when there is none
 * there (len 0, a stray continuation byte, an overlong form, a surrogate,
 * a code point above U+10FFFF, or a sequence cut short).  A NUL byte is a
 * sequence of 1, U+0000.
 */
size_t	utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

#endif
