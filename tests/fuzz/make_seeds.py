#!/usr/bin/env python3
"""Regenerates tests/fuzz/corpus/<target>/ from tests/data and the cases
below (at most 50 files, 64 for marshal, 200 for decode, and 200 KB per
target). Run from anywhere; files are named by content hash."""
import glob, hashlib, json, os, re, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data")
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
MAX_FILES, MAX_BYTES = 50, 200 * 1024


def lines(path, limit=None):
    with open(path, "rb") as f:
        out = [l.rstrip(b"\n") for l in f]
    return out[:limit] if limit else out


def write(target, seeds, max_files=MAX_FILES):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    for old in glob.glob(os.path.join(d, "*")):
        os.remove(old)
    total = n = 0
    for s in seeds:
        if n >= max_files or total + len(s) > MAX_BYTES or len(s) > 8192:
            continue
        with open(os.path.join(d, hashlib.sha1(s).hexdigest()), "wb") as f:
            f.write(s)
        total += len(s)
        n += 1
    print(f"{target}: {n} files, {total} bytes")


def ndjson_lines():
    out = []
    for name in ["v11_tweets", "v2_stream", "control", "hostile", "invalid_utf8", "broken", "mixed"]:
        out += lines(os.path.join(DATA, name + ".ndjson"), 8)
    return out


def frame():
    seeds = []
    for i, name in enumerate(["control", "hostile", "broken", "mixed"]):
        body = open(os.path.join(DATA, name + ".ndjson"), "rb").read()[:3000]
        seeds.append(bytes([255, 1, 7, 64, 200, 3, 0, 13, 250][:1] + [1 + 37 * i % 255] * 8) + body)
        seeds.append(bytes([63, 1, 2, 3, 5, 8, 13, 21, 34]) + body.replace(b"\n", b"\r\n")[:2000])
    seeds.append(bytes([3, 1, 1, 1, 1, 1, 1, 1, 1]) + b"a\r\n\r\nabcdef\nxy\r\rz")
    return seeds


def rule_line():
    extra = [b'{"id_str":"1","text":"hi","n":1.5,"m":{"a":[1,2,{"b":null}]},"l":[true,"x",3]}',
             b'{"delete":{"status":{"id":1,"id_str":"1","user_id":2}}}',
             b'{"limit":{"track":5}}', b'[]', b'{"id_str":"2","text":"\\ud83d\\ude00","n":1e308}']
    return extra + ndjson_lines()


def json_seeds():
    seeds = []
    for row in lines(os.path.join(DATA, "unit", "json.tsv")):
        if row.startswith(b"#") or b"\t" not in row:
            continue
        cols = row.split(b"\t")
        seeds.append(cols[1].decode("unicode_escape").encode("utf-8", "surrogatepass") if b"\\x" in cols[1] else cols[1])
    seeds += [b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}',
              b'{"AccessKeyId":"AKID","SecretAccessKey":"s","Token":"t","Expiration":"2030-01-01T00:00:00Z"}']
    return seeds + ndjson_lines()[:15]


def sigv4():
    seeds = []
    for case in sorted(glob.glob(os.path.join(DATA, "sigv4", "suite", "*")))[:30]:
        try:
            req = open(os.path.join(case, "request.txt"), "rb").read()
        except OSError:
            continue
        head, _, body = req.partition(b"\n\n")
        first, *hdrs = head.split(b"\n")
        parts = first.split(b" ")
        method, target = parts[0], b" ".join(parts[1:-1])
        path, _, query = target.partition(b"?")
        fields = [method, path, query, body, b"", b"us-east-1", b"service", b"AKIDEXAMPLE",
                  b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b""]
        for h in hdrs:
            n, _, v = h.partition(b":")
            if n.lower() == b"x-amz-date":
                continue
            fields += [n, v]
        t = 1440938160  # 20150830T123600Z
        seeds.append(bytes([0]) + struct.pack(">I", t) + b"\n".join(fields))
    seeds.append(bytes([7]) + struct.pack(">I", 1440938160) + b"\n".join(
        [b"PUT", b"/bucket/a%20b/../c", b"x=1&y=%zz&", b"body", b"UNSIGNED-PAYLOAD", b"us-east-1", b"s3",
         b"AKID", b"secret", b"token", b"Host", b"s3.amazonaws.com", b"X-Amz-Meta-A", b"  a   b  "]))
    return seeds


