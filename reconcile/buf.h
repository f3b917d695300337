/* buf.h - growable byte buffer with a hard maximum, always NUL-terminated.
 * Owns: memory for text being assembled (canonical requests, form bodies, plans).
 * Not: parsing; a buffer never grows past its limit (DS_ETOOBIG instead). */
#ifndef DS_BUF_H
#define DS_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* hard limit on len; 0 means the default (64 MiB) */
};

void buf_init(struct buf *b, size_t max);
void buf_cleanup(struct buf *b);
void buf_reset(struct buf *b);
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
/* Appends each string up to a NULL: the pieces of a line without printf's cost, where a hot
 * path (signing every call) builds one from a few strings. */
int buf_cat(struct buf *b, ...) __attribute__((sentinel));
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Appends s percent-encoded per RFC 3986: only A-Z a-z 0-9 - _ . ~ stay as they are
 * (the encoding SigV4 and EC2's form bodies require). '/' is kept when keep_slash. */
int buf_put_uri_encoded(struct buf *b, const char *s, size_t n, int keep_slash);
/* Appends "&key=value" ("key=value" when empty), both percent-encoded: an AWS Query form or
 * query-string pair. buf_put_pairf formats the value. */
int buf_put_pair(struct buf *b, const char *key, const char *value);
int buf_put_pairf(struct buf *b, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Appends the lowercase hex of n bytes. */
int buf_put_hex(struct buf *b, const unsigned char *p, size_t n);
/* The value of a hex digit (either case), -1 for any other character: for %XX decoding. */
int hex_digit(char c);

#endif
