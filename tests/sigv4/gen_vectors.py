#!/usr/bin/env python3
"""Writes the botocore-generated SigV4 vectors under tests/data/sigv4.

    python3 tests/sigv4/gen_vectors.py            # (re)write the files
    python3 tests/sigv4/gen_vectors.py --check    # exit 1 if they differ

1. generated/<case>/: one case per rule of core/sigv4.h (canonical URI,
   S3 paths, query, headers, payload, credentials, scope, time), signed by
   botocore's SigV4Auth or S3SigV4Auth at a fixed time. Each directory holds
   context.txt, request.txt, and the stages botocore produced:
   canonical-request.txt, string-to-sign.txt, signature.txt,
   authorization.txt, and signed-request.txt (the request with the headers
   botocore added).
2. suite/<case>/ that publish only a signature (aws-c-auth's normalize=false
   cases, get-vanilla-with-session-token, get-vanilla-query-order-encoded):
   canonical-request.txt and string-to-sign.txt are derived with botocore and
   written only when botocore's signature equals the published one. Every
   other suite case is checked the same way (botocore must agree with the
   published signature), and left as copied.

Deterministic: fixed times and contents, so a rerun writes the same bytes.
Needs botocore (Debian: python3-botocore); exits 77 without it.
"""
import hashlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import botocore_ref  # noqa: E402

DATA = os.path.join(os.path.dirname(HERE), 'data', 'sigv4')

AKID = 'AKIDEXAMPLE'
SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
TOKEN = ('IQoJb3JpZ2luX2VjEXAMPLETOKENAaCXVzLWVhc3QtMSJHMEUCIQDexampleSessionToken/+=abcdefghijklmnopqrstuvwxyz'
         '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ/+==')
T2015 = 1440938160  # 2015-08-30T12:36:00Z
HOST = ('Host', 'example.amazonaws.com')


def req(name, method='GET', path='/', query='', headers=(HOST,), body=b'', **kw):
    r = {
        'name': name, 'method': method, 'path': path, 'query': query, 'headers': list(headers), 'body': body,
        'payload_hash': None, 'region': 'us-east-1', 'service': 'service', 'time': T2015, 'akid': AKID,
        'secret': SECRET, 'token': None, 'flags': set(),
    }
    r.update(kw)
    return r


BATCH_BODY = (b'{"RequestItems":{"tweets":[' + b','.join(
    b'{"PutRequest":{"Item":{"id":{"S":"1050118621198921%03d"},"text":{"S":"cloud computing #%d"}}}}' % (i, i)
    for i in range(3)) + b']}}')
DDB_HEADERS = [('Host', 'dynamodb.eu-west-1.amazonaws.com'), ('Content-Type', 'application/x-amz-json-1.0'),
               ('X-Amz-Target', 'DynamoDB_20120810.BatchWriteItem')]
S3_HOST = ('Host', 'examplebucket.s3.amazonaws.com')

