#!/usr/bin/env python3
"""Cross-checks core/sigv4.c against botocore on randomized requests.

    crosscheck.py --signer build/tests/tm_sigv4_test [--count N] [--seed S]
    crosscheck.py --write FILE [--count N] [--seed S]   # the stream only

Generates N requests (seeded, so reproducible): every method, paths with
dot segments, repeated slashes, spaces, unicode and escapes; queries with
repeated and empty parameters, empty pieces, reserved bytes, unicode, spaces
and '+' in the many ways a wire form can spell them; headers with odd
whitespace, repeats in mixed case, empty values and hop-by-hop headers;
bodies empty, small, binary and 1 MB, sometimes handed over as a precomputed
hash; with and without session tokens; S3 and other services; times from 1970
to 9999; credentials drawn from a small pool so that the signer's key cache
hits, misses and changes secret. botocore signs each (see botocore_ref.py);
the stream of requests and botocore's results goes to `tm_sigv4_test cross`,
which signs each with one long-lived signer and requires the same canonical
request, string to sign, signature, Authorization and added headers.

Exits 77 (ctest's skip) when botocore is not importable.
"""
import argparse
import hashlib
import os
import random
import subprocess
import sys
import time
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import botocore_ref  # noqa: E402

METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS']
SEGMENTS = ['a', 'b', 'example', 'items', '.', '..', '', 'with space', 'two  spaces', '\u1234', '\u65e5\u672c\u8a9e',
            'caf\u00e9', '\u2603', 'a.b', '...', '.x', 'x.', '~user', '-_.', 'x+y', 'k=v', "!$&'()*,;:@", '%41',
            '%2F', '%2e%2e', '100%', 'UPPER', '0', 'a%20b']
NAMES = ['a', 'b', 'A', 'Param', 'list-type', 'prefix', 'x y', '\u540d', 'caf\u00e9', '', 'k+', '=', 'a&b', '%',
         '~', 'Z', '-', '_', '.', 'X-Amz-Foo', 'max-keys', '\u1234']
VALUES = ['', '1', '2', 'value', 'hello world', 'a+b', 'x=y', '&', '%', '%zz', '/a/b', "!$'()*,;:@?",
          '\u2603', 'caf\u00e9', '  ', '~-_.', 'UPPER', '\u1234', '#frag', '"q"']
HEADER_NAMES = ['X-Custom', 'My-Header', 'Content-Type', 'X-Amz-Target', 'X-Amz-Meta-Owner', 'Accept', 'a', 'Z-Last',
                'x_under', 'Cache-Control', 'If-None-Match', 'Content-Encoding', 'Date-Like']
HEADER_VALUES = ['value', ' value ', '\tvalue\t', 'a   b', 'a\t \tb', '', '   ', '"a   b"', 'caf\u00e9 \u2615',
                 'x,y', ' , ', 'application/x-amz-json-1.0', 'DynamoDB_20120810.BatchWriteItem', 'UPPER lower',
                 'trailing   ', '   leading', 'a  \t  b  \t  c', '\u65e5\u672c']
HOP_BY_HOP = [('Connection', 'keep-alive'), ('Expect', '100-continue'), ('User-Agent', 'tweetmatch/0.1'),
              ('Transfer-Encoding', 'chunked'), ('Keep-Alive', 'timeout=5'), ('TE', 'trailers'), ('Trailer', 'X-T'),
              ('Upgrade', 'h2c'), ('Proxy-Authorization', 'Basic eA=='), ('X-Amzn-Trace-Id', 'Root=1-abc'),
              ('Proxy-Connection', 'close'), ('Sec-WebSocket-Key', 'k'), ('Sec-WebSocket-Version', '13')]
REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-2', 'cn-north-1', 'us-gov-west-1', 'local']
SERVICES = ['dynamodb', 'service', 'sts', 'execute-api', 'iam', 's3', 's3']
B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
UNRESERVED = set('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~')
MB = 1 << 20


