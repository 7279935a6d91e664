/* track.h: phrase matching as the stream's `track` parameter does it.
 *
 * The contract's tm.track_match, in C. A phrase list is compiled once into
 * an index (term -> phrases); matching a text then costs one hash probe per
 * token and piece of the text, whatever the number of phrases.
 *
 * The semantics are exactly those of the pure-Lua matcher in
 * lua/tweetmatch.lua (whose comments say why each rule is there):
 *   - text, link and phrase are normalised alike: ASCII lower-cased; a
 *     UTF-8 sequence led by one of C2 D8-DB E0 E2 E3 EF F0 rewritten by
 *     code point (Unicode spaces to " ", punctuation to its ASCII kin, emoji
 *     and symbols spaced apart, format characters dropped); then the HTML
 *     entities &amp; &lt; &gt; &quot; decoded. Malformed sequences are
 *     decoded by the same arithmetic as the Lua code, so invalid UTF-8
 *     gives the same answer too;
 *   - a text's tokens are its runs of non-space bytes (ASCII isspace); each
 *     is looked up whole, trimmed of punctuation, and cut into word pieces
 *     ([A-Za-z0-9_] and bytes >= 0x80), a piece after '#' or '@' also as a
 *     hashtag or mention; a token that is (or, after punctuation, starts)
 *     a URL is looked up as a URL instead: without scheme, "www.", query,
 *     fragment and trailing punctuation, and by its host;
 *   - a link (an expanded or display URL of the tweet) is looked up as a
 *     URL, untokenised;
 *   - a phrase matches when every one of its distinct terms was seen in the
 *     views of one run.
 *
 * An index is a single block of memory with no pointers out of it, so it
 * can live in storage the caller allocates (a Lua userdata: the Lua state's
 * allocator then accounts for it). Matching keeps per-run counters in the
 * index: one run at a time per index, no locking.
 *
 * Matching allocates nothing: the caller lends a scratch buffer (see
 * track_scratch_bytes) for the normalised form of one view. */
#ifndef TM_TRACK_H
#define TM_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem.h"

/* Caps: a phrase list (comma-separated, as FILTER), its phrases, and one
 * text or link handed to a run. */
#define TRACK_MAX_LIST_BYTES ((size_t)1 << 20)
#define TRACK_MAX_PHRASES 100000u
#define TRACK_MAX_TEXT_BYTES ((size_t)16 << 20)

typedef enum track_status {
    TRACK_OK = 0,
    TRACK_LIST_TOO_LONG, /* the list is over TRACK_MAX_LIST_BYTES */
    TRACK_TOO_MANY,      /* it holds over TRACK_MAX_PHRASES phrases */
} track_status;

typedef struct track track;

/* A message naming the cap a status refers to (static storage). */
const char *track_status_str(track_status st);

/* Bytes of scratch needed to normalise a view of len <= TRACK_MAX_TEXT_BYTES
 * bytes (twice len: symbols gain a space on each side). */
size_t track_scratch_bytes(size_t len);

/* Writes to out (track_scratch_bytes(len) bytes) the normalised form of
 * (s, len) that matching sees, and returns its length. For tests. */
size_t track_norm(const char *s, size_t len, char *out);

/* Compiling, in caller storage. list is comma-separated phrases (not
 * copied; the index keeps its own copy of what it needs). A phrase is
 * trimmed of ASCII white space; one with no term left is dropped and does
 * not count. scratch holds >= track_scratch_bytes(len) bytes.
 * track_measure sets *bytes to the size of the index; track_build builds it
 * in mem (that many bytes, aligned for any scalar type) and returns it: it
 * is mem itself. Nothing to free beyond mem. */
track_status track_measure(const char *list, size_t len, char *scratch, size_t scratch_bytes,
                           size_t *bytes) TM_MUST_CHECK;
track *track_build(void *mem, size_t bytes, const char *list, size_t len, char *scratch,
                   size_t scratch_bytes);

/* The same in host memory (aborts when the host is out of memory). On
 * TRACK_OK, *out is the index; caller frees it with track_free. */
track_status track_new(const char *list, size_t len, track **out) TM_MUST_CHECK;
/* Frees an index from track_new; NULL-safe. */
void track_free(track *t);

/* Phrases kept, numbered 0 .. count-1 in list order. */
uint32_t track_phrase_count(const track *t);
/* Phrase i as written in the list, trimmed; not NUL-terminated; lives as
 * long as the index. */
const char *track_phrase(const track *t, uint32_t i, size_t *len);

/* One match: begin, feed the tweet's text and links (any number of each,
 * any order), end. Caller storage; holds no resources.
 * scratch: >= track_scratch_bytes(longest view) bytes, lent for the run.
 * found: NULL to learn only whether some phrase matches (feeding stops
 * mattering once one does); else room for track_phrase_count(t) numbers,
 * where the run lists every phrase that matches. */
typedef struct track_run {
    track *t;
    char *scratch;
    size_t scratch_bytes;
    uint32_t *found;
    uint32_t n_found;
    bool matched;
} track_run;

void track_run_begin(track_run *run, track *t, char *scratch, size_t scratch_bytes, uint32_t *found);
/* Feeds a text (len <= TRACK_MAX_TEXT_BYTES): its tokens count. Returns
 * run->matched: true once a phrase has matched. */
bool track_run_text(track_run *run, const char *text, size_t len);
/* Feeds a link's URL: it counts as one URL token. Returns run->matched. */
bool track_run_link(track_run *run, const char *url, size_t len);
/* Ends the run: sorts found into list order and returns how many phrases
 * matched (with found NULL: 1 if any did, else 0). */
uint32_t track_run_end(track_run *run);

#endif