def oauth1():
    seeds = []
    for row in lines(os.path.join(DATA, "oauth1", "encode.tsv")):
        if not row.startswith(b"#") and b"\t" in row:
            seeds.append(row.split(b"\t")[1])
    for row in lines(os.path.join(DATA, "oauth1", "base_uri.tsv")):
        if not row.startswith(b"#") and b"\t" in row:
            seeds.append(b"GET\n" + row.split(b"\t")[1] + b"\nstatus=Hello%20Ladies+%2b\nnonce\n1318622958\nck\ncs\ntk\nts")
    seeds.append(b"POST\nhttps://api.twitter.com/1.1/statuses/update.json?include_entities=true\n"
                 b"status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21\n"
                 b"kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg\n1318622958\nxvz1evFS4wEEPTGEFPHBog\n"
                 b"kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw\n370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb\n"
                 b"LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE")
    return seeds


def ddb_response():
    seeds = [
        b"\x01" + b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}',
        b"\x02" + b'{"__type":"com.amazon.coral.service#UnrecognizedClientException","Message":"The security token included in the request is invalid."}',
        b"\x02" + b'{"__type":"com.amazon.coral.service#InvalidSignatureException","message":"The request signature we calculated does not match. The Canonical String for this request should have been\'POST\n/\n\nhost:x\nx-amz-security-token:FQoGZXIvYXdzEJr//////////wEaDOCSESSIONTOKEN\' The String-to-Sign should have been ..."}',
        b"\x00" + b'{"UnprocessedItems":{"t":[{"PutRequest":{"Item":{"id":{"S":"1"},"ts":{"N":"5"},"x":{"L":[{"S":"a"}]}}}},{"DeleteRequest":{"Key":{"id":{"S":"2"},"ts":{"N":"6"}}}}]}}\n\n\n\nid\nts',
        b"\x00" + b'{"UnprocessedItems":{}}\n\n3591416327\nWed, 21 Oct 2015 07:28:00 GMT\nid\n',
        b"\x05" + b'<html>Service Unavailable</html>\nServiceUnavailable:http://internal.amazon.com/\n\nSun, 06 Nov 1994 08:49:37 GMT\nid\n',
        b"\x03" + b'{"__type":"ValidationException","message":"' + b"x" * 700 + b'\xc3\xa9"}\n\n\n\nid\n',
        b"\x02" + b'{"message":"Signature expired: 20150830T123600Z is now earlier than 20150830T124600Z (20150830T125100Z - 5 min.) wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}\n\n\nMon, 31 Aug 2015 12:36:00 GMT\nid\n',
    ]
    return seeds


def creds_response():
    """Bodies as the ECS endpoint and IMDS serve them (tests/creds/creds_test.c), and near misses."""
    secret, token = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "IQoJb3JpZ2luX2VjEA//////////wEaCXVzLWVhc3QtMSJH+FwoG=="

    def doc(exp="2026-11-29T06:52:00Z", code=None, akid="ASIAECSAAAAAAAAAAAAA", sec=secret, tok=token, **extra):
        d = {}
        if code is not None:
            d.update(Code=code, LastUpdated="2026-11-29T00:52:00Z", Type="AWS-HMAC")
        for k, v in (("AccessKeyId", akid), ("SecretAccessKey", sec), ("Token", tok), ("Expiration", exp)):
            if v is not None:
                d[k] = v
        d.update(extra)
        return json.dumps(d, separators=(",", ":")).encode()

    seeds = [
        doc(RoleArn="arn:aws:iam::123456789012:role/tweetmatch-task"),
        doc(code="Success", akid="ASIAIMDS000000000000"),
        json.dumps(json.loads(doc(code="Success")), indent=2).encode() + b"\n",
        doc(code="AssumeRoleUnauthorizedAccess"),
        doc(code="Bad code/with+secret=chars"),
        doc(code=""),
        doc(exp="2026-11-29T06:52:00.250Z"), doc(exp="2026-11-29T08:52:00+02:00"),
        doc(exp="2100-02-28T23:59:59-05:30"), doc(exp="2028-02-29T23:59:59Z"), doc(exp="2400-02-29T12:00:00Z"),
        doc(exp="0000-01-01T00:00:00Z"), doc(exp="9999-12-31T23:59:59.999999-23:59"),
        doc(exp="2026-13-01T00:00:00Z"), doc(exp="2026-11-29T06:52:00"), doc(exp="2100-02-29T00:00:00Z"),
        doc(exp="2026-11-29t06:52:00z"), doc(exp="2026-11-29T06:52:60Z"), doc(exp="2026-11-29T06:52:00.Z"),
        doc(exp=1795935120), doc(tok=None), doc(sec=None), doc(akid=None), doc(exp=None),
        doc(tok=""), doc(sec=12345), doc(akid="ASIA WITH SPACE"), doc(tok=token + "\r\nX-Injected: 1"),
        doc(sec=secret + "\u0000tail"), doc(akid="ASIA\u00e9\u20ac\U0001F600"),
        doc(akid="ASIAFIRST") [:-1] + b',"AccessKeyId":"ASIASECOND"}',
        b'{"AccessKeyId":"\\u0041SIA","SecretAccessKey":"\\ud83d\\ude00/+=","Token":"t\\/k","Expiration":"2026-11-29T06:52:00Z"}',
        b"{'AccessKeyId':'ASIA','SecretAccessKey':'" + secret.encode() + b"','Token':",
        b"<html>" + secret.encode() + b"</html>",
        doc() + b" " + secret.encode(),
        b'["' + secret.encode() + b'"]',
        b'{"AccessKeyId":{"nested":[[[[[[[["' + secret.encode() + b'"]]]]]]]]}}',
        b'{"code":"NotFound","message":"' + secret.encode() + b'"}',
        b"", b"{}", b"null", b'"' + secret.encode() + b'"',
        b'{"AccessKeyId":"ASIA","SecretAccessKey":"\xff\xfe' + secret.encode() + b'","Token":"x","Expiration":"2026-11-29T06:52:00Z"}',
    ]
    return seeds


