// The Workload API server in-process, with a grpc-js client in Bun and a scripted identity
// source: the error codes the SPIFFE Workload Endpoint spec asks for, the per-process stream
// limit, push on rotation, a stream ended when the caller loses its identity, clean shutdown.

import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import {
  PermissionDeniedError,
  startWorkloadApi,
  UnavailableError,
  type WorkloadApiServer,
  type WorkloadIdentitySource,
} from "../../../src/agent/workload-api/index.ts";

const id = (b: Buffer) => b;
const def = (name: string, stream: boolean) => ({
  path: `/SpiffeWorkloadAPI/${name}`,
  requestStream: false,
  responseStream: stream,
  requestSerialize: id,
  requestDeserialize: id,
  responseSerialize: id,
  responseDeserialize: id,
});
const Client = grpc.makeGenericClientConstructor(
  {
    FetchX509SVID: def("FetchX509SVID", true),
    FetchJWTSVID: def("FetchJWTSVID", false),
    ValidateJWTSVID: def("ValidateJWTSVID", false),
    FetchWITSVID: def("FetchWITSVID", true),
    FetchX509Bundles: def("FetchX509Bundles", true),
  },
  "SpiffeWorkloadAPI",
);
type Raw = grpc.Client & Record<string, (...a: unknown[]) => unknown>;

function md(): grpc.Metadata {
  const m = new grpc.Metadata();
  m.set("workload.spiffe.io", "true");
  return m;
}

class Source implements WorkloadIdentitySource {
  ids: string[] = ["spiffe://td/a"];
  fail: Error | null = null;
  listeners = new Set<() => void>();
  n = 0;
  async identities() {
    if (this.fail) throw this.fail;
    return this.ids;
  }
  async x509Svids() {
    this.n++;
    return this.ids.map((spiffeId) => ({
      spiffeId,
      chain: [Uint8Array.of(0x30, 1, this.n)],
      key: Uint8Array.of(1),
    }));
  }
  async jwtSvids() {
    return [];
  }
  bundles() {
    return { x509: new Map([["td", [Uint8Array.of(2)]]]), jwt: new Map() };
  }
  onRotate(l: () => void) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  rotate() {
    for (const l of this.listeners) l();
  }
}

let dir = "";
let server: WorkloadApiServer | null = null;
let client: Raw | null = null;
afterEach(async () => {
  client?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  server = null;
  client = null;
});

async function setup(source: Source, maxStreamsPerPeer?: number) {
  dir = mkdtempSync(join(tmpdir(), "wlapi-srv-"));
  const path = join(dir, "sub", "api.sock");
  server = await startWorkloadApi({ listen: `unix://${path}`, source, maxStreamsPerPeer });
  client = new Client(`unix://${path}`, grpc.credentials.createInsecure()) as unknown as Raw;
  return { path, c: client };
}

const unary = (c: Raw, m: string, body: Buffer, meta = md()) =>
  new Promise<{ code: number; details?: string; res?: Buffer }>((resolve) => {
    c[m]?.(body, meta, (e: grpc.ServiceError | null, res: Buffer) =>
      resolve(e ? { code: e.code, details: e.details } : { code: 0, res }),
    );
  });

function stream(c: Raw, m = "FetchX509SVID", meta = md()) {
  const call = c[m]?.(Buffer.alloc(0), meta) as grpc.ClientReadableStream<Buffer>;
  const msgs: Buffer[] = [];
  let end: { code: number; details: string } | null = null;
  call.on("data", (d: Buffer) => msgs.push(d));
  call.on("error", (e: grpc.ServiceError) => {
    end = { code: e.code, details: e.details };
  });
  const until = async (pred: () => boolean) => {
    for (let i = 0; i < 200 && !pred(); i++) await Bun.sleep(20);
    expect(pred()).toBe(true);
  };
  return { call, msgs, end: () => end, until };
}

test("socket 0777 in a created directory; stale socket replaced; a regular file refused", async () => {
  const { path } = await setup(new Source());
  expect(statSync(path).mode & 0o777).toBe(0o777);
  await server?.close();
  server = null;
  const again = await startWorkloadApi({ listen: `unix://${path}`, source: new Source() });
  await again.close();
  await Bun.write(path, "x");
  await expect(startWorkloadApi({ listen: `unix://${path}`, source: new Source() })).rejects.toThrow(
    /not a socket/,
  );
});

