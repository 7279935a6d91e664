"""botocore as the reference signer for tests/sigv4 (used by gen_vectors.py
and crosscheck.py).

A request is a dict: method, path and query (as on the wire, str), headers
(a list of (name, value) str pairs), body (bytes), payload_hash (str or
None), region, service, time (seconds since the epoch), akid, secret, token
(str or None), flags (a set of 's3', 'no-normalize', 'single-encode',
'content-sha256', as core/sigv4.h).

botocore's SigV4Auth (S3SigV4Auth for s3) signs it with the time fixed.
Where core/sigv4.h defines an input botocore does not take, it is handed over
in the form botocore takes:
  - the query is decoded the way core/sigv4.c decodes it (split on '&',
    empty pieces dropped, split on the first '=', %XX decoded, '+' literal)
    and given as botocore's `params`, which it encodes and sorts itself;
  - headers core/sigv4.c never signs are left out unless botocore's own
    SIGNED_HEADERS_BLACKLIST leaves them out too;
  - a precomputed payload hash goes in as the body it is the hash of (the
    caller keeps the body), or, for UNSIGNED-PAYLOAD, as botocore's
    payload_signing_enabled=False;
  - 'no-normalize' alone (aws-c-auth's normalize=false) is SigV4Auth with its
    path normalisation step replaced by plain encoding.
"""
import os
import sys
import time
import types
from urllib.parse import quote, unquote_to_bytes

SKIPPED = {
    'connection', 'expect', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'te', 'trailer',
    'transfer-encoding', 'upgrade', 'user-agent', 'x-amzn-trace-id', 'sec-websocket-key',
    'sec-websocket-protocol', 'sec-websocket-version',
}
SYSTEM_PYTHON = '/usr/bin/python3'
SKIP = 77


def require():
    """Makes botocore importable: re-runs the script under the system python
    (where Debian's python3-botocore lives) if this one lacks it, else exits
    77 (ctest's skip) with a message."""
    try:
        import botocore  # noqa: F401
        return
    except ImportError:
        pass
    here = os.path.realpath(sys.executable or '')
    if (os.path.exists(SYSTEM_PYTHON) and here != os.path.realpath(SYSTEM_PYTHON)
            and not os.environ.get('TM_SIGV4_REEXEC')):
        os.environ['TM_SIGV4_REEXEC'] = '1'
        sys.stdout.flush()
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    print('SKIP: botocore is not importable by %s (apt-get install python3-botocore)' % (sys.executable,))
    sys.exit(SKIP)


def decode_query(query):
    params = []
    for piece in query.split('&'):
        if not piece:
            continue
        name, eq, value = piece.partition('=')
        params.append((unquote_to_bytes(name).decode('utf-8'), unquote_to_bytes(value).decode('utf-8')))
    return params


def amz_date(t):
    return time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(t))


def sign(r):
    """botocore's result for request r: dict of creq, sts, sig, auth, date,
    token and content (the added headers' values, None when absent)."""
    from botocore.auth import SIGNED_HEADERS_BLACKLIST, S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    flags = set(r.get('flags', ()))
    s3 = r['service'] == 's3' or 's3' in flags
    if s3:
        cls = S3SigV4Auth
    elif 'no-normalize' in flags:
        class Unnormalized(SigV4Auth):
            def _normalize_url_path(self, path):
                return quote(path or '/', safe='/~')
        cls = Unnormalized
    else:
        cls = SigV4Auth
    if flags - {'s3', 'no-normalize', 'content-sha256'}:
        raise ValueError('botocore has no equivalent of flags %s' % sorted(flags))
    if 'content-sha256' in flags and not s3 and r.get('payload_hash') != 'UNSIGNED-PAYLOAD':
        raise ValueError('content-sha256 without s3 is only modelled for UNSIGNED-PAYLOAD')
    creds = Credentials(r['akid'], r['secret'], r.get('token') or None)
    req = AWSRequest(method=r['method'], url='https://example.amazonaws.com' + r['path'], data=r['body'])
    for name, value in r['headers']:
        if name.lower() in SKIPPED and name.lower() not in SIGNED_HEADERS_BLACKLIST:
            continue
        req.headers[name] = value
    req.params = decode_query(r['query'])
    req.context['timestamp'] = amz_date(r['time'])
    if r.get('payload_hash') == 'UNSIGNED-PAYLOAD':
        if s3:
            req.context['client_config'] = types.SimpleNamespace(s3={'payload_signing_enabled': False})
        else:
            req.context['payload_signing_enabled'] = False
    elif r.get('payload_hash'):
        import hashlib
        if hashlib.sha256(r['body']).hexdigest() != r['payload_hash']:
            raise ValueError('payload_hash is not the hash of the body')
    auth = cls(creds, r['service'], r['region'])
    auth._modify_request_before_signing(req)
    creq = auth.canonical_request(req)
    sts = auth.string_to_sign(req, creq)
    sig = auth.signature(sts, req)
    auth._inject_signature_to_request(req, sig)
    return {
        'creq': creq,
        'sts': sts,
        'sig': sig,
        'auth': req.headers['Authorization'],
        'date': req.headers['X-Amz-Date'],
        'token': req.headers.get('X-Amz-Security-Token'),
        'content': req.headers.get('X-Amz-Content-SHA256'),
    }


def parse_request(data):
    """The test suite's request.txt format (bytes), as tests/sigv4/sigv4_test.c
    reads it: returns (method, path, query, headers, body)."""
    head, _, rest = data.partition(b'\n')
    first = head.index(b' ')
    last = head.rindex(b' ')
    method = head[:first].decode()
    target = head[first + 1:last].decode('utf-8')
    path, _, query = target.partition('?')
    headers = []
    body = b''
    lines = rest.split(b'\n')
    for i, line in enumerate(lines):
        if line == b'':
            body = b'\n'.join(lines[i + 1:])
            break
        if line[:1] in (b' ', b'\t'):
            headers.append((headers[-1][0], line.decode('utf-8')))
        else:
            name, _, value = line.partition(b':')
            headers.append((name.decode(), value.decode('utf-8')))
    return method, path, query, headers, body


def parse_context(text):
    ctx = {}
    for line in text.splitlines():
        if line and not line.startswith('#'):
            key, _, value = line.partition('=')
            ctx[key] = value
    return ctx


def parse_time(s):
    import calendar
    try:
        return int(s)
    except ValueError:
        return calendar.timegm(time.strptime(s, '%Y-%m-%dT%H:%M:%SZ'))


def request_from_case(context_text, request_bytes):
    ctx = parse_context(context_text)
    method, path, query, headers, body = parse_request(request_bytes)
    flags = set(f for f in ctx.get('flags', '').split(',') if f)
    if ctx.get('normalize') == 'false':
        flags.add('no-normalize')
    return {
        'method': method, 'path': path, 'query': query, 'headers': headers, 'body': body,
        'payload_hash': ctx.get('payload_hash'), 'region': ctx['region'], 'service': ctx['service'],
        'time': parse_time(ctx['timestamp']), 'akid': ctx['access_key_id'], 'secret': ctx['secret_access_key'],
        'token': ctx.get('session_token'), 'flags': flags,
    }