CASES = [
    # canonical URI
    req('uri-dot-segments', path='/a/./b/../c'),
    req('uri-dotdot-above-root', path='/../../a/..'),
    req('uri-repeated-slashes', path='/a//b///c//'),
    req('uri-trailing-dot', path='/a/b/.'),
    req('uri-dots-in-names', path='/a.b/..c/c../.../.x'),
    req('uri-empty-path', path=''),
    req('uri-double-encode', path='/a%20b/c%2Fd/%7Euser'),
    req('uri-reserved-bytes', path="/!$&'()*+,;=:@/x"),
    req('uri-unicode', path='/\u65e5\u672c\u8a9e/caf\u00e9/\u2603'),
    req('uri-space', path='/with space/and  two'),
    req('uri-percent-literal', path='/100%/a%zz/b%4'),
    # S3: no normalisation, no second encoding, X-Amz-Content-Sha256
    req('s3-get-object', path='/test.txt', headers=[S3_HOST, ('Range', 'bytes=0-9')], service='s3'),
    req('s3-dot-segments-kept', path='/bucket/a/./b/../c//d/', headers=[S3_HOST], service='s3'),
    req('s3-encoded-once', path='/bucket/a%20b/%E2%82%AC/%2Fslash', headers=[S3_HOST], service='s3'),
    req('s3-put-object', method='PUT', path='/bucket/key.json', headers=[S3_HOST, ('Content-Type', 'application/json'),
        ('X-Amz-Meta-Owner', ' tweetmatch ')], body=b'{"a":1}\n', service='s3', region='eu-central-1'),
    req('s3-list-query', path='/', query='list-type=2&prefix=a%2Fb&delimiter=%2F&max-keys=',
        headers=[S3_HOST], service='s3'),
    req('s3-session-token', method='PUT', path='/bucket/k', headers=[S3_HOST], body=b'x' * 100, service='s3',
        token=TOKEN),
    req('s3-unsigned-payload', method='PUT', path='/bucket/big', headers=[S3_HOST], body=b'streamed',
        payload_hash='UNSIGNED-PAYLOAD', service='s3'),
    # canonical query
    req('query-sort-name-then-value', query='b=2&a=3&a=1&a=2&a=10'),
    req('query-empty-values', query='a=&b&c=1&d='),
    req('query-decode-then-encode', query='t=%7e%41%2a&u=%2f&v=%2B'),
    req('query-space', query='q=hello%20world&r=a+b&s=x y'),
    req('query-unicode', query='%E5%90%8D=%E5%80%A4&caf\u00e9=\u2603'),
    req('query-repeated-pairs', query='a=1&a=1&a=&a'),
    req('query-reserved', query="path=/a/b&x=:@!$'()*,;&y=?z"),
    req('query-empty-pieces', query='&a=1&&b=2&'),
    req('query-equals-in-value', query='a=b=c&d==&=e'),
    req('query-sort-bytewise', query='b=1&B=2&_=3&-=4&~=5&%20=6&Z=7'),
    req('query-malformed-escapes', query='a=%zz&b=%4&c=100%'),
    # canonical headers
    req('header-trim-fold', headers=[HOST, ('X-A', '   a   b\t\tc  '), ('X-B', '\tx\t')]),
    req('header-empty-value', headers=[HOST, ('X-Empty', ''), ('X-Blank', '    ')]),
    req('header-repeated-mixed-case', headers=[HOST, ('X-Rep', '1'), ('Other', 'o'), ('x-rep', ' 2 '),
                                               ('X-REP', '3')]),
    req('header-sort', headers=[('Zeta', 'z'), ('alpha', 'a'), HOST, ('Mid-Dle', 'm'), ('Content-Type', 'text/plain'),
                                ('a-', 'dash'), ('a', 'plain')]),
    req('header-hop-by-hop-unsigned', method='POST', headers=[
        HOST, ('Connection', 'keep-alive'), ('Expect', '100-continue'), ('User-Agent', 'tweetmatch/0.1'),
        ('Transfer-Encoding', 'chunked'), ('Keep-Alive', 'timeout=5'), ('TE', 'trailers'), ('Trailer', 'X'),
        ('Upgrade', 'h2c'), ('Proxy-Authorization', 'Basic eA=='), ('X-Amzn-Trace-Id', 'Root=1-5759e988'),
        ('Content-Type', 'application/json')], body=b'{}'),
    req('header-host-with-port', headers=[('host', 'localhost:8000')]),
    req('header-utf8-value', headers=[HOST, ('X-Utf8', ' caf\u00e9  \u2615 ')]),
    req('header-quoted-value', headers=[HOST, ('X-Q', '"a  b"  ,  "c"')]),
    req('header-content-length', method='PUT', headers=[HOST, ('Content-Length', '5')], body=b'hello'),
    # payload
    req('payload-empty-post', method='POST'),
    req('payload-json', method='POST', headers=DDB_HEADERS, body=BATCH_BODY, region='eu-west-1',
        service='dynamodb'),
    req('payload-binary', method='PUT', body=bytes(range(256)) * 4),
    req('payload-precomputed', method='POST', body=b'{"precomputed":true}',
        payload_hash=hashlib.sha256(b'{"precomputed":true}').hexdigest()),
    req('payload-unsigned', method='POST', body=b'data', payload_hash='UNSIGNED-PAYLOAD',
        flags={'content-sha256'}),
    # credentials, scope and time
    req('dynamodb-batch-write-token', method='POST', headers=DDB_HEADERS, body=BATCH_BODY, region='eu-west-1',
        service='dynamodb', token=TOKEN, time=1717243199),
    req('sts-get-caller-identity', method='POST', headers=[('Host', 'sts.amazonaws.com'),
        ('Content-Type', 'application/x-www-form-urlencoded; charset=utf-8')],
        body=b'Action=GetCallerIdentity&Version=2011-06-15', service='sts', token=TOKEN),
    req('scope-region-service', region='cn-north-1', service='execute-api', path='/prod/items/42'),
    req('time-leap-day-end', time=1709251199),
    req('time-epoch', time=0),
    req('time-year-9999', time=253402300799),
    req('time-y2038', time=2147483648),
    req('secret-one-byte', secret='x'),
    req('secret-long', secret='S' * 128, akid='ASIA' + 'Z' * 124),
    req('method-delete', method='DELETE', path='/items/1'),
    req('method-head', method='HEAD'),
    req('method-options', method='OPTIONS', path='/cors'),
    req('method-patch', method='PATCH', body=b'[]'),
    # aws-c-auth's normalize=false, for a service other than S3
    req('no-normalize-service', path='/a/./b/../c//d', flags={'no-normalize'}),
]


