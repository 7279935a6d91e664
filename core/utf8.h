/* utf8.h: strict UTF-8 validation (RFC 3629): no overlong forms, no
 * surrogates (U+D800..U+DFFF, which CESU-8 and lone JSON \uD8xx escapes
 * produce), nothing above U+10FFFF. */
#ifndef TM_UTF8_H
#define TM_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when (s, n) is valid UTF-8. On false, *bad_offset (if not NULL) is the
 * offset of the first byte of the first invalid sequence. */
bool utf8_valid(const char *s, size_t n, size_t *bad_offset);

#endif
