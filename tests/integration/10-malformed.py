"""Raw HTTP: dispatch order, auth presence checks, type/validation errors (spec §1.3, §1.6,
§1.7, §3.1-§3.5). Every response must carry x-amzn-RequestId, x-amz-id-2 and an exact
Content-Length, and the server must survive all of it."""

import base64
import http.client
import json
import socket
import time

from kn import (AMZ_DATE, AUTH, JSON_CT, UUID_RE, Kinesind, call, check, eq, kinesis_headers, main,
                raw, soft)

ACCESS_DENIED_XML = (b"<AccessDeniedException>\n"
                     b"  <Message>Unable to determine service/operation name to be authorized</Message>\n"
                     b"</AccessDeniedException>\n")
EXPOSE = ("x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,"
          "x-amzn-ErrorMessage,Date")

request_ids = []


def std(r, what, preflight=False):
    """Headers every response must have (spec §1.3)."""
    rid = r.header("x-amzn-RequestId")
    check(rid is not None, "%s: no x-amzn-RequestId header: %r" % (what, r))
    check(UUID_RE.match(rid or "") is not None, "%s: x-amzn-RequestId %r is not a uuid" % (what, rid))
    request_ids.append(rid)
    id2 = r.header("x-amz-id-2")
    if preflight:
        check(id2 is None, "%s: OPTIONS pre-flight with Origin must not carry x-amz-id-2: %r" % (what, r))
    else:
        check(id2 is not None, "%s: no x-amz-id-2 header: %r" % (what, r))
        try:
            n = len(base64.b64decode(id2, validate=True))
        except Exception:
            n = -1
        check(64 <= n <= 80, "%s: x-amz-id-2 %r is not base64 of 64-80 bytes" % (what, id2))
    cl = r.header("Content-Length")
    check(cl is not None, "%s: no Content-Length header: %r" % (what, r))
    eq(int(cl), len(r.body), "%s: Content-Length vs body length" % what)


def json_error(r, what, status, typ, message=None, key="message", exact_keys=False):
    std(r, what)
    eq(r.status, status, "%s: status (%r)" % (what, r))
    eq(r.header("Content-Type"), JSON_CT, "%s: Content-Type" % what)
    b = r.json()
    eq(b.get("__type"), typ, "%s: __type (body %r)" % (what, b))
    if message is not None:
        eq(b.get(key), message, "%s: %s" % (what, key))
    if exact_keys:
        eq(b, {"__type": typ}, "%s: body" % what)
    return b


def validation(r, what, items):
    """ValidationException with these items in any order (count prefix checked)."""
    b = json_error(r, what, 400, "ValidationException")
    msg = b.get("message") or ""
    n = len(items)
    prefix = "%d validation error%s detected: " % (n, "" if n == 1 else "s")
    check(msg.startswith(prefix), "%s: message should start with %r:\n  %r" % (what, prefix, msg))
    got = msg[len(prefix):].split("; ")
    eq(sorted(got), sorted(items), "%s: validation items" % what)


def ok(r, what):
    std(r, what)
    eq(r.status, 200, "%s: status (%r)" % (what, r))
    eq(r.header("Content-Type"), JSON_CT, "%s: Content-Type" % what)
    return r.json() if r.body else None


def cors_defaults():
    """Without --cors-origin no web page may drive kinesind; with an allow-list only those."""
    with Kinesind() as kd:
        with soft("no --cors-origin: pre-flight refused, no CORS headers"):
            r = raw(kd.port, "OPTIONS", "/", headers=[("Origin", "http://evil.example"),
                                                      ("Access-Control-Request-Method", "POST")])
            eq(r.status, 403, "pre-flight status")
            eq(r.header("Access-Control-Allow-Origin"), None, "Access-Control-Allow-Origin")
            r = call(kd.port, "ListStreams", {}, extra=[("Origin", "http://evil.example")])
            eq(r.status, 200, "POST status")
            eq(r.header("Access-Control-Allow-Origin"), None, "Access-Control-Allow-Origin on POST")
    with Kinesind(args=["--cors-origin", "http://good.example"]) as kd:
        with soft("--cors-origin allow-list"):
            r = call(kd.port, "ListStreams", {}, extra=[("Origin", "http://good.example")])
            eq(r.header("Access-Control-Allow-Origin"), "http://good.example", "allowed origin echoed")
            r = call(kd.port, "ListStreams", {}, extra=[("Origin", "http://evil.example")])
            eq(r.header("Access-Control-Allow-Origin"), None, "other origin")