def request_text(r):
    target = r['path'] + ('?' + r['query'] if r['query'] else '')
    lines = ['%s %s HTTP/1.1' % (r['method'], target)] + ['%s:%s' % h for h in r['headers']]
    head = '\n'.join(lines).encode('utf-8') + b'\n\n'
    return head, b'' if r['payload_hash'] and r['payload_hash'] != 'UNSIGNED-PAYLOAD' else r['body']


def context_text(r):
    out = ['region=' + r['region'], 'service=' + r['service'], 'timestamp=' + time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(r['time'])),
           'access_key_id=' + r['akid'], 'secret_access_key=' + r['secret']]
    if r['token']:
        out.append('session_token=' + r['token'])
    if r['payload_hash']:
        out.append('payload_hash=' + r['payload_hash'])
    if r['flags']:
        out.append('flags=' + ','.join(sorted(r['flags'])))
    return '\n'.join(out) + '\n'


def case_files(r):
    b = botocore_ref.sign(r)
    head, body = request_text(r)
    added = [('Authorization', b['auth']), ('X-Amz-Date', b['date'])]
    if b['token']:
        added.append(('X-Amz-Security-Token', b['token']))
    if b['content']:
        added.append(('X-Amz-Content-SHA256', b['content']))
    signed = head[:-1] + ''.join('%s:%s\n' % h for h in added).encode() + b'\n' + body
    return {
        'context.txt': context_text(r).encode(),
        'request.txt': head + body,
        'canonical-request.txt': b['creq'].encode('utf-8'),
        'string-to-sign.txt': b['sts'].encode(),
        'signature.txt': b['sig'].encode(),
        'authorization.txt': b['auth'].encode(),
        'signed-request.txt': signed,
    }


def suite_files(d):
    """Stages derived for a suite case, checked against its published
    signature; {} when the case already has them (checked too)."""
    with open(os.path.join(d, 'context.txt'), encoding='utf-8') as f:
        ctx = f.read()
    with open(os.path.join(d, 'request.txt'), 'rb') as f:
        r = botocore_ref.request_from_case(ctx, f.read())
    with open(os.path.join(d, 'signature.txt')) as f:
        published = f.read().strip()
    b = botocore_ref.sign(r)
    if b['sig'] != published:
        raise SystemExit('%s: botocore signs %s, the suite publishes %s' % (d, b['sig'], published))
    if os.path.exists(os.path.join(d, 'canonical-request.txt')):
        return {}
    return {'canonical-request.txt': b['creq'].encode('utf-8'), 'string-to-sign.txt': b['sts'].encode()}


def main():
    check = '--check' in sys.argv[1:]
    botocore_ref.require()
    want = {}
    for r in CASES:
        for fn, data in case_files(r).items():
            want[os.path.join(DATA, 'generated', r['name'], fn)] = data
    suite = os.path.join(DATA, 'suite')
    for name in sorted(os.listdir(suite)):
        for fn, data in suite_files(os.path.join(suite, name)).items():
            want[os.path.join(suite, name, fn)] = data
    stale = []
    for path, data in sorted(want.items()):
        try:
            with open(path, 'rb') as f:
                same = f.read() == data
        except FileNotFoundError:
            same = False
        if same:
            continue
        stale.append(os.path.relpath(path, DATA))
        if not check:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'wb') as f:
                f.write(data)
    gen_dirs = set(os.listdir(os.path.join(DATA, 'generated'))) if os.path.isdir(os.path.join(DATA, 'generated')) else set()
    extra = sorted(gen_dirs - {r['name'] for r in CASES})
    if check:
        if stale or extra:
            print('stale vectors (rerun tests/sigv4/gen_vectors.py): %s' % ', '.join(stale + extra))
            return 1
        print('%d generated cases and %d suite cases agree with botocore' % (len(CASES), len(os.listdir(suite))))
        return 0
    for name in extra:
        print('note: generated/%s is not produced by this script any more' % name)
    print('wrote %d files (%d generated cases, %d suite cases checked)' % (len(stale), len(CASES),
                                                                           len(os.listdir(suite))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
