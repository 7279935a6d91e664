#!/usr/bin/env python3
"""Writes tests/data/track_fuzz.ndjson: adversarial tweets for the matcher.

    python3 tests/data/gen/track_fuzz.py [N] [OUT]     (from the repository root)

Texts and link URLs are random mixes of what tokenizing has to get right:
ASCII words in any case, every ASCII punctuation mark, ASCII and Unicode
spaces, format characters, Unicode punctuation and its fullwidth forms,
currency signs, symbols and emoji (with joiners and variation selectors),
letters of several scripts, HTML entities whole and broken, URLs in and out
of punctuation, # and @ in every position, and invalid UTF-8 (stray and
truncated sequences, overlong forms, surrogates, runs of continuation bytes,
lone leads), often glued together with no space. Tweets are v1.1 (plain,
extended, retweets) and v2, with urls and media entities whose fields are
sometimes not strings. Seeded: the same arguments give the same bytes.
tests/data/scripts/track_diff.lua runs over it (see tests/cli/cases.py).
"""
import random
import sys

WORDS = ["cloud", "Cloud", "CLOUD", "computing", "Computing", "aws", "AWS", "clouds", "the", "a", "rt", "RT",
         "amp", "example", "com", "blog", "t", "co", "data", "x", "www", "http", "https", "cloudcomputing",
         "cloud_computing", "coca", "cola", "node", "js", "3", "14", "_", "__", "café", "naïve", "touché"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
SPACES = [" ", " ", " ", "  ", "\t", "\n", "\r", "\v", "\f"]
USPACES = ["\u00a0", "\u2000", "\u2003", "\u2009", "\u200a", "\u200b", "\u2028", "\u2029", "\u202f", "\u205f",
           "\u3000", "\ufeff", "\u0085"]
FORMAT = ["\u00ad", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202e", "\u2060", "\u2066", "\u2069",
          "\ufe0e", "\ufe0f"]
UPUNCT = ["\u00a1", "\u00bf", "\u00ab", "\u00bb", "\u00b4", "\u2018", "\u2019", "\u201a", "\u201b", "\u2032",
          "\u2035", "\u2039", "\u203a", "\u201c", "\u201d", "\u201e", "\u201f", "\u2033", "\u2010", "\u2011",
          "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\u2024", "\u2025", "\u2026", "\u203c", "\u2047",
          "\u2048", "\u2049", "\u3001", "\u3002", "\u301c", "\u3030", "\u3003", "\u301d", "\u301e", "\u301f",
          "\u060c", "\u060d", "\u061b", "\u061f", "\u066a", "\u06d4", "\u0964", "\u0965", "\u0e5a", "\u0e5b",
          "\uff61", "\uff64", "\u00a6", "\u00a7", "\u00b0", "\u00b6", "\u00b7", "\u2016", "\u2020", "\u2022",
          "\u2e2e", "\u3008", "\u3010", "\u30fb", "\ufe10", "\ufe30", "\ufe50", "\uff5f", "\uff65"]
FULLWIDTH = [chr(c) for c in range(0xFF01, 0xFF5F)]
CURRENCY = ["\u00a2", "\u00a3", "\u00a5", "\u20ac", "\u20bf", "\u20b9"]
SYMBOLS = ["\u00a9", "\u00ae", "\u2122", "\u2139", "\u2190", "\u21d2", "\u2600", "\u2601", "\u2764", "\u2b50",
           "\u303d", "\u3297", "\u3299", "\U0001F600", "\U0001F525", "\U0001F9F5", "\U0001F447", "\U0001F3FB",
           "\U0001F469\u200d\U0001F4BB", "\u2764\ufe0f", "\U0001F1FA\U0001F1F8", "\U0001FAFF", "\U0001F004"]
LETTERS = ["é", "ü", "ñ", "ç", "ß", "クラウド", "云计算", "の", "تقنية", "سحابة", "클라우드", "क्लाउड", "เมฆ", "облако",
           "ｃｌｏｕｄ", "Ⅻ", "ﬁ", "µ", "ª", "²", "¼"]
ENTITIES = ["&amp;", "&lt;", "&gt;", "&quot;", "&AMP;", "&Lt;", "&nbsp;", "&amp", "&#39;", "&amp;amp;", "&;",
            "&&amp;", "AT&amp;T", "\uff06amp\uff1b"]
URLS = ["https://www.example.com/blog/?q=1#x", "http://EXAMPLE.com", "www.example.com/a", "https://t.co/AbCdE12345",
        "ftp://example.com/x", "https://", "http://", "www.", "mailto:x@y.com", "https://例え.jp/パス",
        "HTTPS://WWW.EXAMPLE.COM/BLOG/", "https://example.com:8080/a", "https://user@example.com/",
        "https://aws.amazon.com/", "example.com/blog", "https://x.co/?", "https://x.co/#", "https://x.co/a?b#c/d",
        "https://x.co/a)", "http://a.b/\u2026", "h", "ht", "wwwx.example.com", "https:/x.com", "https//x.com"]
SIGILS = ["#cloud", "#Cloud", "@cloud", "@aws", "##x", "#@x", "@#x", "#café", "#クラウド", "#123", "a#b",
          "me@example.com", "#", "@", "#cloud.", "@aws:", "#cloud\u2026", "\uff03cloud", "\uff20aws", "#_", "@__x"]
BAD = [b"\x80", b"\xbf", b"\xff", b"\xfe", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xed\xa0\x80",
       b"\xf4\x90\x80\x80", b"\xf5\x80", b"\xe2\x80", b"\xe2", b"\xf0\x9f\x98", b"\xf0\x9f", b"\xc2", b"\xd8",
       b"\xc2\x80\x80", b"\xc2\x81\x89", b"\xe0\x9f\x98\x80", b"\xe2\x80\xa6\x80", b"\xef\xbc\x81\xbf",
       b"\xf0\x9f\x98\x80\x80\x80", b"\xd8\x8c\x80", b"\xe3\x80", b"\xef\xbf"]


def frag(rng):
    r = rng.random()
    if r < 0.22:
        return rng.choice(WORDS).encode()
    if r < 0.34:
        return rng.choice(PUNCT).encode()
    if r < 0.44:
        return rng.choice(SPACES).encode()
    for p, pool in ((0.48, USPACES), (0.51, FORMAT), (0.58, UPUNCT), (0.61, FULLWIDTH), (0.63, CURRENCY),
                    (0.68, SYMBOLS), (0.74, LETTERS), (0.78, ENTITIES), (0.85, URLS), (0.92, SIGILS)):
        if r < p:
            return rng.choice(pool).encode()
    if r < 0.97:
        return rng.choice(BAD)
    return bytes(rng.randrange(0x80, 0x100) for _ in range(rng.randrange(1, 6)))


def text(rng, lo=3, hi=45):
    parts = []
    for _ in range(rng.randrange(lo, hi)):
        parts.append(frag(rng))
        if rng.random() < 0.45:
            parts.append(b" ")
    return b"".join(parts)


def url(rng):
    if rng.random() < 0.6:
        base = rng.choice(URLS).encode()
        return base + (text(rng, 0, 3).replace(b" ", b"") if rng.random() < 0.4 else b"")
    return text(rng, 1, 6)


def jstr(b):
    """A JSON string holding the bytes b as they are (invalid UTF-8 too)."""
    out = bytearray(b'"')
    for c in b:
        if c == 0x22:
            out += b'\\"'
        elif c == 0x5C:
            out += b"\\\\"
        elif c < 0x20 or c == 0x7F:
            out += b"\\u%04x" % c
        else:
            out.append(c)
    out += b'"'
    return bytes(out)


def jval(rng, v):
    if isinstance(v, bytes):
        return jstr(v)
    if isinstance(v, dict):
        return b"{" + b",".join(jstr(k.encode()) + b":" + jval(rng, x) for k, x in v.items()) + b"}"
    if isinstance(v, list):
        return b"[" + b",".join(jval(rng, x) for x in v) + b"]"
    if v is None:
        return b"null"
    if v is True:
        return b"true"
    return str(v).encode()


def link_field(rng):
    r = rng.random()
    if r < 0.85:
        return url(rng)
    return rng.choice([None, 42, 1.5, True, [url(rng)], {"x": url(rng)}])


def entities(rng):
    ents = {}
    for kind in ("urls", "media"):
        if rng.random() < 0.6:
            lst = []
            for _ in range(rng.randrange(0, 4)):
                if rng.random() < 0.1:
                    lst.append(rng.choice([None, 7, b"https://example.com", []]))
                    continue
                e = {}
                for f in ("url", "expanded_url", "display_url", "unwound_url"):
                    if rng.random() < 0.7:
                        e[f] = link_field(rng)
                lst.append(e)
            ents[kind] = lst
        elif rng.random() < 0.1:
            ents[kind] = rng.choice([None, 3, b"x", {}])
    if rng.random() < 0.3:
        ents["hashtags"] = [{"text": b"cloud"}]
    return ents


def tweet(rng, n):
    ident = 1600000000000000000 + n
    kind = rng.random()
    t = {"id_str": str(ident).encode(), "created_at": b"Mon Oct 10 11:06:40 +0000 2022",
         "user": {"screen_name": b"fuzz%d" % n}}
    if kind < 0.55:
        t["text"] = text(rng)
        if rng.random() < 0.8:
            t["entities"] = entities(rng)
        if rng.random() < 0.3:
            t["extended_tweet"] = {"full_text": text(rng, 10, 80), "entities": entities(rng)}
            if rng.random() < 0.3:
                t["extended_tweet"]["extended_entities"] = entities(rng)
        if rng.random() < 0.2:
            t["extended_entities"] = entities(rng)
        return t
    if kind < 0.75:
        orig = {"text": text(rng), "user": {"screen_name": b"orig%d" % n}, "entities": entities(rng)}
        if rng.random() < 0.5:
            orig["extended_tweet"] = {"full_text": text(rng, 10, 60), "entities": entities(rng)}
        t["text"] = b"RT @orig%d: " % n + text(rng, 1, 5)
        t["retweeted_status"] = orig
        t["entities"] = entities(rng)
        return t
    data = {"id": str(ident).encode(), "text": text(rng), "author_id": b"1"}
    if rng.random() < 0.7:
        data["entities"] = entities(rng)
    if rng.random() < 0.3:
        data["note_tweet"] = {"text": text(rng, 10, 80), "entities": entities(rng)}
    return {"data": data, "includes": {"users": [{"id": b"1", "username": b"v2fuzz"}]}}


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    out = sys.argv[2] if len(sys.argv) > 2 else "tests/data/track_fuzz.ndjson"
    rng = random.Random(20240917)
    with open(out, "wb") as f:
        for i in range(n):
            f.write(jval(rng, tweet(rng, i)) + b"\n")


if __name__ == "__main__":
    main()