def test():
    cors_defaults()
    # --dashboard off: GET / is then what AWS answers (with the dashboard on it is the page)
    with Kinesind(args=["--cors-origin", "*", "--dashboard", "off"]) as kd:
        port = kd.port

        # ---- §1.6 rows 3-4: method and CORS ------------------------------------------------
        with soft("GET / -> 403 AccessDeniedException XML"):
            r = raw(port, "GET", "/")
            std(r, "GET /")
            eq(r.status, 403, "GET / status")
            eq(r.body, ACCESS_DENIED_XML, "GET / body")
            eq(r.header("Content-Type"), None, "GET / Content-Type")

        with soft("PUT with a JSON body -> 403 AccessDeniedException XML"):
            r = raw(port, "PUT", "/", body="{}", headers=kinesis_headers("ListStreams"))
            std(r, "PUT /")
            eq(r.status, 403, "PUT status")
            eq(r.body, ACCESS_DENIED_XML, "PUT body")

        with soft("OPTIONS without Origin -> 403 AccessDeniedException XML"):
            r = raw(port, "OPTIONS", "/")
            std(r, "OPTIONS")
            eq(r.status, 403, "OPTIONS status")
            eq(r.body, ACCESS_DENIED_XML, "OPTIONS body")

        with soft("OPTIONS pre-flight with Origin"):
            r = raw(port, "OPTIONS", "/", headers=[
                ("Origin", "http://example.com"),
                ("Access-Control-Request-Headers", "content-type,x-amz-target,authorization"),
                ("Access-Control-Request-Method", "POST")])
            std(r, "pre-flight", preflight=True)
            eq(r.status, 200, "pre-flight status (%r)" % r)
            eq(r.body, b"", "pre-flight body")
            eq(r.header("Access-Control-Allow-Origin"), "*", "Access-Control-Allow-Origin")
            eq(r.header("Access-Control-Allow-Headers"), "content-type,x-amz-target,authorization",
               "Access-Control-Allow-Headers")
            eq(r.header("Access-Control-Allow-Methods"), "POST", "Access-Control-Allow-Methods")
            eq(r.header("Access-Control-Max-Age"), "172800", "Access-Control-Max-Age")
            eq(r.header("Content-Type"), None, "pre-flight Content-Type")

        with soft("POST ListStreams with Origin -> CORS headers"):
            r = call(port, "ListStreams", {}, extra=[("Origin", "http://example.com")])
            b = ok(r, "CORS ListStreams")
            eq((b.get("StreamNames"), b.get("HasMoreStreams")), ([], False), "ListStreams body")
            eq(r.header("Access-Control-Allow-Origin"), "*", "Access-Control-Allow-Origin")
            eq(r.header("Access-Control-Expose-Headers"), EXPOSE, "Access-Control-Expose-Headers")

        with soft("GET with Origin -> 403 plus CORS headers"):
            r = raw(port, "GET", "/", headers=[("Origin", "http://example.com")])
            std(r, "GET with Origin")
            eq(r.status, 403, "status")
            eq(r.header("Access-Control-Allow-Origin"), "*", "Access-Control-Allow-Origin")
            eq(r.header("Access-Control-Expose-Headers"), EXPOSE, "Access-Control-Expose-Headers")

        with soft("no Origin -> no CORS headers"):
            r = call(port, "ListStreams", {})
            ok(r, "ListStreams")
            eq(r.header("Access-Control-Allow-Origin"), None, "Access-Control-Allow-Origin")

        # ---- §1.6 rows 5-10: content type, target, body --------------------------------------
        with soft("wrong Content-Type, valid target -> 404 UnknownOperationException XML"):
            r = raw(port, body="{}", headers=kinesis_headers("ListStreams", ct="text/plain"))
            std(r, "text/plain")
            eq(r.status, 404, "status (%r)" % r)
            eq(r.body, b"<UnknownOperationException/>\n", "body")
            eq(r.header("Content-Type"), None, "Content-Type")

        with soft("wrong Content-Type, no target -> 403 AccessDeniedException XML"):
            r = raw(port, body="{}", headers=[("Content-Type", "text/plain"), ("Authorization", AUTH),
                                              ("X-Amz-Date", AMZ_DATE)])
            std(r, "text/plain no target")
            eq(r.status, 403, "status (%r)" % r)
            eq(r.body, ACCESS_DENIED_XML, "body")

        with soft("missing Content-Type, valid target -> 404 UnknownOperationException XML"):
            r = raw(port, body="{}", headers=[("X-Amz-Target", "Kinesis_20131202.ListStreams"),
                                              ("Authorization", AUTH), ("X-Amz-Date", AMZ_DATE)])
            std(r, "no content type")
            eq(r.status, 404, "status (%r)" % r)
            eq(r.body, b"<UnknownOperationException/>\n", "body")

        with soft("Content-Type with parameters is accepted"):
            r = raw(port, body="{}", headers=kinesis_headers("ListStreams", ct=JSON_CT + "; charset=utf-8"))
            std(r, "ct params")
            eq(r.status, 200, "status (%r)" % r)
            eq(r.header("Content-Type"), JSON_CT, "Content-Type")

        with soft("unknown operation -> 400 UnknownOperationException"):
            json_error(call(port, "NoSuchOperation", {}), "unknown op", 400, "UnknownOperationException",
                       exact_keys=True)

        with soft("operation name is case-sensitive"):
            json_error(call(port, "liststreams", {}), "lower-case op", 400, "UnknownOperationException",
                       exact_keys=True)

        with soft("unknown service prefix -> 400 UnknownOperationException"):
            r = raw(port, body="{}", headers=[("Content-Type", JSON_CT), ("X-Amz-Target", "Kinesis_20131201.ListStreams"),
                                              ("Authorization", AUTH), ("X-Amz-Date", AMZ_DATE)])
            json_error(r, "bad service", 400, "UnknownOperationException", exact_keys=True)

        with soft("no X-Amz-Target with JSON content type -> 400 UnknownOperationException"):
            r = raw(port, body="{}", headers=[("Content-Type", JSON_CT), ("Authorization", AUTH),
                                              ("X-Amz-Date", AMZ_DATE)])
            json_error(r, "no target", 400, "UnknownOperationException", exact_keys=True)

        with soft("unknown operation without auth -> UnknownOperationException (before auth)"):
            json_error(call(port, "NoSuchOperation", {}, auth=False), "unknown op no auth", 400,
                       "UnknownOperationException", exact_keys=True)

        with soft("empty body, valid target -> 400 SerializationException"):
            json_error(call(port, "ListStreams", b""), "empty body", 400, "SerializationException",
                       exact_keys=True)

        with soft("empty body, unknown operation -> 400 UnknownOperationException"):
            json_error(call(port, "NoSuchOperation", b""), "empty body unknown op", 400,
                       "UnknownOperationException", exact_keys=True)

        for body in [b"{", b"{\"StreamName\": ", b"not json", b"true", b"null", b"123", b"\"str\"",
                     b"{\"a\":1}}"]:
            with soft("unparseable body %r -> 400 SerializationException" % body):
                json_error(call(port, "ListStreams", body), "body %r" % body, 400, "SerializationException",
                           exact_keys=True)

        with soft("invalid UTF-8 body -> 400 SerializationException saying so"):
            json_error(call(port, "ListStreams", b"\xff\xfe{}"), "body ff fe", 400, "SerializationException",
                       "Invalid UTF-8 or an unescaped control character in the request body", key="Message")

        with soft("bad JSON with unknown op -> SerializationException (parse comes first)"):
            json_error(call(port, "NoSuchOperation", b"{"), "bad JSON unknown op", 400,
                       "SerializationException", exact_keys=True)

        with soft("bad JSON without auth -> SerializationException (parse before auth)"):
            json_error(call(port, "ListStreams", b"{", auth=False), "bad JSON no auth", 400,
                       "SerializationException", exact_keys=True)

        # ---- §1.7 authentication presence checks -----------------------------------------------
        with soft("no Authorization -> MissingAuthenticationTokenException"):
            json_error(call(port, "ListStreams", {}, auth=False), "no auth", 400,
                       "MissingAuthenticationTokenException", "Missing Authentication Token")

        with soft("Authorization 'X' without a date -> IncompleteSignatureException"):
            r = raw(port, body="{}", headers=[("Content-Type", JSON_CT),
                                              ("X-Amz-Target", "Kinesis_20131202.ListStreams"),
                                              ("Authorization", "X")])
            json_error(r, "Authorization X", 400, "IncompleteSignatureException",
                       "Authorization header requires 'Credential' parameter. Authorization header "
                       "requires 'Signature' parameter. Authorization header requires 'SignedHeaders' "
                       "parameter. Authorization header requires existence of either a 'X-Amz-Date' or "
                       "a 'Date' header. Authorization=X")

        with soft("Authorization without Signature, with X-Amz-Date -> IncompleteSignatureException"):
            a = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request, SignedHeaders=host"
            r = raw(port, body="{}", headers=[("Content-Type", JSON_CT),
                                              ("X-Amz-Target", "Kinesis_20131202.ListStreams"),
                                              ("Authorization", a), ("X-Amz-Date", AMZ_DATE)])
            json_error(r, "no Signature", 400, "IncompleteSignatureException",
                       "Authorization header requires 'Signature' parameter. Authorization=" + a)

        with soft("well-formed Authorization without X-Amz-Date/Date -> IncompleteSignatureException"):
            r = raw(port, body="{}", headers=[("Content-Type", JSON_CT),
                                              ("X-Amz-Target", "Kinesis_20131202.ListStreams"),
                                              ("Authorization", AUTH)])
            json_error(r, "no date", 400, "IncompleteSignatureException",
                       "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                       "header. Authorization=" + AUTH)

        with soft("Authorization with a Date header instead of X-Amz-Date is accepted"):
            r = raw(port, body="{}", headers=[("Content-Type", JSON_CT),
                                              ("X-Amz-Target", "Kinesis_20131202.ListStreams"),
                                              ("Authorization", AUTH),
                                              ("Date", "Mon, 01 Jan 2024 00:00:00 GMT")])
            ok(r, "Date header")

        with soft("query X-Amz-Algorithm plus Authorization header -> InvalidSignatureException"):
            r = raw(port, path="/?X-Amz-Algorithm=AWS4-HMAC-SHA256", body="{}",
                    headers=kinesis_headers("ListStreams"))
            json_error(r, "both auth", 400, "InvalidSignatureException",
                       "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.")

        with soft("incomplete query-string auth -> IncompleteSignatureException"):
            r = raw(port, path="/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=", body="{}",
                    headers=kinesis_headers("ListStreams", auth=False))
            json_error(r, "query auth", 400, "IncompleteSignatureException",
                       "AWS query-string parameters must include 'X-Amz-Credential'. "
                       "AWS query-string parameters must include 'X-Amz-Signature'. "
                       "AWS query-string parameters must include 'X-Amz-SignedHeaders'. "
                       "AWS query-string parameters must include 'X-Amz-Date'. "
                       "Re-examine the query-string parameters.")

        with soft("complete query-string auth is accepted"):
            q = ("/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20240101%2Fus-east-1%2Fkinesis"
                 "%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=abcd")
            ok(raw(port, path=q, body="{}", headers=kinesis_headers("ListStreams", auth=False)), "query auth ok")

        # ---- §3.1 type coercion --------------------------------------------------------------
        type_cases = [
            ("CreateStream", {"StreamName": True, "ShardCount": 1},
             "class java.lang.Boolean can not be converted to an String"),
            ("CreateStream", {"StreamName": 12, "ShardCount": 1},
             "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String"),
            ("CreateStream", {"StreamName": "s", "ShardCount": "x"},
             "class java.lang.String can not be converted to an Integer"),
            ("CreateStream", {"StreamName": "s", "ShardCount": True},
             "class java.lang.Boolean can not be converted to an Integer"),
            ("CreateStream", {"StreamName": ["a"], "ShardCount": 1}, "Start of list found where not expected"),
            ("CreateStream", {"StreamName": {"a": 1}, "ShardCount": 1},
             "Start of structure or map found where not expected."),
            ("PutRecords", {"StreamName": "s", "Records": "x"}, "Expected list or null"),
            ("PutRecords", {"StreamName": "s", "Records": {}},
             "Start of structure or map found where not expected."),
            ("PutRecord", {"StreamName": "s", "PartitionKey": "a", "Data": True},
             "class java.lang.Boolean can not be converted to a Blob"),
            ("PutRecord", {"StreamName": "s", "PartitionKey": "a", "Data": "abc"},
             "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 "
             "bytes but found: 3"),
            ("PutRecord", {"StreamName": "s", "PartitionKey": "a", "Data": "ab!="},
             "'ab!=' can not be converted to a Blob: Invalid Base64 character: '!'"),
            ("PutRecord", {"StreamName": "s", "PartitionKey": "a", "Data": "YR=="},
             "'YR==' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"),
            ("GetShardIterator", {"StreamName": "s", "ShardId": "shardId-0", "ShardIteratorType": "AT_TIMESTAMP",
                                  "Timestamp": "2020"},
             "class java.lang.String can not be converted to milliseconds since epoch"),
            ("ListStreams", {"Limit": "1"}, "class java.lang.String can not be converted to an Integer"),
        ]
        for op, body, msg in type_cases:
            with soft("%s %s -> SerializationException" % (op, json.dumps(body))):
                b = json_error(call(port, op, body), "%s %r" % (op, body), 400, "SerializationException")
                eq(b.get("Message"), msg, "%s %r: Message (capital M)" % (op, body))

        # ---- §3.2-3.4 validation ----------------------------------------------------------------
        with soft("CreateStream {} -> 2 validation errors (exact)"):
            json_error(call(port, "CreateStream", {}), "CreateStream {}", 400, "ValidationException",
                       "2 validation errors detected: Value null at 'shardCount' failed to satisfy constraint: "
                       "Member must not be null; Value null at 'streamName' failed to satisfy constraint: "
                       "Member must not be null")

        with soft("CreateStream {StreamName:'', ShardCount:0} -> 3 validation errors"):
            validation(call(port, "CreateStream", {"StreamName": "", "ShardCount": 0}), "CreateStream empty", [
                "Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1",
                "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
                "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ])

        with soft("CreateStream with an invalid name character"):
            validation(call(port, "CreateStream", {"StreamName": "a b", "ShardCount": 1}), "CreateStream 'a b'", [
                "Value 'a b' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
            ])

        with soft("GetShardIterator all-empty -> 6 validation errors"):
            validation(call(port, "GetShardIterator", {"StreamName": "", "ShardIteratorType": "", "ShardId": "",
                                                       "StartingSequenceNumber": ""}), "GetShardIterator empty", [
                "Value '' at 'shardId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
                "Value '' at 'shardId' failed to satisfy constraint: Member must have length greater than or equal to 1",
                "Value '' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: "
                "[AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]",
                "Value '' at 'startingSequenceNumber' failed to satisfy constraint: Member must satisfy regular "
                "expression pattern: 0|([1-9]\\d{0,128})",
                "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
                "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ])

        with soft("PutRecord with 1048577 bytes of Data -> ValidationException (HeapByteBuffer)"):
            big = base64.b64encode(b"\x00" * 1048577).decode()
            json_error(call(port, "PutRecord", {"StreamName": "nope", "PartitionKey": "a", "Data": big}),
                       "PutRecord big", 400, "ValidationException",
                       "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' "
                       "at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576")

        with soft("GetRecords with a 513-char iterator -> ValidationException"):
            it = "A" * 513
            json_error(call(port, "GetRecords", {"ShardIterator": it}), "GetRecords long", 400,
                       "ValidationException",
                       "1 validation error detected: Value '%s' at 'shardIterator' failed to satisfy constraint: "
                       "Member must have length less than or equal to 512" % it)

        with soft("ListStreams Limit 0 -> ValidationException"):
            json_error(call(port, "ListStreams", {"Limit": 0}), "ListStreams Limit 0", 400, "ValidationException",
                       "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
                       "Member must have value greater than or equal to 1")

        with soft("unknown members and null members are ignored"):
            ok(call(port, "ListStreams", {"Foo": 1, "Bar": {"x": [1]}, "Limit": None,
                                          "ExclusiveStartStreamName": None}), "ListStreams extras")

        # ---- action errors and a real stream ----------------------------------------------
        with soft("DescribeStream missing -> ResourceNotFoundException"):
            json_error(call(port, "DescribeStream", {"StreamName": "nope"}), "DescribeStream nope", 400,
                       "ResourceNotFoundException", "Stream nope under account 000000000000 not found.")

        for it in ["x" * 200, base64.b64encode(b"\x00" * 7 + b"\x01" + b"\x42" * 144).decode(),
                   "AAAAAAAAAAE=", "!!!!"]:
            with soft("GetRecords bogus iterator %s... -> Invalid ShardIterator." % it[:16]):
                json_error(call(port, "GetRecords", {"ShardIterator": it}), "GetRecords bogus", 400,
                           "InvalidArgumentException", "Invalid ShardIterator.")

        real_it = None
        with soft("CreateStream via raw HTTP -> 200, empty body"):
            r = call(port, "CreateStream", {"StreamName": "raw1", "ShardCount": 1})
            std(r, "CreateStream")
            eq(r.status, 200, "CreateStream status (%r)" % r)
            eq(r.body, b"", "CreateStream body")
            eq(r.header("Content-Type"), JSON_CT, "CreateStream Content-Type")
            deadline = time.monotonic() + 10
            status = None
            while time.monotonic() < deadline:
                r = call(port, "DescribeStreamSummary", {"StreamName": "raw1"})
                status = ok(r, "DescribeStreamSummary")["StreamDescriptionSummary"]["StreamStatus"]
                if status == "ACTIVE":
                    break
                time.sleep(0.02)
            eq(status, "ACTIVE", "raw1 status")
            r = call(port, "GetShardIterator", {"StreamName": "raw1", "ShardId": "shardId-000000000000",
                                                "ShardIteratorType": "TRIM_HORIZON"})
            b = ok(r, "GetShardIterator")
            eq(sorted(b), ["ShardIterator"], "GetShardIterator keys")
            real_it = b["ShardIterator"]
            r = call(port, "PutRecord", {"StreamName": "raw1", "PartitionKey": "a", "Data": "aGVsbG8="})
            b = ok(r, "PutRecord")
            eq(b.get("ShardId"), "shardId-000000000000", "PutRecord ShardId")
            r = call(port, "GetRecords", {"ShardIterator": real_it})
            b = ok(r, "GetRecords")
            eq([(x["Data"], x["PartitionKey"]) for x in b["Records"]], [("aGVsbG8=", "a")], "GetRecords records")
            check(isinstance(b["Records"][0]["ApproximateArrivalTimestamp"], (int, float)),
                  "ApproximateArrivalTimestamp must be a JSON number: %r" % b["Records"][0])
            check(isinstance(b.get("MillisBehindLatest"), int), "MillisBehindLatest: %r" % b)
            check(isinstance(b.get("NextShardIterator"), str), "NextShardIterator: %r" % b)

        if real_it:
            mid = len(real_it) // 2
            flipped = real_it[:mid] + ("B" if real_it[mid] != "B" else "C") + real_it[mid + 1:]
            for name, it in [("one char changed", flipped), ("truncated", real_it[:-4]),
                             ("extended", real_it + "AAAA")]:
                with soft("GetRecords with a tampered iterator (%s) -> Invalid ShardIterator." % name):
                    json_error(call(port, "GetRecords", {"ShardIterator": it}), "tampered " + name, 400,
                               "InvalidArgumentException", "Invalid ShardIterator.")

        with soft("PutRecord ExplicitHashKey 2^128 -> InvalidArgumentException"):
            r = call(port, "PutRecord", {"StreamName": "raw1", "PartitionKey": "a", "Data": "",
                                         "ExplicitHashKey": str(2 ** 128)})
            json_error(r, "EHK 2^128", 400, "InvalidArgumentException",
                       "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                       "Specified value was %d" % 2 ** 128)

        # ---- transport tolerance -----------------------------------------------------------------
        with soft("chunked request body"):
            r = raw(port, body=json.dumps({"Limit": 5}), headers=kinesis_headers("ListStreams"), chunked=True)
            ok(r, "chunked ListStreams")

        with soft("keep-alive: several requests, errors included, on one connection"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                for i in range(3):
                    ok(call(port, "ListStreams", {}, conn=conn), "keep-alive ListStreams %d" % i)
                    json_error(call(port, "ListStreams", b"{", conn=conn), "keep-alive bad JSON %d" % i, 400,
                               "SerializationException")
                    json_error(call(port, "NoSuchOperation", {}, conn=conn), "keep-alive unknown op %d" % i, 400,
                               "UnknownOperationException")
            finally:
                conn.close()

        with soft("Expect: 100-continue"):
            body = b"{}"
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            try:
                hdr = ("POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: %s\r\n"
                       "X-Amz-Target: Kinesis_20131202.ListStreams\r\nAuthorization: %s\r\nX-Amz-Date: %s\r\n"
                       "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n"
                       % (port, JSON_CT, AUTH, AMZ_DATE, len(body)))
                s.sendall(hdr.encode())
                s.settimeout(1.0)
                try:
                    first = s.recv(65536)
                except socket.timeout:
                    first = b""
                if first:
                    check(first.startswith(b"HTTP/1.1 100"), "expected 100 Continue, got %r" % first[:200])
                s.sendall(body)
                s.settimeout(5)
                data = first
                while True:
                    rest = data
                    while rest.startswith(b"HTTP/1.1 100"):
                        rest = rest.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in rest else b""
                    if rest.startswith(b"HTTP/") and b"\r\n\r\n" in rest:
                        break
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                check(rest.startswith(b"HTTP/1.1 200"), "final response: %r" % data[:300])
            finally:
                s.close()

        with soft("11 MiB request body -> 4xx (413 like kinesalite), server survives"):
            # The server may answer before reading the whole body and close; read what it sent.
            n = 11 * 1024 * 1024
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            try:
                hdr = ("POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: %s\r\n"
                       "X-Amz-Target: Kinesis_20131202.PutRecords\r\nAuthorization: %s\r\nX-Amz-Date: %s\r\n"
                       "Content-Length: %d\r\n\r\n" % (port, JSON_CT, AUTH, AMZ_DATE, n))
                sock.sendall(hdr.encode())
                chunk = b"A" * 65536
                try:
                    for _ in range(n // len(chunk)):
                        sock.sendall(chunk)
                except OSError:
                    pass
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        piece = sock.recv(65536)
                        if not piece:
                            break
                        data += piece
                except OSError as e:
                    check(data, "no response to an 11 MiB body, only %r" % e)
                status = data.split(b" ", 2)[1] if data.startswith(b"HTTP/1.1 ") else b""
                check(status.startswith(b"4"), "response to an 11 MiB body: %r" % data[:300])
            finally:
                sock.close()

        with soft("x-amzn-RequestId values are unique"):
            eq(len(set(request_ids)), len(request_ids), "unique request ids")

        # ---- still alive ---------------------------------------------------------------------
        check(kd.alive(), "kinesind died during the malformed-input test")
        r = call(port, "ListStreams", {})
        b = ok(r, "final ListStreams")
        eq(b["StreamNames"], ["raw1"], "final StreamNames")


main(test)