def case_variant(rng, s):
    return ''.join(c.upper() if rng.random() < 0.5 else c.lower() for c in s)


def pct(rng, b):
    h = '%%%02X' % b
    return h.lower() if rng.random() < 0.2 else h


def wire_query_part(rng, s, is_name):
    """One spelling of s on the wire: what must be escaped is, the rest
    randomly raw or escaped (in either hex case)."""
    out = []
    for ch in s:
        raw = ch.encode('utf-8')
        must = ch in '&%#' or (is_name and ch == '=') or ch == ' ' and rng.random() < 0.7
        if ch in UNRESERVED or not must and ord(ch) < 0x80 and ch not in '\t\r\n':
            out.append(ch if rng.random() < 0.85 else ''.join(pct(rng, b) for b in raw))
        elif ord(ch) >= 0x80 and rng.random() < 0.3:
            out.append(ch)
        else:
            out.append(''.join(pct(rng, b) for b in raw))
    return ''.join(out)


def rand_query(rng):
    pieces = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5, 8])):
        name = rng.choice(NAMES)
        if pieces and rng.random() < 0.25:
            name = pieces[-1][0]
        value = rng.choice(VALUES) if rng.random() < 0.85 else None
        pieces.append((name, value))
    wire = []
    for name, value in pieces:
        if rng.random() < 0.1:
            wire.append('')
        w = wire_query_part(rng, name, True)
        if value is not None:
            w += '=' + wire_query_part(rng, value, False)
        wire.append(w)
    if rng.random() < 0.1:
        wire.append('')
    return '&'.join(wire)


def rand_path(rng, s3):
    segs = [rng.choice(SEGMENTS) for _ in range(rng.choice([0, 1, 1, 2, 3, 4, 6]))]
    if s3:
        # S3 paths arrive in canonical form: encoded once, dots and '//' kept.
        segs = [s if s in ('.', '..', '') else quote(s.replace('%', ''), safe='~') for s in segs]
    path = '/' + '/'.join(segs)
    if rng.random() < 0.2:
        path += '/'
    if rng.random() < 0.05 and not s3:
        path = ''
    return path


def rand_headers(rng):
    host = rng.choice(['example.amazonaws.com', 'dynamodb.us-east-1.amazonaws.com', 'localhost:8000',
                       ' Example.COM ', 'bucket.s3.amazonaws.com'])
    headers = [(case_variant(rng, 'host') if rng.random() < 0.3 else 'Host', host)]
    for _ in range(rng.choice([0, 1, 2, 3, 5, 8])):
        if headers and rng.random() < 0.2:
            name = case_variant(rng, rng.choice(headers)[0])
        else:
            name = rng.choice(HEADER_NAMES)
        headers.append((name, rng.choice(HEADER_VALUES)))
    for _ in range(rng.choice([0, 0, 0, 1, 2])):
        headers.append(rng.choice(HOP_BY_HOP))
    rng.shuffle(headers)
    return headers


def rand_body(rng):
    p = rng.random()
    if p < 0.35:
        return b''
    if p < 0.97:
        return rng.randbytes(rng.choice([1, 13, 100, 1000, 4096, 10000]))
    return rng.randbytes(MB)


def rand_time(rng):
    p = rng.random()
    if p < 0.05:
        return rng.choice([0, 253402300799, 951782400, 2147483647, 2147483648])
    if p < 0.6:
        return rng.randrange(1420070400, 2051222400)  # 2015..2035
    return rng.randrange(0, 253402300800)


