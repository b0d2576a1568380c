"""The C SigV4 signer (src/base/sigv4.c, driven through tests/tools/sigv4_sign.c) and botocore's
SigV4Auth produce the same Authorization header for many generated requests: methods, paths
with dot segments, repeated slashes, spaces and UTF-8, canonically encoded queries with
repeated and empty keys, repeated and mixed-case headers with runs of whitespace, unsigned
headers, bodies, X-Amz-Content-SHA256 and session tokens."""

import base64
import datetime
import json
import os
import random
import subprocess
from unittest import mock
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from kn import check, eq, fail, main

N = 2000
rnd = random.Random(20240601)

SEG_CHARS = "abcXYZ019-._~ $!'()*+,;=@:\u1234\u00e9%"
QCHARS = "abcXYZ019-._~ &=+/?\u00e9"
NAMES = ["Content-Type", "X-Amz-Target", "my-header", "My-Header", "X-Custom-1", "x-amz-meta-z",
         "User-Agent", "Expect", "X-Amzn-Trace-Id", "Accept", "A", "zz-last"]


def rand_str(chars, lo, hi):
    return "".join(rnd.choice(chars) for _ in range(rnd.randint(lo, hi)))


def rand_path():
    if rnd.random() < 0.2:
        return "/"
    segs = []
    for _ in range(rnd.randint(0, 5)):
        r = rnd.random()
        segs.append("." if r < 0.1 else ".." if r < 0.2 else "" if r < 0.3 else rand_str(SEG_CHARS, 1, 6))
    p = "/" + "/".join(segs)
    if rnd.random() < 0.3:
        p += "/"
    return p.replace("%", "%25") if rnd.random() < 0.5 else p


def rand_query():
    if rnd.random() < 0.3:
        return ""
    parts = []
    keys = [rand_str(QCHARS, 1, 5) for _ in range(3)]
    for _ in range(rnd.randint(1, 6)):
        k = quote(rnd.choice(keys), safe="-_.~")
        r = rnd.random()
        if r < 0.1:
            parts.append(k)
        elif r < 0.2:
            parts.append(k + "=")
        else:
            parts.append(k + "=" + quote(rand_str(QCHARS, 0, 6), safe="-_.~"))
    return "&".join(parts)


def rand_value():
    words = [rand_str("abcDEF0123\"'/:;,=", 1, 5) for _ in range(rnd.randint(1, 4))]
    out = rnd.choice(["", " ", "  ", "\t"])
    for i, w in enumerate(words):
        if i:
            out += rnd.choice([" ", "   ", "\t", " \t "])
        out += w
    return out + rnd.choice(["", " ", "\t "])


def gen(i):
    method = rnd.choice(["GET", "POST", "PUT", "DELETE", "HEAD"])
    host = rnd.choice(["example.amazonaws.com", "127.0.0.1", "kinesis.us-east-1.amazonaws.com"])
    port = rnd.choice([None, 80, 4567, 8443])
    path, query = rand_path(), rand_query()
    netloc = host + (":%d" % port if port else "")
    url = "http://" + netloc + path + ("?" + query if query else "")
    headers = []
    for _ in range(rnd.randint(0, 6)):
        headers.append((rnd.choice(NAMES), rand_value()))
    body = bytes(rnd.getrandbits(8) for _ in range(rnd.choice([0, 0, 1, 17, 300])))
    if rnd.random() < 0.1:
        headers.append(("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"))
    token = rnd.choice([None, None, "FQoGZXIvYXdzE" + rand_str("abcXYZ0189+/=", 10, 60)])
    when = datetime.datetime(2015 + rnd.randint(0, 12), rnd.randint(1, 12), rnd.randint(1, 28),
                             rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59),
                             tzinfo=datetime.timezone.utc)
    region = rnd.choice(["us-east-1", "eu-west-3", "ap-southeast-2"])
    service = rnd.choice(["kinesis", "dynamodb", "service"])
    akid = rnd.choice(["AKIDEXAMPLE", "AKIAKINESINTEST", "ASIA" + rand_str("ABCDEFGHIJ0123456789", 16, 16)])
    secret = rand_str("abcdefXYZ0123456789+/", 40, 40)
    return dict(method=method, url=url, netloc=netloc, host=host, port=port, path=path, query=query,
                headers=headers, body=body, token=token, when=when, region=region, service=service,
                akid=akid, secret=secret)


def botocore_sign(r):
    req = AWSRequest(method=r["method"], url=r["url"], data=r["body"])
    for k, v in r["headers"]:
        req.headers[k] = v  # HTTPHeaders appends: repeated names stay repeated
    auth = SigV4Auth(Credentials(r["akid"], r["secret"], r["token"]), r["service"], r["region"])
    with mock.patch("botocore.auth.get_current_datetime", return_value=r["when"]):
        auth.add_auth(req)
    return req.headers["Authorization"]


def c_input(r):
    host = r["host"] + (":%d" % r["port"] if r["port"] and r["port"] != 80 else "")
    return json.dumps(dict(
        method=r["method"], path=r["path"], query=r["query"],
        headers=[["Host", host]] + [list(h) for h in r["headers"]],
        body=base64.b64encode(r["body"]).decode(), amz_date=r["when"].strftime("%Y%m%dT%H%M%SZ"),
        akid=r["akid"], secret=r["secret"], token=r["token"], region=r["region"], service=r["service"]))


def test():
    tool = os.path.join(os.environ.get("KN_TEST_BIN") or os.path.join(os.environ["KN_SRC"], "build", "tests"),
                        "kn_sigv4_sign")
    check(os.path.exists(tool), "%s not built" % tool)
    reqs = [gen(i) for i in range(N)]
    want = [botocore_sign(r) for r in reqs]
    p = subprocess.run([tool], input="\n".join(c_input(r) for r in reqs) + "\n", capture_output=True,
                       text=True, timeout=50)
    eq(p.returncode, 0, "signer exit code (stderr %s)" % p.stderr)
    got = p.stdout.split("\n")[:-1]
    eq(len(got), N, "number of signatures")
    bad = [i for i in range(N) if got[i] != want[i]]
    if bad:
        i = bad[0]
        fail("%d of %d requests differ; first: %r\n  botocore: %s\n  kinesin:  %s"
             % (len(bad), N, {k: reqs[i][k] for k in ("method", "url", "headers", "token")}, want[i], got[i]))
    sessions = sum(1 for r in reqs if r["token"])
    print("%d requests signed identically (%d with session tokens)" % (N, sessions))


main(test)