# The stack program of tests/fuzz/fuzz_marshal.c: two header bytes, then
# opcodes and their operand bytes. Keep in step with its OP_* enum.
(OP_NIL, OP_BOOL, OP_INT, OP_FLOAT, OP_STR, OP_BIGSTR, OP_TABLE, OP_SET, OP_APPEND, OP_LIGHT, OP_OTHER,
 OP_SELF, OP_MARK, OP_NEST, OP_DUP, OP_POP, OP_BINARY, OP_SWAP, OP_INTKEY, OP_STRKEY) = range(20)
MARK_LIST, MARK_SET, MARK_BINARY, MARK_PLAIN, MARK_NONE = range(5)
# Indexes (operand // 2) into the harness's special integers and floats.
I_MAX, I_MIN, I_2P53, I_2P53P1 = 5, 6, 7, 8
F_NAN, F_INF, F_NEGINF, F_NEGZERO, F_ZERO, F_OVERFLOW, F_2P53P1, F_1E126, F_BELOW_1E126, F_1E_130, \
    F_BELOW_1E_130, F_DENORMAL, F_DBL_MAX, F_TENTH = 0, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 17


class Prog:
    def __init__(self, delete=False, squeeze=None):
        self.b = bytearray([(1 if delete else 0) | (2 if squeeze is not None else 0), squeeze or 0])

    def op(self, *bs):
        self.b += bytes(bs)
        return self

    def s(self, text):
        raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        self.op(OP_STR, len(raw))
        return self.op(*raw)

    def int_(self, v=None, special=None):
        if special is not None:
            return self.op(OP_INT, special * 2)
        self.op(OP_INT, 255)
        return self.op(*struct.pack("<q", v))

    def float_(self, v=None, special=None):
        if special is not None:
            return self.op(OP_FLOAT, special * 2)
        self.op(OP_FLOAT, 255)
        return self.op(*struct.pack("<d", v))

    def key(self, name):  # t v -> t
        raw = name.encode("utf-8", "surrogatepass") if isinstance(name, str) else name
        self.op(OP_STRKEY, len(raw))
        return self.op(*raw)

    def field(self, name, build):  # t -> t, t[name] = (what build pushes)
        build(self)
        return self.key(name)

    def item(self, **fields):  # pushes a table of the given fields
        self.op(OP_TABLE)
        for k, build in fields.items():
            self.field(k, build)
        return self

    def bytes(self):
        return bytes(self.b)


def s_(text):
    return lambda p: p.s(text)


def i_(v=None, special=None):
    return lambda p: p.int_(v, special)


def f_(v=None, special=None):
    return lambda p: p.float_(v, special)


def marked(mark, *elems):  # a list of elements, then a marker
    def build(p):
        p.op(OP_TABLE)
        for e in elems:
            e(p)
            p.op(OP_APPEND)
        return p.op(OP_MARK, mark)
    return build


