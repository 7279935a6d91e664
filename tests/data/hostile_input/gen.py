#!/usr/bin/env python3
"""Writes the hostile-input corpus of this folder and what tweetmatch must
make of it. Run from anywhere: python3 tests/data/hostile_input/gen.py

For each corpus NAME it writes:
  NAME.ndjson    the input lines, as bytes (NUL, 0xFF, ... included)
  NAME.av.ndjson what `tweetmatch test echo.lua NAME.ndjson` prints on stdout
  NAME.stderr    what it prints on stderr, the input path written {input}

The expectations are written here by hand, line by line, from the contract:
JSON that lua-cjson cannot decode is bad input (its message, with the
character position); a decoded value DynamoDB cannot hold (an infinity, a
number out of its range, a string or a name that is not UTF-8, nesting
deeper than 32) is a rule error for that tweet; everything else is an item,
exactly. The e2e cases (tests/e2e/cases.py, hostile_*) check `tweetmatch
test` against these files and then stream the same bytes to `tweetmatch
run`: the table must hold exactly the items, the log name each error.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DEEP = 10000


def S(s):
    return {"S": s}


def N(s):
    return {"N": s}


def item(id_, **attrs):
    out = {"id": S(id_)}
    out.update(attrs)
    return out


def nested_lists(depth, leaf):
    v = leaf
    for _ in range(depth):
        v = {"L": [v]}
    return v


def too_deep(at):
    return "invalid JSON: Found too many nested data structures (1001) at character %d" % at


def deep_path(name):
    return 'item: attribute "%s%s": nested deeper than DynamoDB\'s limit of 32 levels' % (name, "[1]" * 32)


# Each corpus: a list of (line bytes, expectation). An expectation is
#   ("item", av)              the item, as DynamoDB attribute values
#   ("bad", message)          bad input: the line is not JSON lua-cjson reads
#   ("rule", tweet_id, msg)   a rule error for that tweet (nothing written)
#   ("control",)              a control message: not a tweet, nothing written

def corpus_deep():
    out = []
    add = lambda line, *exp: out.append((line.encode() if isinstance(line, str) else line, exp))  # noqa: E731
    add('{"id_str":"101","text":"before"}', "item", item("101", text=S("before")))
    # 10,000 levels of arrays, of objects, both inside a tweet, alternating,
    # unclosed: lua-cjson stops at its depth limit (1000), at the character
    # that opens level 1001, long before the end of the line.
    add("[" * DEEP + "]" * DEEP, "bad", too_deep(1001))
    add('{"a":' * DEEP + "1" + "}" * DEEP, "bad", too_deep(5 * 1000 + 1))
    p = '{"id_str":"102","text":"deep value","deep":'
    add(p + "[" * DEEP + "]" * DEEP + "}", "bad", too_deep(len(p) + 1000))
    p = '{"id_str":"103","text":"alternating","deep":'
    add(p + '[{"a":' * (DEEP // 2) + "0" + "}]" * (DEEP // 2) + "}", "bad", too_deep(len(p) + 6 * 499 + 2))
    add("[" * DEEP, "bad", too_deep(1001))
    # Control keys first: the stream parses these itself (json.c, depth 64).
    p = '{"errors":'
    add(p + "[" * DEEP + "]" * DEEP + "}", "bad", too_deep(len(p) + 1000))
    p = '{"limit":'
    add(p + '{"a":' * DEEP + "1" + "}" * DEEP + "}", "bad", too_deep(len(p) + 5 * 999 + 1))
    # Decodable (1000 levels with the tweet), but deeper than DynamoDB's 32.
    p = '{"id_str":"104","text":"999 deep","deep":'
    add(p + "[" * 999 + "]" * 999 + "}", "rule", "104", deep_path("deep"))
    add('{"id_str":"105","text":"33 deep","deep":' + "[" * 33 + '"x"' + "]" * 33 + "}", "rule", "105",
        deep_path("deep"))
    # The deepest an item may be: 32 levels (the item's own map and 31 lists
    # inside its attribute... as the marshaling counts them).
    add('{"id_str":"106","text":"32 deep","deep":' + "[" * 32 + '"x"' + "]" * 32 + "}", "item",
        item("106", text=S("32 deep"), deep=nested_lists(32, S("x"))))
    add('{"id_str":"107","text":"after"}', "item", item("107", text=S("after")))
    return out


def corpus_numbers():
    out = []
    add = lambda line, *exp: out.append((line.encode(), exp))  # noqa: E731

    def inf(id_, text, sign="", name="n"):
        add('{"id_str":"%s","n":%s}' % (id_, text), "rule", id_,
            'item: attribute "%s": %sinf is not a number DynamoDB can store' % (name, sign))

    add('{"id_str":"200","n":1}', "item", item("200", n=N("1")))
    # Past a double's range: lua-cjson (strtod) makes +-inf; DynamoDB has no
    # infinity, so the item is refused as a rule error, never written "inf".
    inf("201", "1e400")
    inf("202", "-1e400", "-")
    inf("203", "1" + "0" * 400)
    inf("204", "1E+999999999999999999999")
    # Below the smallest double: 0 (lua-cjson decodes it so; contract: within
    # what lua-cjson decodes exactly).
    add('{"id_str":"205","n":1e-400}', "item", item("205", n=N("0")))
    add('{"id_str":"206","n":-1e-400}', "item", item("206", n=N("0")))
    # Integers of 100 digits: floats, in shortest round-trip form.
    add('{"id_str":"207","n":%s}' % ("1" * 100), "item", item("207", n=N("1.111111111111111e+99")))
    add('{"id_str":"208","n":-%s}' % ("9" * 100), "item", item("208", n=N("-1e+100")))
    add('{"id_str":"209","n":123456789012345678901234567890}', "item", item("209", n=N("1.2345678901234568e+29")))
    # 2^53 + 1 is not a double: it rounds to 2^53 (why ids travel as id_str).
    add('{"id_str":"210","n":9007199254740993}', "item", item("210", n=N("9007199254740992")))
    add('{"id_str":"211","n":-0}', "item", item("211", n=N("0")))
    add('{"id_str":"212","n":1E+2}', "item", item("212", n=N("100")))
    add('{"id_str":"213","n":0.1}', "item", item("213", n=N("0.1")))
    # DynamoDB's range is 1e-130 .. under 1e126.
    add('{"id_str":"214","n":1e-130}', "item", item("214", n=N("1e-130")))
    add('{"id_str":"215","n":1e-131}', "rule", "215",
        'item: attribute "n": 1e-131 is outside DynamoDB\'s number range (1e-130 <= |n| < 1e+126)')
    add('{"id_str":"216","n":1e308}', "rule", "216",
        'item: attribute "n": 1e+308 is outside DynamoDB\'s number range (1e-130 <= |n| < 1e+126)')
    # An infinity deep inside: the path names it.
    add('{"id_str":"217","m":{"x":[1,{"y":1e400}]}}', "rule", "217",
        'item: attribute "m.x[2].y": inf is not a number DynamoDB can store')
    # Not JSON numbers at all: bad input.
    for text, what in (("01", "number"), (".5", "token"), ("+1", "token"), ("0x10", "number"),
                       ("Infinity", "token"), ("-Infinity", "number"), ("NaN", "token"), ("-", "number")):
        add('{"id_str":"218","n":%s}' % text, "bad", "invalid JSON: Expected value but found invalid %s at "
            "character 21" % what)
    # strtod reads "1" of "1e"; the "e" is then a stray token.
    add('{"id_str":"218","n":1e}', "bad",
        "invalid JSON: Expected comma or object end but found invalid token at character 22")
    # A control message with a hostile number: the stream's own parser reads
    # it (json.c), the rule engine counts it as control.
    add('{"limit":{"track":1e400,"timestamp_ms":"1"}}', "control")
    add('{"id_str":"219","n":2}', "item", item("219", n=N("2")))
    return out


def corpus_utf8():
    out = []
    add = lambda line, *exp: out.append((line if isinstance(line, bytes) else line.encode(), exp))  # noqa: E731
    bad_escape = "invalid JSON: Expected value but found invalid unicode escape code at character %d"

    def not_utf8(id_, raw, name="text", byte=2):
        add(b'{"id_str":"%s","%s":"x%s"}' % (id_.encode(), name.encode(), raw), "rule", id_,
            'item: attribute "%s": the string is not valid UTF-8 (byte %d)' % (name, byte))

    add('{"id_str":"300","text":"before"}', "item", item("300", text=S("before")))
    # Surrogate escapes that do not make a pair: lua-cjson refuses the line.
    add('{"id_str":"301","text":"\\ud800"}', "bad", bad_escape % 25)
    add('{"id_str":"302","text":"\\udc00"}', "bad", bad_escape % 25)
    add('{"id_str":"303","text":"\\ud800\\u0041"}', "bad", bad_escape % 25)
    add('{"id_str":"304","text":"\\udc00\\ud800"}', "bad", bad_escape % 25)
    add('{"id_str":"305","text":"\\ud800\\n"}', "bad", bad_escape % 25)
    add('{"id_str":"306","text":"\\u12"}', "bad", bad_escape % 25)
    # A pair, in either case, is one character.
    add('{"id_str":"307","text":"\\ud83d\\ude00"}', "item", item("307", text=S("\U0001F600")))
    add('{"id_str":"308","text":"\\uD83D\\uDE00"}', "item", item("308", text=S("\U0001F600")))
    # Raw bytes that are not UTF-8: lua-cjson passes them through; the item
    # holding them is a rule error naming the attribute and the byte.
    not_utf8("309", b"\xc0\xaf")              # overlong '/'
    not_utf8("310", b"\xc0\x80")              # overlong NUL
    not_utf8("311", b"\xff")
    not_utf8("312", b"\xfe")
    not_utf8("313", b"\xed\xa0\x80")          # an encoded surrogate (U+D800)
    not_utf8("314", b"\xe2\x82")              # cut short at the end of the string
    not_utf8("315", b"\x80")                  # a lone continuation byte
    not_utf8("316", b"\xf8\x88\x80\x80\x80")  # a 5-byte form
    not_utf8("317", b"\xf4\x90\x80\x80")      # above U+10FFFF
    add(b'{"id_str":"318","k\xffey":"v"}', "rule", "318",
        'item: attribute "k\\xffey": the attribute name is not valid UTF-8 (byte 2)')
    # Where the rule does not look, such bytes do no harm.
    add(b'{"id_str":"319","text":"fine","_raw":"\xff\xc0\xaf"}', "item", item("319", text=S("fine")))
    # An id that is not UTF-8: the error names the tweet as best it can.
    add(b'{"id_str":"32\xff0","text":"bad id"}', "rule", "32\udcff0",
        'item: attribute "id": the string is not valid UTF-8 (byte 3)')
    # A byte-order mark before the JSON is not JSON; inside a string it is a
    # character like another, as are the noncharacters U+FFFE and U+FFFF.
    add(b'\xef\xbb\xbf{"id_str":"321"}', "bad", "invalid JSON: Expected value but found invalid token at character 1")
    add(b'{"id_str":"322","text":"\xef\xbb\xbfbom \xf0\x9f\x98\x80 \\u00ff\\uffff\\ufffe"}', "item",
        item("322", text=S("\ufeffbom \U0001F600 \u00ff\uffff\ufffe")))
    add('{"id_str":"323","text":"after"}', "item", item("323", text=S("after")))
    return out


def corpus_nul():
    out = []
    add = lambda line, *exp: out.append((line if isinstance(line, bytes) else line.encode(), exp))  # noqa: E731
    add('{"id_str":"400","text":"before"}', "item", item("400", text=S("before")))
    # \u0000 escapes are characters: kept, in values, names and keys alike.
    add('{"id_str":"401","text":"a\\u0000b"}', "item", item("401", text=S("a\u0000b")))
    add('{"id_str":"402","te\\u0000xt":"name with NUL"}', "item", item("402", **{"te\u0000xt": S("name with NUL")}))
    add('{"id_str":"40\\u00003","text":"key with NUL"}', "item", item("40\u00003", text=S("key with NUL")))
    add('{"id_str":"404","text":"\\u0000"}', "item", item("404", text=S("\u0000")))
    # A raw NUL byte is never JSON (a control character in a string must be
    # escaped; between tokens it is not white space): bad input, wherever it
    # is, after the JSON value included (lua-cjson alone would stop there).
    nul = "invalid JSON: a raw NUL byte at byte %d (JSON writes it \\u0000, inside a string)"
    add(b'{"id_str":"405","text":"a\x00b"}', "bad", nul % 26)
    add(b'{"id_str":"406",\x00"text":"x"}', "bad", nul % 17)
    add(b'\x00{"id_str":"407"}', "bad", nul % 1)
    add(b'\x00\x00\x00\x00', "bad", nul % 1)
    add(b'{\x00"id_str":"408"}', "bad", nul % 2)
    add(b'{"id_str":"410","text":"x"}\x00{"id_str":"411"}', "bad", nul % 28)
    add('{"id_str":"409","text":"after"}', "item", item("409", text=S("after")))
    return out


CORPORA = {"deep": corpus_deep, "numbers": corpus_numbers, "utf8": corpus_utf8, "nul": corpus_nul}


def av_line(av):
    return json.dumps(av, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def shown_id(tid):
    """A tweet id as `tweetmatch test` prints it (bytes as they are)."""
    return tid.encode("utf-8", "surrogateescape")


def write(name, entries):
    tweets = matched = items = control = errors = 0
    out, err = [], []
    for n, (line, exp) in enumerate(entries, 1):
        assert b"\n" not in line and b"\r" not in line, (name, n)
        kind = exp[0]
        if kind == "item":
            tweets += 1
            matched += 1
            items += 1
            out.append(av_line(exp[1]).encode())
        elif kind == "bad":
            errors += 1
            err.append(b"{input}:%d: bad input: %s" % (n, exp[1].encode()))
        elif kind == "rule":
            tweets += 1
            errors += 1
            err.append(b"{input}:%d: rule error (tweet %s): %s" % (n, shown_id(exp[1]), exp[2].encode()))
        elif kind == "control":
            control += 1
        else:
            raise ValueError(kind)
    err.append(b"tweets: %d, matched: %d, items: %d, deletes: 0, control: %d, errors: %d"
               % (tweets, matched, items, control, errors))
    with open(os.path.join(HERE, name + ".ndjson"), "wb") as f:
        f.write(b"".join(line + b"\n" for line, _ in entries))
    with open(os.path.join(HERE, name + ".av.ndjson"), "wb") as f:
        f.write(b"".join(l + b"\n" for l in out))
    with open(os.path.join(HERE, name + ".stderr"), "wb") as f:
        f.write(b"".join(l + b"\n" for l in err))


def main():
    for name, make in CORPORA.items():
        write(name, make())


if __name__ == "__main__":
    main()
