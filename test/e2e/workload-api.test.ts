// The SPIFFE Workload API module (src/agent/workload-api) against two independent client stacks:
// Node 20 + @grpc/grpc-js (run with /usr/bin/node) and Debian's python3-grpcio (gRPC C-core, run
// with /usr/bin/python3). The server is test/harness/workload-api.ts (the real module fed by a
// test CA) in its own Bun process; the clients run as root and as users this file creates, so
// the unix attestor's uid decides the SPIFFE ID. One case runs the harness compiled with
// `bun build --compile` (the flags of scripts/build.ts).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Subprocess, spawn, spawnSync } from "bun";
import { Lines } from "../harness/workload-api.ts";
import { dirsOwnedBy, localUsers, NODE, runWorkloadClient, type Step } from "../harness/workload-client.ts";

const root = join(import.meta.dir, "..", "..");
const harness = join(root, "test/harness/workload-api.ts");

const uids = localUsers(["wlapi-a", "wlapi-b", "wlapi-c"]);
let work = "";

interface Harness {
  proc: Subprocess<"pipe", "pipe", "pipe">;
  out: Lines;
  socket: string;
  send(cmd: string): void;
  stop(): Promise<void>;
}

async function startHarness(cmd: string[], socket: string, rules: string[]): Promise<Harness> {
  const proc = spawn([...cmd, "--socket", socket, ...rules.flatMap((r) => ["--rule", r])], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    cwd: root,
  });
  const out = new Lines(proc.stdout);
  await out.waitFor((l) => l.startsWith("READY"), 30_000);
  return {
    proc,
    out,
    socket,
    send(c: string) {
      proc.stdin.write(`${c}\n`);
      proc.stdin.flush();
    },
    async stop() {
      try {
        proc.stdin.write("quit\n");
        proc.stdin.flush();
      } catch {}
      const t = setTimeout(() => proc.kill(), 5000);
      await proc.exited;
      clearTimeout(t);
    },
  };
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "wlapi-e2e-"));
  chmodSync(work, 0o755);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function rules(): string[] {
  const a = uids["wlapi-a"];
  const b = uids["wlapi-b"];
  return [
    "workload.unix.uid=0:/svc/root",
    `workload.unix.uid=${a}:/svc/uid-{{workload.unix.uid}}`,
    `workload.unix.uid=${b}:/svc/uid-{{workload.unix.uid}}`,
    // Only for uid b running /usr/bin/node (binary path and SHA-256 from /proc/<pid>/exe).
    `workload.unix.uid=${b},workload.unix.binary_hash=${sha256(realpathSync(NODE))}:/bin/node`,
  ];
}

function expectFullFlow(steps: Step[], spiffeId: string): void {
  const by = (n: string) => steps.find((s) => s.step === n) as Step;
  expect(by("x509").error).toBeUndefined();
  expect(by("x509").spiffe_ids).toEqual([spiffeId]);
  expect(by("x509").ms as number).toBeLessThan(5000);
  expect(by("bundles").x509).toEqual(["spiffe://example.org"]);
  expect(by("bundles").jwt).toEqual(["spiffe://example.org"]);
  expect(by("jwt").spiffe_id).toBe(spiffeId);
  expect(by("jwt").validated).toBe(spiffeId);
  expect(by("jwt").aud).toEqual(["test-audience"]);
  expect(by("jwt").claims).toEqual(["aud", "exp", "iat", "sub"]);
  expect(by("jwt-wrong-audience").code).toBe(3);
  expect(by("noheader").code).toBe(3); // InvalidArgument
  expect(String(by("noheader").details)).toContain("security header");
}

function opensslVerify(dir: string): string {
  const r = spawnSync(["openssl", "verify", "-CAfile", join(dir, "bundle.pem"), join(dir, "svid.pem")]);
  return r.stdout.toString().trim() + r.stderr.toString().trim();
}