def rand_request(rng, i, pool):
    service = rng.choice(SERVICES)
    s3 = service == 's3'
    flags = set()
    if not s3 and rng.random() < 0.05:
        flags.add('no-normalize')
    secret, akid, region = rng.choice(pool)
    r = {
        'id': str(i), 'method': rng.choice(METHODS), 'path': rand_path(rng, s3), 'query': rand_query(rng),
        'headers': rand_headers(rng), 'body': rand_body(rng), 'payload_hash': None,
        'region': region if rng.random() < 0.8 else rng.choice(REGIONS), 'service': service,
        'time': rand_time(rng), 'akid': akid, 'secret': secret, 'flags': flags,
        'token': ''.join(rng.choice(B64) for _ in range(rng.choice([16, 300, 900, 1200]))) + '=='
        if rng.random() < 0.5 else None,
    }
    if rng.random() < 0.15:
        r['payload_hash'] = hashlib.sha256(r['body']).hexdigest()
    elif s3 and rng.random() < 0.05:
        r['payload_hash'] = 'UNSIGNED-PAYLOAD'
    return r


def field(out, key, value):
    if isinstance(value, str):
        value = value.encode('utf-8')
    out.append(b'%s %d\n' % (key.encode(), len(value)))
    out.append(value)
    out.append(b'\n')


def record(r, b):
    out = []
    field(out, 'id', r['id'])
    for key in ('method', 'path', 'query', 'region', 'service', 'akid', 'secret'):
        field(out, key, r[key])
    field(out, 'time', str(r['time']))
    for name, value in r['headers']:
        field(out, 'hname', name)
        field(out, 'hvalue', value)
    if r['payload_hash']:
        field(out, 'payload_hash', r['payload_hash'])
        if r['payload_hash'] == 'UNSIGNED-PAYLOAD':
            field(out, 'body', r['body'])
    else:
        field(out, 'body', r['body'])
    if r['token']:
        field(out, 'token', r['token'])
    if r['flags']:
        field(out, 'flags', ','.join(sorted(r['flags'])))
    for key in ('creq', 'sts', 'sig', 'auth', 'date', 'token', 'content'):
        if b[key] is not None:
            field(out, 'x_' + key, b[key])
    field(out, 'end', '')
    return b''.join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--signer', help='tm_sigv4_test to compare with')
    ap.add_argument('--write', help='write the stream to this file instead')
    ap.add_argument('--count', type=int, default=1000)
    ap.add_argument('--seed', type=int, default=20150830)
    args = ap.parse_args()
    if not args.signer and not args.write:
        ap.error('give --signer or --write')
    botocore_ref.require()
    import botocore
    rng = random.Random(args.seed)
    pool = [(''.join(rng.choice(B64) for _ in range(n)), 'AKIA' + ''.join(rng.choice(B64[:36]) for _ in range(16)),
             rng.choice(REGIONS)) for n in (40, 40, 40, 1, 128)]
    started = time.time()
    chunks, stats = [], {'s3': 0, 'token': 0, 'mb': 0, 'prehash': 0, 'empty_body': 0}
    for i in range(args.count):
        r = rand_request(rng, i, pool)
        chunks.append(record(r, botocore_ref.sign(r)))
        stats['s3'] += r['service'] == 's3'
        stats['token'] += r['token'] is not None
        stats['mb'] += len(r['body']) == MB
        stats['prehash'] += r['payload_hash'] is not None
        stats['empty_body'] += not r['body']
    stream = b''.join(chunks)
    mix = ('%(s3)d S3, %(token)d with a session token, %(mb)d with 1 MB bodies, %(empty_body)d with empty bodies, '
           '%(prehash)d with a precomputed hash' % stats)
    if args.write:
        with open(args.write, 'wb') as f:
            f.write(stream)
        print('wrote %d requests (%s) to %s' % (args.count, mix, args.write))
        return 0
    proc = subprocess.run([args.signer, 'cross'], input=stream, stdout=subprocess.PIPE)
    sys.stdout.write(proc.stdout.decode('utf-8', 'replace'))
    print('seed %d; %s; botocore %s; %.1f s' % (args.seed, mix, botocore.__version__, time.time() - started))
    want = 'sigv4 cross-check: %d requests' % args.count
    if proc.returncode == 0 and want not in proc.stdout.decode('utf-8', 'replace'):
        print('the signer did not report %d requests compared' % args.count)
        return 1
    return proc.returncode


if __name__ == '__main__':
    sys.exit(main())
