"""--tls-port: kinesind also serves HTTPS (the KPL insists on it), HTTP/2 or HTTP/1.1 chosen by
ALPN, with a certificate the user gives; a bad certificate or key stops startup with a message
naming the flag."""

import os
import subprocess
import tempfile

from kn import Kinesind, boto3_client, check, create_active, eq, free_port, kn_bin, main, soft


def test():
    tmp = tempfile.mkdtemp()
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    tls = free_port()
    kd = Kinesind(args=["--tls-port", str(tls), "--tls-cert", cert, "--tls-key", key]).start()
    https = "https://127.0.0.1:%d" % tls
    with soft("boto3 over HTTPS, verifying the server's certificate"):
        import boto3
        c = boto3.client("kinesis", endpoint_url=https, region_name="us-east-1", verify=cert)
        create_active(c, "tls", 1)
        seq = c.put_record(StreamName="tls", Data=b"over tls", PartitionKey="k")["SequenceNumber"]
        plain = boto3_client(kd.endpoint)  # the same stream on the plain port
        it = plain.get_shard_iterator(StreamName="tls", ShardId="shardId-000000000000",
                                      ShardIteratorType="AT_SEQUENCE_NUMBER",
                                      StartingSequenceNumber=seq)["ShardIterator"]
        eq([r["Data"] for r in plain.get_records(ShardIterator=it)["Records"]], [b"over tls"], "record")
    with soft("ALPN offers HTTP/2 over TLS"):
        r = subprocess.run(["curl", "-s", "--http2", "--cacert", cert, "-o", "/dev/null", "-w", "%{http_version}",
                            "-X", "POST", "-H", "X-Amz-Target: Kinesis_20131202.ListStreams",
                            "-H", "Content-Type: application/x-amz-json-1.1", "-d", "{}", https + "/"],
                           capture_output=True, text=True, timeout=30)
        eq(r.stdout, "2", "HTTP version negotiated by curl")
    kd.stop()
    with soft("a certificate that cannot be read stops startup"):
        p = subprocess.run([kn_bin(), "--port", str(free_port()), "--in-memory", "--tls-port", str(free_port()),
                            "--tls-cert", os.path.join(tmp, "missing.pem"), "--tls-key", key],
                           capture_output=True, text=True, timeout=30)
        check(p.returncode != 0, "exit status %d" % p.returncode)
        check("--tls-cert" in p.stderr, "message names the flag: %r" % p.stderr)
        p = subprocess.run([kn_bin(), "--in-memory", "--tls-port", "4999"], capture_output=True, text=True,
                           timeout=30)
        check(p.returncode != 0 and "go together" in p.stderr, "--tls-port alone: %r" % p.stderr)


main(test)