describe("Workload API: two client stacks", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness([process.execPath, harness], join(work, "run", "workload.sock"), rules());
  });
  afterAll(async () => {
    await h?.stop();
  });

  test("socket file is 0777 (attestation, not the mode, decides)", () => {
    const st = spawnSync(["stat", "-c", "%a %F", h.socket]).stdout.toString().trim();
    expect(st).toBe("777 socket");
  });

  for (const stack of ["node", "python"] as const) {
    test(`${stack}: X.509 SVID, bundles, JWT fetch+validate, no header → InvalidArgument, rotation pushed on the open stream`, async () => {
      const out = join(work, `out-${stack}`);
      const c = runWorkloadClient(stack, h.socket, { out, watch: 1 });
      const first = await c.step("x509");
      await c.step("waiting");
      h.send("rotate");
      const rotatedAt = Number((await h.out.waitFor((l) => l.startsWith("ROTATED"))).split(" ")[1]);
      h.out.lines.splice(0); // the next rotation's line is looked for afresh
      const steps = await c.done();
      expectFullFlow(steps, "spiffe://example.org/svc/root");
      const upd = steps.find((s) => s.step === "update") as Step;
      expect(upd.error).toBeUndefined();
      expect(upd.spiffe_ids).toEqual(["spiffe://example.org/svc/root"]);
      expect(upd.serial).not.toBe(first.serial);
      expect((upd.t as number) - rotatedAt).toBeLessThan(2000);
      expect(opensslVerify(out)).toContain(": OK");
    });
  }

  test("two uids, one socket: each its own SPIFFE ID from the workload.unix.uid template; the binary_hash rule adds one for node only", async () => {
    const a = uids["wlapi-a"];
    const b = uids["wlapi-b"];
    const outA = join(work, "out-a");
    const outB = join(work, "out-b");
    dirsOwnedBy([
      [outA, a!],
      [outB, b!],
    ]);
    const [na, pb, nb] = await Promise.all([
      runWorkloadClient("node", h.socket, { uid: uids["wlapi-a"], out: outA }).done(),
      runWorkloadClient("python", h.socket, { uid: uids["wlapi-b"], out: outB }).done(),
      runWorkloadClient("node", h.socket, { uid: uids["wlapi-b"] }).done(),
    ]);
    expectFullFlow(na, `spiffe://example.org/svc/uid-${a}`);
    expectFullFlow(pb, `spiffe://example.org/svc/uid-${b}`);
    expect(nb.find((s) => s.step === "x509")?.spiffe_ids).toEqual([
      `spiffe://example.org/svc/uid-${b}`,
      "spiffe://example.org/bin/node",
    ]);
    expect(opensslVerify(outA)).toContain(": OK");
    expect(opensslVerify(outB)).toContain(": OK");
  });

  for (const stack of ["node", "python"] as const) {
    test(`${stack}: a uid no rule allows gets PermissionDenied`, async () => {
      const steps = await runWorkloadClient(stack, h.socket, { uid: uids["wlapi-c"] }).done();
      const x = steps.find((s) => s.step === "x509") as Step;
      expect(x.error).toBe(true);
      expect(x.code).toBe(7);
      expect(String(x.details)).toContain(`uid ${uids["wlapi-c"]}`);
    });
  }
});

describe("Workload API: shutdown and the compiled binary", () => {
  test("shutdown ends an open stream with Unavailable and removes the socket", async () => {
    const socket = join(work, "shutdown", "api.sock");
    const h = await startHarness([process.execPath, harness], socket, ["workload.unix.uid=0:/svc/root"]);
    const c = runWorkloadClient("node", socket, { watch: 1 });
    await c.step("waiting");
    await h.stop();
    const steps = await c.done();
    const upd = steps.find((s) => s.step === "update") as Step;
    expect(upd.error).toBe(true);
    expect(upd.code).toBe(14);
    expect(spawnSync(["test", "-e", socket]).exitCode).toBe(1);
  });

  test("bun build --compile: grpc-js over node:http2, trailers and SO_PEERCRED work in the executable", async () => {
    const dir = join(work, "compiled");
    mkdirSync(dir, { recursive: true });
    const bin = join(dir, "wlapi-harness");
    const b = spawnSync(
      [
        process.execPath,
        "build",
        "--compile",
        "--bytecode",
        "--format=esm",
        "--minify-syntax",
        "--minify-whitespace",
        "--no-compile-autoload-dotenv",
        "--no-compile-autoload-bunfig",
        "--compile-exec-argv=--smol",
        harness,
        "--outfile",
        bin,
      ],
      { cwd: root },
    );
    expect(b.exitCode, b.stderr.toString()).toBe(0);
    const socket = join(dir, "api.sock");
    const h = await startHarness([bin], socket, [
      "workload.unix.uid=0:/svc/root",
      `workload.unix.uid=${uids["wlapi-a"]}:/svc/uid-{{workload.unix.uid}}`,
    ]);
    try {
      const c = runWorkloadClient("python", socket, { watch: 1 });
      await c.step("waiting");
      h.send("rotate");
      expectFullFlow(await c.done(), "spiffe://example.org/svc/root");
      const a = await runWorkloadClient("node", socket, { uid: uids["wlapi-a"] }).done();
      expect(a.find((s) => s.step === "x509")?.spiffe_ids).toEqual([
        `spiffe://example.org/svc/uid-${uids["wlapi-a"]}`,
      ]);
      const denied = await runWorkloadClient("node", socket, { uid: uids["wlapi-c"] }).done();
      expect(denied.find((s) => s.step === "x509")?.code).toBe(7);
    } finally {
      await h.stop();
    }
  }, 120_000);
});
