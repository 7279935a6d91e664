"""awsjson.py: just enough of DynamoDB's JSON protocol for the tests, in
the standard library only: SigV4 signing and checking (written apart from
the C signer, from the AWS documentation), and a small client for
CreateTable / Scan against moto.
"""
import datetime
import hashlib
import hmac
import http.client
import json
import re
import urllib.parse

AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/, ]+)/(\d{8})/([a-z0-9-]+)/dynamodb/aws4_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")
AMZ_DATE_RE = re.compile(r"^\d{8}T\d{6}Z$")


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret, date, region, service="dynamodb"):
    k = _hmac(("AWS4" + secret).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def _canon_path(path):
    # Not S3: normalised, then encoded twice (the wire form is encoded again).
    segs = []
    for s in path.split("/"):
        if s in ("", "."):
            continue
        if s == "..":
            if segs:
                segs.pop()
            continue
        segs.append(s)
    p = "/" + "/".join(segs)
    if path.endswith("/") and p != "/":
        p += "/"
    return urllib.parse.quote(p, safe="/~")


def canonical_request(method, path, query, headers, signed, body):
    """headers: list of (name, value) as received; signed: list of lower-case
    names."""
    vals = {}
    for n, v in headers:
        vals.setdefault(n.lower(), []).append(" ".join(v.strip().split()))
    lines = "".join("%s:%s\n" % (h, ",".join(vals.get(h, []))) for h in signed)
    return "\n".join([method, _canon_path(path), query, lines, ";".join(signed),
                      hashlib.sha256(body).hexdigest()])


def string_to_sign(amz_date, scope, creq):
    return "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (amz_date, scope, hashlib.sha256(creq.encode("utf-8")).hexdigest())


def sign(method, url_host, path, headers, body, key, secret, region, token=None, now=None):
    """Returns the headers (a list) with X-Amz-Date, the token and Authorization added."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    hs = [("Host", url_host)] + list(headers) + [("X-Amz-Date", amz_date)]
    if token:
        hs.append(("X-Amz-Security-Token", token))
    signed = sorted({n.lower() for n, _ in hs})
    creq = canonical_request(method, path, "", hs, signed, body)
    scope = "%s/%s/dynamodb/aws4_request" % (amz_date[:8], region)
    sts = string_to_sign(amz_date, scope, creq)
    sig = hmac.new(signing_key(secret, amz_date[:8], region), sts.encode("utf-8"), hashlib.sha256).hexdigest()
    hs.append(("Authorization", "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
               % (key, scope, ";".join(signed), sig)))
    return hs


def verify(method, path, headers, body, secret_of):
    """Checks a request's SigV4 Authorization. secret_of(access_key) gives
    (secret, token) or None. Returns (ok, access_key, problem, canonical
    request, string to sign)."""
    h = {}
    for n, v in headers:
        h.setdefault(n.lower(), []).append(v)
    auth = h.get("authorization", [""])[0]
    m = AUTH_RE.match(auth)
    if not m:
        return False, None, "malformed Authorization header: %r" % auth[:80], "", ""
    key, date, region, signed_s, sig = m.groups()
    signed = signed_s.split(";")
    if signed != sorted(signed):
        return False, key, "SignedHeaders not sorted", "", ""
    amz = h.get("x-amz-date", [""])[0]
    if not AMZ_DATE_RE.match(amz):
        return False, key, "malformed X-Amz-Date %r" % amz, "", ""
    if amz[:8] != date:
        return False, key, "credential scope date %s is not X-Amz-Date's" % date, "", ""
    for need in ("host", "x-amz-date", "content-type", "x-amz-target"):
        if need not in signed:
            return False, key, "%s is not signed" % need, "", ""
    known = secret_of(key)
    if known is None:
        return False, key, "unknown access key", "", ""
    secret, token = known
    if token:
        if h.get("x-amz-security-token", [None])[0] != token:
            return False, key, "X-Amz-Security-Token missing or wrong", "", ""
        if "x-amz-security-token" not in signed:
            return False, key, "X-Amz-Security-Token is not signed", "", ""
    elif "x-amz-security-token" in h:
        return False, key, "X-Amz-Security-Token sent with long-term keys", "", ""
    creq = canonical_request(method, path, "", headers, signed, body)
    sts = string_to_sign(amz, "%s/%s/dynamodb/aws4_request" % (date, region), creq)
    want = hmac.new(signing_key(secret, date, region), sts.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig):
        return False, key, "signature mismatch", creq, sts
    return True, key, None, creq, sts


class Client:
    """A DynamoDB client for moto (which checks no signature) or anything
    else, signing with the given keys."""

    def __init__(self, port, host="127.0.0.1", region="us-east-1", key="AKIDHARNESS", secret="harness-secret"):
        self.host, self.port, self.region, self.key, self.secret = host, port, region, key, secret

    def call(self, op, body, timeout=30):
        data = json.dumps(body).encode("utf-8")
        hs = sign("POST", "%s:%d" % (self.host, self.port), "/",
                  [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "DynamoDB_20120810." + op)],
                  data, self.key, self.secret, self.region)
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            c.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
            for n, v in hs:
                c.putheader(n, v)
            c.putheader("Content-Length", str(len(data)))
            c.endheaders(data)
            r = c.getresponse()
            out = r.read()
        finally:
            c.close()
        doc = json.loads(out) if out else {}
        if r.status != 200:
            raise RuntimeError("%s: HTTP %d %s" % (op, r.status, out[:300]))
        return doc

    def create_table(self, name, hash_key="id", hash_type="S", range_key=None, range_type="S"):
        ks = [{"AttributeName": hash_key, "KeyType": "HASH"}]
        ad = [{"AttributeName": hash_key, "AttributeType": hash_type}]
        if range_key:
            ks.append({"AttributeName": range_key, "KeyType": "RANGE"})
            ad.append({"AttributeName": range_key, "AttributeType": range_type})
        return self.call("CreateTable", {"TableName": name, "KeySchema": ks, "AttributeDefinitions": ad,
                                         "BillingMode": "PAY_PER_REQUEST"})

    def scan(self, name):
        items, start = [], None
        while True:
            body = {"TableName": name}
            if start:
                body["ExclusiveStartKey"] = start
            doc = self.call("Scan", body)
            items.extend(doc.get("Items", []))
            start = doc.get("LastEvaluatedKey")
            if not start:
                return items
