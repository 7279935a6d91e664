#!/usr/bin/env python3
"""Regenerates tests/fuzz/corpus/<target>/ from tests/data (at most 50 files,
200 KB per target). Run from anywhere; files are named by content hash."""
import glob, hashlib, json, os, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data")
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
MAX_FILES, MAX_BYTES = 50, 200 * 1024


def lines(path, limit=None):
    with open(path, "rb") as f:
        out = [l.rstrip(b"\n") for l in f]
    return out[:limit] if limit else out


def write(target, seeds):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    for old in glob.glob(os.path.join(d, "*")):
        os.remove(old)
    total = n = 0
    for s in seeds:
        if n >= MAX_FILES or total + len(s) > MAX_BYTES or len(s) > 8192:
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


if __name__ == "__main__":
    write("frame", frame())
    write("rule_line", rule_line())
    write("json", json_seeds())
    write("sigv4", sigv4())
    write("oauth1", oauth1())
    write("ddb_response", ddb_response())
