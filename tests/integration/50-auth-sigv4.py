"""kinesind --auth sigv4: requests signed by boto3 and by libkinesin (the kinesin CLI) with a
configured key pass, for Kinesis and for DynamoDB (one request pipeline, one check); a wrong
secret, an unknown key, a wrong session token, a stale or future date, a wrong region or service
are rejected with AWS's error types and messages (spec B.4)."""

import datetime
import json
import os
import subprocess
import tempfile
from unittest import mock

import boto3
from botocore.config import Config

from kn import Kinesind, check, eq, expect_error, main, soft
from kn_ddb import wait_table_active

AK, SK = "AKIDKINESINAUTH", "s3cr3t/Key+with=chars"
# temporary credentials: the session token is part of the key
TMP_AK, TMP_SK, TOKEN = "ASIAKINESINTEMP", "temp-secret", "FwoGZXIvYXdzEPr//////////token=="


def client(endpoint, ak=AK, sk=SK, region="us-east-1", token=None):
    return boto3.client("kinesis", endpoint_url=endpoint, region_name=region, aws_access_key_id=ak,
                        aws_secret_access_key=sk, aws_session_token=token,
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def presigned(endpoint, body, ak=AK, sk=SK, when=None, expires=60, send_body=None):
    """A presigned (query-string) Kinesis ListStreams, signed by hand as SigV4 defines it: the
    canonical query holds every X-Amz-* parameter but the signature, the payload is the body's
    SHA-256. Returns (status, body)."""
    import hashlib
    import hmac
    import http.client
    import urllib.parse
    when = when or datetime.datetime.now(datetime.timezone.utc)
    amz, day = when.strftime("%Y%m%dT%H%M%SZ"), when.strftime("%Y%m%d")
    host = urllib.parse.urlsplit(endpoint).netloc
    scope = "%s/us-east-1/kinesis/aws4_request" % day
    q = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": "%s/%s" % (ak, scope), "X-Amz-Date": amz,
         "X-Amz-Expires": str(expires), "X-Amz-SignedHeaders": "host;x-amz-target"}
    cq = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
                  for k, v in sorted(q.items()))
    target = "Kinesis_20131202.ListStreams"
    creq = "\n".join(["POST", "/", cq, "host:%s" % host, "x-amz-target:%s" % target, "", "host;x-amz-target",
                      hashlib.sha256(body).hexdigest()])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    key = ("AWS4" + sk).encode()
    for part in (day, "us-east-1", "kinesis", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    c = http.client.HTTPConnection(host, timeout=10)
    c.request("POST", "/?" + cq + "&X-Amz-Signature=" + sig, body=send_body if send_body is not None else body,
              headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target})
    r = c.getresponse()
    return r.status, json.loads(r.read() or b"{}")


