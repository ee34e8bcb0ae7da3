// A SPIFFE Workload API client on Node 20 + @grpc/grpc-js + @grpc/proto-loader (run with
// /usr/bin/node, not Bun): loads src/agent/workload-api/proto/workload.proto and prints one JSON
// line per step, for test/e2e/workload-api.test.ts and bench/workload-api.ts.
//   node workload-client.cjs --socket PATH [--out DIR] [--audience AUD] [--watch N]
//                            [--streams N [--connections K]]
// Steps: x509 (first message of FetchX509SVID; the SVID, key and bundle written to DIR as PEM),
// bundles (FetchX509Bundles, FetchJWTBundles), jwt (FetchJWTSVID then ValidateJWTSVID), noheader
// (FetchX509SVID without the security header), then with --watch N: N pushed updates on the
// open stream; with --streams N: N concurrent FetchX509SVID streams held until stdin closes.
"use strict";
const path = require("node:path");
const fs = require("node:fs");
const root = path.join(__dirname, "..", "..", "..");
const grpc = require(path.join(root, "node_modules/@grpc/grpc-js"));
const loader = require(path.join(root, "node_modules/@grpc/proto-loader"));

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const socket = opt("socket");
const out = opt("out");
const audience = opt("audience", "test-audience");
const watch = Number(opt("watch", "0"));
const streams = Number(opt("streams", "0"));
const connections = Number(opt("connections", "1"));
const wallMs = () => performance.timeOrigin + performance.now();

const def = loader.loadSync(path.join(root, "src/agent/workload-api/proto/workload.proto"), {
  keepCase: true,
  longs: String,
  defaults: true,
  includeDirs: [path.join(root, "node_modules/protobufjs")],
});
const Api = grpc.loadPackageDefinition(def).SpiffeWorkloadAPI;
const client = new Api(`unix://${socket}`, grpc.credentials.createInsecure());
const md = () => {
  const m = new grpc.Metadata();
  m.set("workload.spiffe.io", "true");
  return m;
};
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const fail = (step, e) => {
  print({ step, error: true, code: e.code, details: e.details });
  process.exit(0);
};