test("error codes: no header 3, malformed body 3, empty audience 3, no identity 7, not ready 14, WIT 12", async () => {
  const src = new Source();
  const { c } = await setup(src);
  expect((await unary(c, "FetchJWTSVID", Buffer.from([0x0a, 1, 0x61]), new grpc.Metadata())).code).toBe(3);
  const wrongValue = new grpc.Metadata();
  wrongValue.set("workload.spiffe.io", "True");
  expect((await unary(c, "FetchJWTSVID", Buffer.from([0x0a, 1, 0x61]), wrongValue)).code).toBe(3);
  expect((await unary(c, "FetchJWTSVID", Buffer.from([0x0a, 9, 0x61]))).code).toBe(3);
  expect((await unary(c, "FetchJWTSVID", Buffer.alloc(0))).details).toContain("audience");
  // A source with no JWT-SVID for the caller: PermissionDenied.
  expect((await unary(c, "FetchJWTSVID", Buffer.from([0x0a, 1, 0x61]))).code).toBe(7);
  expect(
    (await unary(c, "ValidateJWTSVID", Buffer.from([0x0a, 1, 0x61, 0x12, 3, 0x61, 0x2e, 0x62]))).code,
  ).toBe(3);
  src.ids = [];
  const denied = await unary(c, "FetchJWTSVID", Buffer.from([0x0a, 1, 0x61]));
  expect(denied.code).toBe(7);
  expect(denied.details).toContain(`uid ${process.getuid?.()}`);
  src.fail = new PermissionDeniedError("rules say no");
  expect(await unary(c, "FetchJWTSVID", Buffer.from([0x0a, 1, 0x61]))).toEqual({
    code: 7,
    details: "rules say no",
  });
  src.fail = new UnavailableError("not issued yet");
  expect((await unary(c, "FetchJWTSVID", Buffer.from([0x0a, 1, 0x61]))).code).toBe(14);
  src.fail = new Error("boom: secret-ish detail");
  expect(await unary(c, "FetchJWTSVID", Buffer.from([0x0a, 1, 0x61]))).toEqual({
    code: 13,
    details: "internal error",
  });
  const wit = stream(c, "FetchWITSVID");
  await wit.until(() => wit.end() !== null);
  expect(wit.end()?.code).toBe(12);
});

test("stream: first message at once, the full set again on each rotation, PermissionDenied when the identity goes", async () => {
  const src = new Source();
  const { c } = await setup(src);
  const s = stream(c);
  await s.until(() => s.msgs.length === 1);
  src.ids = ["spiffe://td/a", "spiffe://td/b"];
  src.rotate();
  await s.until(() => s.msgs.length === 2);
  expect(s.msgs[1]?.toString("latin1")).toContain("spiffe://td/b");
  expect(s.msgs[1]?.toString("latin1")).toContain("spiffe://td/a");
  expect(server?.openStreams()).toBe(1);
  src.ids = [];
  src.rotate();
  await s.until(() => s.end() !== null);
  expect(s.end()?.code).toBe(7);
  await Bun.sleep(50);
  expect(server?.openStreams()).toBe(0);
  expect(src.listeners.size).toBe(0);
});

test("bundles streams push only when the bundles changed", async () => {
  const src = new Source();
  let ca = Uint8Array.of(2);
  src.bundles = () => ({ x509: new Map([["td", [ca]]]), jwt: new Map() });
  const { c } = await setup(src);
  const s = stream(c, "FetchX509Bundles");
  const x = stream(c);
  await s.until(() => s.msgs.length === 1 && x.msgs.length === 1);
  src.rotate(); // SVIDs renewed, bundles the same
  await x.until(() => x.msgs.length === 2);
  await Bun.sleep(100);
  expect(s.msgs.length).toBe(1);
  ca = Uint8Array.of(3);
  src.rotate();
  await s.until(() => s.msgs.length === 2);
  expect(s.msgs[1]?.at(-1)).toBe(3);
});

test("at most maxStreamsPerPeer open streams per process: ResourceExhausted, freed on cancel", async () => {
  const src = new Source();
  const { c } = await setup(src, 2);
  const a = stream(c);
  const b = stream(c);
  await a.until(() => a.msgs.length === 1 && b.msgs.length === 1);
  const third = stream(c);
  await third.until(() => third.end() !== null);
  expect(third.end()?.code).toBe(8);
  a.call.cancel();
  await Bun.sleep(100);
  const fourth = stream(c);
  await fourth.until(() => fourth.msgs.length === 1);
  expect(server?.openStreams()).toBe(2);
});

test("close(): open streams end with Unavailable, the socket file goes", async () => {
  const { c, path } = await setup(new Source());
  const s = stream(c);
  await s.until(() => s.msgs.length === 1);
  await server?.close();
  server = null;
  await s.until(() => s.end() !== null);
  expect(s.end()?.code).toBe(14);
  expect(() => statSync(path)).toThrow();
});