def ddb(endpoint, ak=AK, sk=SK):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=ak,
                        aws_secret_access_key=sk, config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def test():
    creds = os.path.join(tempfile.mkdtemp(), "keys")
    with open(creds, "w") as f:
        f.write("# test keys\nAKIDOTHER other-secret\n%s %s\n%s %s %s\n" % (AK, SK, TMP_AK, TMP_SK, TOKEN))
    with Kinesind(args=["--auth", "sigv4", "--credentials", creds]) as kd:
        ok = client(kd.endpoint)
        with soft("boto3 with the right key passes"):
            ok.create_stream(StreamName="s", ShardCount=1)
            eq(ok.list_streams()["StreamNames"], ["s"], "list_streams")
            r = client(kd.endpoint, "AKIDOTHER", "other-secret").describe_stream_summary(StreamName="s")
            eq(r["StreamDescriptionSummary"]["StreamName"], "s", "second key")
        with soft("wrong secret"):
            expect_error(client(kd.endpoint, sk="wrong").list_streams, "InvalidSignatureException",
                         "The request signature we calculated does not match the signature you provided. Check your "
                         "AWS Secret Access Key and signing method. Consult the service documentation for details.")
        with soft("unknown key id"):
            expect_error(client(kd.endpoint, ak="AKIDNOBODY").list_streams, "UnrecognizedClientException",
                         "The security token included in the request is invalid.")
        with soft("session tokens: the right one passes, a wrong or missing one does not"):
            r = client(kd.endpoint, TMP_AK, TMP_SK, token=TOKEN).describe_stream_summary(StreamName="s")
            eq(r["StreamDescriptionSummary"]["StreamName"], "s", "temporary key with its token")
            invalid = "The security token included in the request is invalid."
            expect_error(client(kd.endpoint, TMP_AK, TMP_SK, token=TOKEN + "x").list_streams,
                         "UnrecognizedClientException", invalid)
            expect_error(client(kd.endpoint, TMP_AK, TMP_SK).list_streams, "UnrecognizedClientException", invalid)
            expect_error(client(kd.endpoint, token="made-up").list_streams, "UnrecognizedClientException", invalid)
        with soft("presigned (query-string) requests are verified"):
            st, b = presigned(kd.endpoint, b"{}")
            eq((st, b.get("StreamNames")), (200, ["s"]), "a valid presigned ListStreams")
            st, b = presigned(kd.endpoint, b"{}", sk="wrong")
            eq((st, b.get("__type")), (400, "InvalidSignatureException"), "wrong secret")
            st, b = presigned(kd.endpoint, b"{}", send_body=b'{"Limit":1}')
            eq((st, b.get("__type")), (400, "InvalidSignatureException"), "another body")
            old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=120)
            st, b = presigned(kd.endpoint, b"{}", when=old, expires=60)
            eq((st, b.get("__type")), (400, "InvalidSignatureException"), "expired")
            check("Signature expired" in b.get("message", ""), "message %r" % b)
            st, b = presigned(kd.endpoint, b"{}", when=old, expires=600)
            eq(st, 200, "within X-Amz-Expires (%r)" % b)
            st, b = presigned(kd.endpoint, b"{}", expires=700000)
            eq((st, b.get("__type")), (400, "IncompleteSignatureException"), "X-Amz-Expires past 7 days")
        with soft("wrong region"):
            expect_error(client(kd.endpoint, region="eu-west-1").list_streams, "InvalidSignatureException",
                         "Credential should be scoped to a valid region, not 'eu-west-1'. ")
        with soft("wrong service"):
            from botocore.auth import SigV4Auth
            from botocore.credentials import Credentials
            c = client(kd.endpoint)
            c._request_signer.sign = lambda operation_name, request, **kw: SigV4Auth(
                Credentials(AK, SK), "dynamodb", "us-east-1").add_auth(request)
            expect_error(c.list_streams, "InvalidSignatureException",
                         "Credential should be scoped to correct service: 'kinesis'. ")
        for minutes, prefix in ((-6, "Signature expired: "), (6, "Signature not yet current: ")):
            with soft("date %+d minutes" % minutes):
                when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
                with mock.patch("botocore.auth.get_current_datetime", return_value=when):
                    _, msg, status = expect_error(ok.list_streams, "InvalidSignatureException", prefix=prefix)
                eq(status, 400, "status")
                check(msg.endswith("5 min.)") and when.strftime("%Y%m%dT%H%M%SZ") in msg, "message %r" % msg)
        with soft("4 minutes of skew is accepted"):
            when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=4)
            with mock.patch("botocore.auth.get_current_datetime", return_value=when):
                ok.list_streams()
        with soft("libkinesin signs what kinesind verifies"):
            binp = os.path.join(os.environ.get("KN_BIN") or os.path.join(os.environ["KN_SRC"], "build", "bin"),
                                "kinesin")
            env = dict(os.environ, AWS_ACCESS_KEY_ID=TMP_AK, AWS_SECRET_ACCESS_KEY=TMP_SK, AWS_SESSION_TOKEN=TOKEN)
            p = subprocess.run([binp, "--endpoint", kd.endpoint, "put", "s", "--key", "k"], input="a\nb\n",
                               capture_output=True, text=True, env=env, timeout=30)
            eq(p.returncode, 0, "kinesin put (%s)" % p.stderr)
            p = subprocess.run([binp, "--endpoint", kd.endpoint, "cat", "s"], capture_output=True, text=True,
                               env=env, timeout=30)
            eq((p.returncode, p.stdout), (0, "a\nb\n"), "kinesin cat (%s)" % p.stderr)
            env["AWS_SECRET_ACCESS_KEY"] = "nope"
            p = subprocess.run([binp, "--endpoint", kd.endpoint, "list"], capture_output=True, text=True, env=env,
                               timeout=30)
            eq(p.returncode, 1, "kinesin with a wrong secret")
            check(p.stderr.startswith("kinesin: InvalidSignatureException: The request signature we calculated"),
                  "kinesin's message: %r" % p.stderr)
            # the producer gives up on an answer that will not change instead of retrying it
            p = subprocess.run([binp, "--endpoint", kd.endpoint, "put", "s", "--key", "k"], input="x\n",
                               capture_output=True, text=True, env=env, timeout=20)
            check(p.returncode != 0 and "InvalidSignatureException" in p.stderr,
                  "kinesin put with a wrong secret: rc %d, %r" % (p.returncode, p.stderr))
        with soft("DynamoDB: boto3 signed requests pass, a wrong secret does not"):
            d = ddb(kd.endpoint)
            d.create_table(TableName="app", BillingMode="PAY_PER_REQUEST",
                           KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
                           AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}])
            wait_table_active(d, "app")
            d.put_item(TableName="app", Item={"leaseKey": {"S": "shardId-000000000000"},
                                              "leaseOwner": {"S": "w1"}, "leaseCounter": {"N": "3"},
                                              "checkpoint": {"S": "TRIM_HORIZON"}})
            eq(d.get_item(TableName="app", Key={"leaseKey": {"S": "shardId-000000000000"}})["Item"]["leaseOwner"],
               {"S": "w1"}, "item read back")
            expect_error(ddb(kd.endpoint, sk="wrong").list_tables, "InvalidSignatureException")
            expect_error(ddb(kd.endpoint, ak="AKIDNOBODY").list_tables, "UnrecognizedClientException",
                         "The security token included in the request is invalid.")
        with soft("DynamoDB: libkinesin (kinesin leases) signs what kinesind verifies"):
            env = dict(os.environ, AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=SK)
            env.pop("AWS_SESSION_TOKEN", None)
            p = subprocess.run([binp, "--endpoint", kd.endpoint, "leases", "app"], capture_output=True, text=True,
                               env=env, timeout=30)
            eq(p.returncode, 0, "kinesin leases (%s)" % p.stderr)
            check("shardId-000000000000" in p.stdout and "w1" in p.stdout, "lease table shown: %r" % p.stdout)
            env["AWS_SECRET_ACCESS_KEY"] = "nope"
            p = subprocess.run([binp, "--endpoint", kd.endpoint, "leases", "app"], capture_output=True, text=True,
                               env=env, timeout=30)
            eq(p.returncode, 1, "kinesin leases with a wrong secret (%s)" % p.stderr)


main(test)