// Concatenated DER certificates → list (each a SEQUENCE: 0x30, length, content).
function splitDer(buf) {
  const list = [];
  let i = 0;
  while (i < buf.length) {
    let len = buf[i + 1];
    let hdr = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + buf[i + 2 + k];
      hdr = 2 + n;
    }
    list.push(buf.subarray(i, i + hdr + len));
    i += hdr + len;
  }
  return list;
}
const pem = (label, der) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString("base64")
    .match(/.{1,64}/g)
    .join("\n")}\n-----END ${label}-----\n`;
const serialOf = (der) => new (require("node:crypto").X509Certificate)(der).serialNumber;

function fetchX509() {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const call = client.FetchX509SVID({}, md());
    let n = 0;
    call.on("data", (res) => {
      const s = res.svids[0];
      const leaf = splitDer(s.x509_svid)[0];
      if (n === 0) {
        if (out) {
          fs.mkdirSync(out, { recursive: true });
          fs.writeFileSync(
            path.join(out, "svid.pem"),
            splitDer(s.x509_svid)
              .map((c) => pem("CERTIFICATE", c))
              .join(""),
          );
          fs.writeFileSync(path.join(out, "svid_key.pem"), pem("PRIVATE KEY", s.x509_svid_key));
          fs.writeFileSync(
            path.join(out, "bundle.pem"),
            splitDer(s.bundle)
              .map((c) => pem("CERTIFICATE", c))
              .join(""),
          );
        }
        print({
          step: "x509",
          ms: Date.now() - t0,
          spiffe_ids: res.svids.map((v) => v.spiffe_id),
          serial: serialOf(leaf),
          federated: Object.keys(res.federated_bundles),
        });
        resolve(call);
      } else {
        print({
          step: "update",
          n,
          t: Date.now(),
          spiffe_ids: res.svids.map((v) => v.spiffe_id),
          serial: serialOf(leaf),
        });
        if (n >= watch) {
          call.cancel();
          process.exit(0);
        }
      }
      n++;
    });
    call.on("error", (e) => {
      if (e.code !== grpc.status.CANCELLED) fail(n === 0 ? "x509" : "update", e);
    });
  });
}

function first(method, req) {
  return new Promise((resolve, reject) => {
    const call = client[method](req, md());
    call.on("data", (res) => {
      call.cancel();
      resolve(res);
    });
    call.on("error", (e) => {
      if (e.code !== grpc.status.CANCELLED) reject(e);
    });
  });
}
const unary = (method, req, meta = md()) =>
  new Promise((resolve, reject) => client[method](req, meta, (e, r) => (e ? reject(e) : resolve(r))));

// google.protobuf.Value → JS (protobufjs names the well-known types' fields in camelCase).
function fromValue(v) {
  if (!v) return undefined;
  const lv = v.listValue || v.list_value;
  if (lv) return (lv.values || []).map(fromValue);
  const sv = v.structValue || v.struct_value;
  if (sv) return Object.fromEntries(Object.entries(sv.fields || {}).map(([k, x]) => [k, fromValue(x)]));
  for (const k of ["stringValue", "string_value", "numberValue", "number_value", "boolValue", "bool_value"]) {
    if (v[k] !== undefined && v[k] !== null) return v[k];
  }
  return null;
}

// --streams N [--connections K]: N FetchX509SVID streams over K separate connections, held
// until stdin closes. Prints when every stream has its first message, and after each renewal
// when every stream has received it (`streams-updated`, with the time the last one arrived).
async function many() {
  const t0 = Date.now();
  const clients = [client];
  for (let i = 1; i < connections; i++) {
    clients.push(
      new Api(`unix://${socket}`, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }),
    );
  }
  const counts = new Array(streams).fill(0);
  const reached = new Map();
  for (let i = 0; i < streams; i++) {
    const call = clients[i % clients.length].FetchX509SVID({}, md());
    call.on("data", () => {
      const k = ++counts[i];
      const r = (reached.get(k) || 0) + 1;
      reached.set(k, r);
      if (r === streams) {
        if (k === 1) print({ step: "streams", n: streams, connections: clients.length, ms: Date.now() - t0 });
        else print({ step: "streams-updated", n: k - 1, t: wallMs() });
      }
    });
    call.on("error", (e) => {
      if (e.code !== grpc.status.CANCELLED) fail("streams", e);
    });
  }
  process.stdin.resume();
  process.stdin.on("end", () => process.exit(0));
}

async function main() {
  if (streams > 0) return many();
  const stream = await fetchX509();
  try {
    const xb = await first("FetchX509Bundles", {});
    const jb = await first("FetchJWTBundles", {});
    const jwks = Object.fromEntries(
      Object.entries(jb.bundles).map(([k, v]) => [k, JSON.parse(Buffer.from(v).toString())]),
    );
    print({
      step: "bundles",
      x509: Object.keys(xb.bundles),
      jwt: Object.keys(jwks),
      jwt_kids: Object.values(jwks).flatMap((j) => j.keys.map((k) => k.kid)),
    });
  } catch (e) {
    fail("bundles", e);
  }
  try {
    const r = await unary("FetchJWTSVID", { audience: [audience] });
    const token = r.svids[0].svid;
    const v = await unary("ValidateJWTSVID", { audience, svid: token });
    const claims = v.claims.fields;
    print({
      step: "jwt",
      spiffe_id: r.svids[0].spiffe_id,
      validated: v.spiffe_id,
      claims: Object.keys(claims).sort(),
      aud: fromValue(claims.aud),
      exp: fromValue(claims.exp),
    });
    const wrong = await unary("ValidateJWTSVID", { audience: "other", svid: token }).then(
      () => 0,
      (e) => e.code,
    );
    print({ step: "jwt-wrong-audience", code: wrong });
  } catch (e) {
    fail("jwt", e);
  }
  const noheader = await new Promise((resolve) => {
    const call = client.FetchX509SVID({}, new grpc.Metadata());
    call.on("data", () => resolve(0));
    call.on("error", (e) => resolve({ code: e.code, details: e.details }));
  });
  print({ step: "noheader", ...noheader });
  if (watch > 0) {
    print({ step: "waiting" });
    return;
  }
  stream.cancel();
  process.exit(0);
}
main();
