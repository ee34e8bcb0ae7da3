#!/usr/bin/python3
"""A SPIFFE Workload API client on Debian's python3-grpcio (gRPC C-core) and python3-protobuf.

Run with /usr/bin/python3 (the Debian interpreter that has those packages). The message classes
are built at run time from src/agent/workload-api/proto/workload.proto: protoc writes a
descriptor set into a temporary directory, and protobuf's message_factory makes classes from it
(no generated code). Prints one JSON line per step, like test/clients/node/workload-client.cjs:
    workload_client.py --socket PATH [--out DIR] [--audience AUD] [--watch N]
"""

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

import grpc
from google.protobuf import descriptor_pb2, json_format, message_factory

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PROTO_DIR = os.path.join(ROOT, "src", "agent", "workload-api", "proto")


def load_messages():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "workload.pb")
        subprocess.run(
            ["protoc", "--include_imports", f"--descriptor_set_out={out}",
             f"-I{PROTO_DIR}", "-I/usr/include", "workload.proto"],
            check=True,
        )
        with open(out, "rb") as f:
            fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    return message_factory.GetMessages(fds.file)


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def split_der(buf):
    """Concatenated DER certificates -> list (each a SEQUENCE: 0x30, length, content)."""
    certs, i = [], 0
    while i < len(buf):
        length, hdr = buf[i + 1], 2
        if length & 0x80:
            n = length & 0x7F
            length = int.from_bytes(buf[i + 2:i + 2 + n], "big")
            hdr = 2 + n
        certs.append(buf[i:i + hdr + length])
        i += hdr + length
    return certs


def pem(label, der):
    b64 = base64.b64encode(der).decode()
    lines = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--out")
    ap.add_argument("--audience", default="test-audience")
    ap.add_argument("--watch", type=int, default=0)
    a = ap.parse_args()

    m = load_messages()
    M = lambda name: m[name]  # noqa: E731
    channel = grpc.insecure_channel(f"unix://{a.socket}")
    md = [("workload.spiffe.io", "true")]

    def method(name, req, res, stream):
        make = channel.unary_stream if stream else channel.unary_unary
        return make(f"/SpiffeWorkloadAPI/{name}",
                    request_serializer=M(req).SerializeToString,
                    response_deserializer=M(res).FromString)

    fetch_x509 = method("FetchX509SVID", "X509SVIDRequest", "X509SVIDResponse", True)
    fetch_x509_bundles = method("FetchX509Bundles", "X509BundlesRequest", "X509BundlesResponse", True)
    fetch_jwt_bundles = method("FetchJWTBundles", "JWTBundlesRequest", "JWTBundlesResponse", True)
    fetch_jwt = method("FetchJWTSVID", "JWTSVIDRequest", "JWTSVIDResponse", False)
    validate_jwt = method("ValidateJWTSVID", "ValidateJWTSVIDRequest", "ValidateJWTSVIDResponse", False)

    def fail(step, e):
        emit({"step": step, "error": True, "code": e.code().value[0], "details": e.details()})
        sys.exit(0)

    t0 = time.time()
    stream = fetch_x509(M("X509SVIDRequest")(), metadata=md)
    try:
        res = next(stream)
    except grpc.RpcError as e:
        fail("x509", e)
    s = res.svids[0]
    chain = split_der(s.x509_svid)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "svid.pem"), "w") as f:
            f.write("".join(pem("CERTIFICATE", c) for c in chain))
        with open(os.path.join(a.out, "svid_key.pem"), "w") as f:
            f.write(pem("PRIVATE KEY", s.x509_svid_key))
        with open(os.path.join(a.out, "bundle.pem"), "w") as f:
            f.write("".join(pem("CERTIFICATE", c) for c in split_der(s.bundle)))
    emit({"step": "x509", "ms": round((time.time() - t0) * 1000),
          "spiffe_ids": [v.spiffe_id for v in res.svids],
          "serial": hashlib.sha256(chain[0]).hexdigest()[:16],
          "federated": list(res.federated_bundles.keys())})

    try:
        xb = next(fetch_x509_bundles(M("X509BundlesRequest")(), metadata=md))
        jb = next(fetch_jwt_bundles(M("JWTBundlesRequest")(), metadata=md))
        jwks = {k: json.loads(v) for k, v in jb.bundles.items()}
        emit({"step": "bundles", "x509": list(xb.bundles.keys()), "jwt": list(jwks.keys()),
              "jwt_kids": [k["kid"] for j in jwks.values() for k in j["keys"]]})
    except grpc.RpcError as e:
        fail("bundles", e)

    try:
        r = fetch_jwt(M("JWTSVIDRequest")(audience=[a.audience]), metadata=md)
        token = r.svids[0].svid
        v = validate_jwt(M("ValidateJWTSVIDRequest")(audience=a.audience, svid=token), metadata=md)
        claims = json_format.MessageToDict(v.claims)
        emit({"step": "jwt", "spiffe_id": r.svids[0].spiffe_id, "validated": v.spiffe_id,
              "claims": sorted(claims.keys()), "aud": claims.get("aud"), "exp": claims.get("exp")})
        try:
            validate_jwt(M("ValidateJWTSVIDRequest")(audience="other", svid=token), metadata=md)
            emit({"step": "jwt-wrong-audience", "code": 0})
        except grpc.RpcError as e:
            emit({"step": "jwt-wrong-audience", "code": e.code().value[0]})
    except grpc.RpcError as e:
        fail("jwt", e)

    try:
        next(fetch_x509(M("X509SVIDRequest")()))
        emit({"step": "noheader", "code": 0})
    except grpc.RpcError as e:
        emit({"step": "noheader", "code": e.code().value[0], "details": e.details()})

    if a.watch > 0:
        emit({"step": "waiting"})
        try:
            for n in range(1, a.watch + 1):
                res = next(stream)
                emit({"step": "update", "n": n, "t": time.time() * 1000,
                      "spiffe_ids": [v.spiffe_id for v in res.svids],
                      "serial": hashlib.sha256(split_der(res.svids[0].x509_svid)[0]).hexdigest()[:16]})
        except grpc.RpcError as e:
            fail("update", e)
    stream.cancel()
    channel.close()


if __name__ == "__main__":
    main()