def marshal():
    seeds = []
    typical = dict(id=s_("1234567890"), text=s_("hello \u00e9 \U0001F600"), n=i_(42), f=f_(1.5),
                   ok=lambda p: p.op(OP_BOOL, 1), gone=lambda p: p.op(OP_LIGHT, 0),
                   tags=marked(MARK_SET, s_("b"), s_("a"), s_("b")), nums=marked(MARK_SET, i_(3), f_(1.5), i_(3)),
                   bins=marked(MARK_SET, lambda p: p.s(b"\x00\x01").op(OP_BINARY), lambda p: p.s(b"\xff").op(OP_BINARY)),
                   l=marked(MARK_LIST, i_(1), s_("two"), lambda p: p.op(OP_BOOL, 0)),
                   empty_list=marked(MARK_LIST), empty_map=lambda p: p.op(OP_TABLE),
                   m=lambda p: p.item(x=lambda q: q.item(y=s_("z"))),
                   bin=lambda p: p.s(b"\x00\x01\x02\xff").op(OP_BINARY))
    seeds.append(Prog().item(**typical).bytes())
    seeds.append(Prog(squeeze=0).item(**typical).bytes())
    # A list of items, and on_delete keys.
    p = Prog().op(OP_TABLE)
    for i in range(3):
        p.item(id=s_(str(i)), ts=i_(1700000000 + i)).op(OP_APPEND)
    seeds.append(p.bytes())
    p = Prog(delete=True).op(OP_TABLE)
    for i in range(2):
        p.item(id=s_(str(i))).op(OP_APPEND)
    seeds.append(p.bytes())
    # More items than max_items (1000): the same item appended 1001 times.
    p = Prog().item(id=s_("x")).op(OP_TABLE)
    for _ in range(1001):
        p.op(OP_DUP, 0, OP_APPEND)
    seeds.append(p.bytes())
    # Numbers at the edges.
    seeds.append(Prog().item(a=f_(special=F_NEGZERO), b=f_(special=F_2P53P1), c=f_(special=F_BELOW_1E126),
                             d=f_(special=F_1E_130), e=f_(special=F_TENTH), f=f_(-1.5e-7)).bytes())
    for sp in (F_NAN, F_INF, F_NEGINF, F_OVERFLOW, F_1E126, F_BELOW_1E_130, F_DENORMAL, F_DBL_MAX):
        seeds.append(Prog().item(n=f_(special=sp)).bytes())
    seeds.append(Prog().item(a=i_(special=I_MAX), b=i_(special=I_MIN), c=i_(special=I_2P53P1), d=f_(special=F_2P53P1)).bytes())
    seeds.append(Prog().item(ns=marked(MARK_SET, i_(0), f_(special=F_NEGZERO), f_(special=F_ZERO), i_(1), f_(1.0),
                                       i_(special=I_2P53), f_(special=F_2P53P1))).bytes())
    # Strings: invalid UTF-8, NUL, empty; names likewise.
    seeds.append(Prog().item(a=s_(b"\xc3\x28"), b=s_(b"a\x00b"), c=s_(b"")).bytes())
    seeds.append(Prog().op(OP_TABLE).s("v").key(b"\xed\xa0\x80").bytes())
    seeds.append(Prog().op(OP_TABLE).s("v").key(b"").bytes())
    seeds.append(Prog().op(OP_TABLE).s("v").key(b"n\x00me").s("w").key(b"n").bytes())
    # Keys that are neither names nor 1..n.
    seeds.append(Prog().op(OP_TABLE, OP_FLOAT, F_TENTH * 2).s("v").op(OP_SET).bytes())  # {[0.1] = "v"}
    seeds.append(Prog().op(OP_TABLE, OP_BOOL, 1).s("v").op(OP_SET).bytes())             # {[true] = "v"}
    seeds.append(Prog().op(OP_TABLE).s("v").op(OP_INTKEY, 2).bytes())                   # {[0] = "v"}
    seeds.append(Prog().item(l=lambda p: p.op(OP_TABLE).s("a").op(OP_INTKEY, 3).s("c").op(OP_INTKEY, 5)).bytes())  # gap
    seeds.append(Prog().item(l=lambda p: p.op(OP_TABLE).s("a").op(OP_APPEND).s("b").key("k")).bytes())  # mixed
    # Nesting around DynamoDB's 32 levels, and a cycle.
    for d in (30, 31, 32, 33, 40):
        seeds.append(Prog().s("leaf").op(OP_NEST, d, 0x55).op(OP_TABLE, OP_SWAP).key("deep").bytes())
    seeds.append(Prog().op(OP_TABLE, OP_SELF, 1).op(OP_TABLE, OP_SWAP).key("t").bytes())
    seeds.append(Prog().op(OP_TABLE, OP_SELF, 0).op(OP_TABLE, OP_SWAP).key("t").bytes())
    # Values that cannot be stored.
    for k in range(3):
        seeds.append(Prog().item(f=lambda p, k=k: p.op(OP_OTHER, k)).bytes())
    seeds.append(Prog().item(u=lambda p: p.op(OP_LIGHT, 1)).bytes())
    # Sets that are wrong: empty, mixed, of maps, with string keys; binaries holding no string.
    seeds.append(Prog().item(s=marked(MARK_SET)).bytes())
    seeds.append(Prog().item(s=marked(MARK_SET, s_("a"), i_(1))).bytes())
    seeds.append(Prog().item(s=marked(MARK_SET, lambda p: p.op(OP_TABLE))).bytes())
    seeds.append(Prog().item(s=lambda p: p.item(a=s_("x")).op(OP_MARK, MARK_SET)).bytes())
    seeds.append(Prog().item(s=marked(MARK_SET, s_(b"\xff"))).bytes())
    seeds.append(Prog().item(b=lambda p: p.int_(7).op(OP_BINARY)).bytes())
    seeds.append(Prog().item(b=lambda p: p.op(OP_TABLE, OP_BINARY)).bytes())
    seeds.append(Prog().item(s=marked(MARK_SET, lambda p: p.int_(7).op(OP_BINARY))).bytes())
    seeds.append(Prog().item(l=lambda p: p.item(a=s_("x")).op(OP_MARK, MARK_LIST)).bytes())
    seeds.append(Prog().item(m=lambda p: p.item(a=s_("x")).op(OP_MARK, MARK_PLAIN)).bytes())
    # The top level: not a table, a set, a binary, a list with a non-table, an empty item in a list.
    seeds.append(Prog().s("just a string").bytes())
    seeds.append(Prog().op(OP_BOOL, 0).bytes())
    seeds.append(marked(MARK_SET, s_("a"))(Prog()).bytes())
    seeds.append(Prog().s("x").op(OP_BINARY).bytes())
    seeds.append(Prog().op(OP_TABLE).s("x").op(OP_APPEND).bytes())
    seeds.append(Prog().op(OP_TABLE, OP_TABLE, OP_APPEND).bytes())
    seeds.append(Prog().op(OP_TABLE).op(OP_TABLE, OP_TABLE, OP_APPEND, OP_APPEND).bytes())
    # Around DynamoDB's 400 KB: 409600 bytes of value (over, with the name), and just under.
    seeds.append(Prog().op(OP_TABLE, OP_BIGSTR, ord("a"), 0xC8, 0x00).key("s").bytes())
    seeds.append(Prog().op(OP_TABLE, OP_BIGSTR, ord("a"), 0xC7, 0xFF).key("s").bytes())
    seeds.append(Prog().op(OP_TABLE, OP_BIGSTR, 0xff, 0xC7, 0xFF).op(OP_BINARY).key("b").bytes())
    # A nearly full state: marshaling must not need memory it cannot get.
    seeds.append(Prog(squeeze=0).item(b=lambda p: p.int_(7).op(OP_BINARY)).bytes())
    seeds.append(Prog(squeeze=2).s("leaf").op(OP_NEST, 40, 0x0f).op(OP_TABLE, OP_SWAP).key("deep").bytes())
    return seeds


def tsv_unescape(col):
    """The escapes of the test tables (tests/common/tsv.h): \\t \\n \\r \\\\ \\xHH."""
    def one(m):
        e = m.group(1)
        if e[:1] == b"x":
            return bytes([int(e[1:], 16)])
        return {b"t": b"\t", b"n": b"\n", b"r": b"\r"}.get(e, e)
    return re.sub(rb"\\(x[0-9a-fA-F]{2}|.)", one, col)


def decode_seeds():
    """The decoder's edge cases (data/decode/edge.tsv), then tweets."""
    seeds = []
    for row in lines(os.path.join(DATA, "decode", "edge.tsv")):
        if not row.startswith(b"#") and b"\t" in row:
            seeds.append(tsv_unescape(row.split(b"\t")[1]))
    return seeds + ndjson_lines()[:16]


if __name__ == "__main__":
    write("frame", frame())
    write("rule_line", rule_line())
    write("json", json_seeds())
    write("sigv4", sigv4())
    write("oauth1", oauth1())
    write("ddb_response", ddb_response())
    write("creds_response", creds_response())
    write("marshal", marshal(), max_files=64)  # many small programs, one per edge
    write("decode", decode_seeds(), max_files=200)  # every edge case, then some tweets
