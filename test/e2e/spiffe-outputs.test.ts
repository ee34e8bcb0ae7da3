// The agent side of SPIFFE on the compiled binary (issue Part 10, points 2 and 3): tbot's
// workload-identity-x509 and workload-identity-jwt outputs (files verified with openssl and,
// for the JWT, with jose against the JWKS tauth publishes), and the workload-identity-api
// service: a tbot daemon serving the SPIFFE Workload API on a Unix socket to two independent
// client stacks (Node 20 + @grpc/grpc-js under /usr/bin/node; Debian python3-grpcio), run as
// users this file creates so that the unix attestor's uid decides the SPIFFE ID
// (`/svc/uid-{{ workload.unix.uid }}`), a renewal of tbot (SIGHUP) pushed on the open stream, and
// the refusals in one line each.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { type Subprocess, spawn, spawnSync } from "bun";
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import { tbotBin } from "../harness/binary.ts";
import { addBot, fileScope, writeText } from "../harness/extra.ts";
import { cleanupAfterFile, type RunResult, run, startProcess } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";
import { Lines } from "../harness/workload-api.ts";

cleanupAfterFile();
const scope = fileScope();

const root = join(import.meta.dir, "..", "..");
const nodeClient = join(root, "test/clients/node/workload-client.cjs");
const pyClient = join(root, "test/clients/python/workload_client.py");
const USERS = ["spiffe-wa", "spiffe-wb", "spiffe-wc"] as const;
const uids: Record<string, number> = {};
const TD = "spiffe.example";
const nodeHash = createHash("sha256")
  .update(readFileSync(realpathSync("/usr/bin/node")))
  .digest("hex");

type Step = Record<string, unknown> & { step: string };

let auth: TauthHandle;
let work: string;

function uidOf(name: string): number {
  const r = spawnSync(["id", "-u", name]);
  return r.exitCode === 0 ? Number(r.stdout.toString().trim()) : -1;
}

function tctlOk(args: string[]): string {
  const r = auth.tctl(args);
  if (r.code !== 0) throw new Error(`tctl ${args.join(" ")} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

const resources = () => `kind: role
version: v7
metadata: {name: svid-issuer}
spec:
  allow:
    workload_identity_labels: {env: prod}
---
kind: workload_identity
version: v1
metadata:
  name: files
  labels: {env: prod}
spec:
  spiffe:
    id: /bots/{{ user.bot_name }}/files
---
kind: workload_identity
version: v1
metadata:
  name: per-uid
  labels: {env: prod}
spec:
  rules:
    allow:
      - conditions:
          - attribute: workload.unix.uid
            in: {values: ["0", "${uids["spiffe-wa"]}", "${uids["spiffe-wb"]}"]}
  spiffe:
    id: /svc/uid-{{ workload.unix.uid }}
    hint: per-uid
---
kind: workload_identity
version: v1
metadata:
  name: short
  labels: {env: prod}
spec:
  spiffe:
    id: /short/uid-{{ workload.unix.uid }}
    x509: {maximum_ttl: 6s}
---
kind: workload_identity
version: v1
metadata:
  name: node-only
  labels: {env: prod}
spec:
  rules:
    allow:
      - conditions:
          - attribute: workload.unix.binary_hash
            eq: {value: "${nodeHash}"}
  spiffe:
    id: /bin/node
---
kind: workload_identity
version: v1
metadata:
  name: staging
  labels: {env: staging}
spec:
  spiffe: {id: /staging}
`;

beforeAll(async () => {
  for (const u of USERS) {
    if (uidOf(u) < 0) {
      const r = spawnSync(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", u]);
      if (r.exitCode !== 0) throw new Error(`useradd ${u}: ${r.stderr.toString()}`);
    }
    uids[u] = uidOf(u);
  }
  auth = await scope.tauth({ clusterName: "Spiffe.Example" });
  work = scope.tempDir("spiffe-outputs-");
  chmodSync(work, 0o755);
  tctlOk(["create", writeText(join(work, "resources.yaml"), resources())]);
}, 60_000);

afterAll(() => {
  for (const u of USERS) spawnSync(["userdel", u]);
});

let n = 0;
/** A tbot.yaml for a new bot (role svid-issuer) with these services (YAML lines). */
function config(services: string, o: { oneshot?: boolean } = {}): { path: string; bot: string } {
  const i = n++;
  const bot = `svid${i}`;
  const token = addBot(auth, bot, "svid-issuer");
  const path = writeText(
    join(work, `tbot-${i}.yaml`),
    `version: v2
auth_server: ${auth.addr}
onboarding:
  join_method: token
  token: ${token}
  ca_pins: [${auth.pin}]
storage:
  type: directory
  path: ${join(work, `data-${i}`)}
${o.oneshot === false ? "renewal_interval: 1h" : "oneshot: true"}
services:
${services
  .trim()
  .split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
`,
  );
  return { path, bot };
}

const start = (cfg: string): RunResult => run([tbotBin, "start", "-c", cfg]);
const openssl = (args: string[]) => {
  const r = run(["openssl", ...args]);
  return `${r.stdout}${r.stderr}`.trim();
};
const sanOf = (cert: string) =>
  openssl(["x509", "-in", cert, "-noout", "-ext", "subjectAltName"])
    .split("X509v3 Subject Alternative Name:")[1]!
    .replace(/^ critical/, "")
    .trim();

/** A one-shot that failed on an output: exit 1, one `ERROR: output failed: <name>: …` line. */
function outputFailed(r: RunResult, name: string): string {
  expect(r.code).toBe(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("ERROR: "));
  expect(errors).toHaveLength(1);
  expect(errors[0]!.startsWith(`ERROR: output failed: ${name}: `)).toBe(true);
  return errors[0]!;
}

describe("files: workload-identity-x509 and workload-identity-jwt", () => {
  test("one-shot: svid.pem verifies against svid_bundle.pem, SAN exactly the templated URI; jwt_svid verifies with jose against the published JWKS", async () => {
    const x = join(work, "x509");
    const j = join(work, "jwt");
    const { path, bot } = config(`
- type: workload-identity-x509
  destination: {type: directory, path: ${x}}
  selector: {name: files}
- type: workload-identity-jwt
  destination: {type: directory, path: ${j}}
  selector: {labels: {env: prod}}
  audiences: [https://api.example.test, other]
`);
    const r = start(path);
    expect(r.code, r.stderr).toBe(0);
    expect(
      readdirSync(x)
        .filter((f) => !f.startsWith("."))
        .sort(),
    ).toEqual(["svid.pem", "svid_bundle.pem", "svid_key.pem"]);
    expect(openssl(["verify", "-CAfile", join(x, "svid_bundle.pem"), join(x, "svid.pem")])).toBe(
      `${join(x, "svid.pem")}: OK`,
    );
    expect(sanOf(join(x, "svid.pem"))).toBe(`URI:spiffe://${TD}/bots/${bot}/files`);
    expect(readFileSync(join(x, "svid_bundle.pem"), "utf8").trim()).toBe(
      tctlOk(["auth", "export", "--type=spiffe"]).trim(),
    );
    // The key is PKCS#8 and the certificate's.
    expect(readFileSync(join(x, "svid_key.pem"), "utf8")).toStartWith("-----BEGIN PRIVATE KEY-----\n");
    const pub = (args: string[]) => openssl(args);
    expect(pub(["pkey", "-in", join(x, "svid_key.pem"), "-pubout"])).toBe(
      pub(["x509", "-in", join(x, "svid.pem"), "-noout", "-pubkey"]),
    );

    // The JWT: labels env=prod match `files` (issued) and `per-uid` (no workload: skipped),
    // so jwt_svid is the `files` identity's.
    expect(readdirSync(j).filter((f) => !f.startsWith("."))).toEqual(["jwt_svid"]);
    const token = readFileSync(join(j, "jwt_svid"), "utf8");
    const res = await fetch(`https://${auth.addr}/v1/spiffe/jwks.json`, {
      tls: { ca: tctlOk(["auth", "export", "--type=tls-host"]) },
    } as RequestInit);
    const jwks = (await res.json()) as JSONWebKeySet;
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
      audience: "https://api.example.test",
    });
    expect(payload.sub).toBe(`spiffe://${TD}/bots/${bot}/files`);
    expect(payload.aud).toEqual(["https://api.example.test", "other"]);
    await expect(jwtVerify(token, createLocalJWKSet(jwks), { audience: "nope" })).rejects.toThrow();
  });

  test("tbot start workload-identity-x509 --name-selector (one-shot, flags only)", () => {
    const dest = join(work, "x509-flags");
    const token = addBot(auth, `svid${n++}`, "svid-issuer");
    const r = run([
      tbotBin,
      "start",
      "workload-identity-x509",
      ...["--oneshot", "--auth-server", auth.addr, "--join-method", "token", "--token", token],
      ...["--ca-pin", auth.pin, "--storage", "memory://", "--destination", dest, "--name-selector", "files"],
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(openssl(["verify", "-CAfile", join(dest, "svid_bundle.pem"), join(dest, "svid.pem")])).toContain(
      ": OK",
    );
  });

  test("refusals in one line: an identity the roles do not grant; a template needing a workload attribute; a bad SPIFFE path at tctl create", () => {
    const notGranted = config(`
- type: workload-identity-x509
  destination: {type: directory, path: ${join(work, "refused-1")}}
  selector: {name: staging}
`);
    expect(outputFailed(start(notGranted.path), "workload-identity-x509-1")).toEndWith(
      `: bot "${notGranted.bot}": no role grants workload_identity "staging" (labels {env: staging}): add workload_identity_labels that match it to one of the bot's roles`,
    );
    expect(existsSync(join(work, "refused-1", "svid.pem"))).toBe(false);
    const missing = config(`
- type: workload-identity-jwt
  destination: {type: directory, path: ${join(work, "refused-2")}}
  selector: {name: per-uid}
  audiences: [a]
`);
    // per-uid's rule needs workload.unix.uid too: a file output has no workload.
    expect(outputFailed(start(missing.path), "workload-identity-jwt-1")).toContain(
      `: bot "${missing.bot}": workload identity "per-uid": `,
    );
    const tmpl = writeText(
      join(work, "tmpl.yaml"),
      "kind: workload_identity\nversion: v1\nmetadata: {name: tmpl, labels: {env: prod}}\nspec:\n  spiffe: {id: '/u/{{ workload.unix.uid }}'}\n",
    );
    tctlOk(["create", tmpl]);
    const tm = config(`
- type: workload-identity-x509
  destination: {type: directory, path: ${join(work, "refused-3")}}
  selector: {name: tmpl}
`);
    expect(outputFailed(start(tm.path), "workload-identity-x509-1")).toEndWith(
      `: bot "${tm.bot}": workload identity "tmpl": template {{ workload.unix.uid }} needs attribute workload.unix.uid, which the workload did not provide`,
    );
    tctlOk(["rm", "workload_identity/tmpl"]);
    const bad = writeText(
      join(work, "bad.yaml"),
      'kind: workload_identity\nversion: v1\nmetadata: {name: bad}\nspec:\n  spiffe: {id: "/a/../b"}\n',
    );
    const r = auth.tctl(["create", bad]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `ERROR: ${bad}:5:16: spec.spiffe.id: SPIFFE ID path "/a/../b" has a ".." segment`,
    );
    // The API service in one-shot: refused at start, one line.
    const os = config(`
- type: workload-identity-api
  listen: unix://${join(work, "never.sock")}
  selector: {name: per-uid}
`);
    const o = start(os.path);
    expect(o.code).toBe(1);
    expect(o.stderr.trim().split("\n")).toHaveLength(1);
    expect(o.stderr).toContain(
      "services[0] (workload-identity-api) runs continuously and cannot be used with oneshot",
    );
  });
});

interface ClientRun {
  out: Lines;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  step(name: string): Promise<Step>;
  done(): Promise<Step[]>;
}

function runClient(
  stack: "node" | "python",
  socket: string,
  opts: { user?: string; out?: string; watch?: number } = {},
): ClientRun {
  const base =
    stack === "node"
      ? ["/usr/bin/node", nodeClient, "--socket", socket]
      : ["/usr/bin/python3", pyClient, "--socket", socket];
  if (opts.out) base.push("--out", opts.out);
  if (opts.watch) base.push("--watch", String(opts.watch));
  const cmd = opts.user
    ? ["setpriv", `--reuid=${uids[opts.user]}`, `--regid=${uids[opts.user]}`, "--clear-groups", ...base]
    : base;
  const proc = spawn(cmd, {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    cwd: "/",
    env: { PATH: "/usr/bin:/bin", HOME: "/tmp" },
  });
  const out = new Lines(proc.stdout);
  const steps = () => out.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Step);
  return {
    out,
    proc,
    async step(name: string) {
      const l = await out.waitFor((x) => x.startsWith("{") && (JSON.parse(x) as Step).step === name, 20_000);
      return JSON.parse(l) as Step;
    },
    async done() {
      const code = await proc.exited;
      if (code !== 0) {
        const err = await new Response(proc.stderr).text();
        throw new Error(`${stack} client exited ${code}: ${err}\n${out.lines.join("\n")}`);
      }
      await Bun.sleep(50);
      return steps();
    },
  };
}

function expectFullFlow(steps: Step[], spiffeId: string): void {
  const by = (name: string) => steps.find((s) => s.step === name) as Step;
  expect(by("x509").error, JSON.stringify(by("x509"))).toBeUndefined();
  expect(by("x509").spiffe_ids).toEqual([spiffeId]);
  expect(by("bundles").x509).toEqual([`spiffe://${TD}`]);
  expect(by("bundles").jwt).toEqual([`spiffe://${TD}`]);
  expect(by("jwt").spiffe_id).toBe(spiffeId);
  expect(by("jwt").validated).toBe(spiffeId);
  // tauth writes a single audience as a string (RFC 7519 allows both).
  expect(by("jwt").aud).toBe("test-audience");
  expect(by("jwt-wrong-audience").code).toBe(3);
  expect(by("noheader").code).toBe(3); // InvalidArgument
  expect(String(by("noheader").details)).toContain("security header");
}

const verifyOut = (dir: string) =>
  openssl(["verify", "-CAfile", join(dir, "bundle.pem"), join(dir, "svid.pem")]);

describe("workload-identity-api: a tbot daemon serving the Workload API", () => {
  let bot: ReturnType<typeof startProcess>;
  let socket: string;

  beforeAll(async () => {
    socket = join(work, "run", "workload.sock");
    const { path } = config(
      `
- type: workload-identity-api
  listen: unix://${socket}
  selector: {name: per-uid}
  attestors:
    unix: {}
`,
      { oneshot: false },
    );
    bot = scope.proc(startProcess([tbotBin, "start", "-c", path]));
    await bot.waitFor(/Workload API listening/, 30_000);
  }, 60_000);

  afterAll(async () => {
    if (bot) {
      expect(await bot.stop("SIGTERM")).toBe(0);
      expect(existsSync(socket)).toBe(false); // the socket is removed at shutdown
    }
  });

  for (const stack of ["node", "python"] as const) {
    test(`${stack}: X.509 SVID + bundles, JWT fetch+validate, no header → InvalidArgument; a tbot renewal (SIGHUP) pushes a new SVID on the open stream`, async () => {
      const out = join(work, `api-${stack}`);
      const c = runClient(stack, socket, { out, watch: 1 });
      const first = await c.step("x509");
      await c.step("waiting");
      const before = bot.output().length;
      process.kill(bot.pid, "SIGHUP");
      const steps = await c.done();
      expectFullFlow(steps, `spiffe://${TD}/svc/uid-0`);
      const upd = steps.find((s) => s.step === "update") as Step;
      expect(upd.error, JSON.stringify(upd)).toBeUndefined();
      expect(upd.spiffe_ids).toEqual([`spiffe://${TD}/svc/uid-0`]);
      expect(upd.serial).not.toBe(first.serial);
      expect(bot.output().slice(before)).toContain("Renewed bot identity");
      expect(verifyOut(out)).toBe(`${join(out, "svid.pem")}: OK`);
      expect(sanOf(join(out, "svid.pem"))).toBe(`URI:spiffe://${TD}/svc/uid-0`);
    }, 60_000);
  }

  test("two uids, one socket: each its own SPIFFE ID from the workload.unix.uid template (Node as one, Python as the other)", async () => {
    const a = uids["spiffe-wa"]!;
    const b = uids["spiffe-wb"]!;
    const outA = join(work, "api-a");
    const outB = join(work, "api-b");
    for (const [d, u] of [
      [outA, a],
      [outB, b],
    ] as const) {
      mkdirSync(d, { recursive: true });
      spawnSync(["chown", `${u}:${u}`, d]);
    }
    const [na, pb] = await Promise.all([
      runClient("node", socket, { user: "spiffe-wa", out: outA }).done(),
      runClient("python", socket, { user: "spiffe-wb", out: outB }).done(),
    ]);
    expectFullFlow(na, `spiffe://${TD}/svc/uid-${a}`);
    expectFullFlow(pb, `spiffe://${TD}/svc/uid-${b}`);
    expect(verifyOut(outA)).toContain(": OK");
    expect(sanOf(join(outA, "svid.pem"))).toBe(`URI:spiffe://${TD}/svc/uid-${a}`);
    expect(sanOf(join(outB, "svid.pem"))).toBe(`URI:spiffe://${TD}/svc/uid-${b}`);
  }, 60_000);

  for (const stack of ["node", "python"] as const) {
    test(`${stack}: a uid the rules do not allow gets PermissionDenied with tauth's reason`, async () => {
      const steps = await runClient(stack, socket, { user: "spiffe-wc" }).done();
      const x = steps.find((s) => s.step === "x509") as Step;
      expect(x.error).toBe(true);
      expect(x.code).toBe(7);
      expect(String(x.details)).toContain(
        `workload identity "per-uid": no allow rule matched (rule 1: workload.unix.uid is "${uids["spiffe-wc"]}", not one of`,
      );
    }, 30_000);
  }
});

describe("workload-identity-api: SVIDs renewed before they expire", () => {
  test("an identity with x509.maximum_ttl 6s: the open stream gets a new SVID before each expires, with no renewal of the bot", async () => {
    const socket = join(work, "short", "workload.sock");
    const { path } = config(
      `
- type: workload-identity-api
  listen: unix://${socket}
  selector: {name: short}
`,
      { oneshot: false },
    );
    const bot = scope.proc(startProcess([tbotBin, "start", "-c", path]));
    try {
      await bot.waitFor(/Workload API listening/, 30_000);
      const c = runClient("node", socket, { watch: 2 });
      const first = await c.step("x509");
      const t0 = Date.now();
      const steps = await c.done();
      const updates = steps.filter((s) => s.step === "update");
      expect(updates.map((u) => u.error)).toEqual([undefined, undefined]);
      expect(new Set([first.serial, ...updates.map((u) => u.serial)]).size).toBe(3);
      // Renewed at 60% of the 6s life: each update well before the previous SVID's end.
      expect((updates[0]!.t as number) - t0).toBeLessThan(6000);
      expect((updates[1]!.t as number) - (updates[0]!.t as number)).toBeLessThan(6000);
      expect(bot.output()).not.toContain("Renewed bot identity");
    } finally {
      expect(await bot.stop("SIGTERM")).toBe(0);
    }
  }, 60_000);
});

describe("workload-identity-api: a rule on workload.unix.binary_hash", () => {
  test("only /usr/bin/node gets the identity; python3 gets PermissionDenied naming the attribute", async () => {
    const socket = join(work, "hash", "workload.sock");
    const { path } = config(
      `
- type: workload-identity-api
  listen: unix://${socket}
  selector: {name: node-only}
`,
      { oneshot: false },
    );
    const bot = scope.proc(startProcess([tbotBin, "start", "-c", path]));
    try {
      await bot.waitFor(/Workload API listening/, 30_000);
      const node = await runClient("node", socket).done();
      expectFullFlow(node, `spiffe://${TD}/bin/node`);
      const py = await runClient("python", socket).done();
      const x = py.find((s) => s.step === "x509") as Step;
      expect(x.code).toBe(7);
      expect(String(x.details)).toContain("workload.unix.binary_hash is ");
    } finally {
      expect(await bot.stop("SIGTERM")).toBe(0);
    }
  }, 60_000);
});

describe("tbot start workload-identity-api from flags", () => {
  test("--listen --name-selector: a daemon serving the Workload API; the Python client gets its SVID", async () => {
    const socket = join(work, "flags", "workload.sock");
    const token = addBot(auth, `svid${n++}`, "svid-issuer");
    const bot = scope.proc(
      startProcess([
        tbotBin,
        "start",
        "workload-identity-api",
        ...["--auth-server", auth.addr, "--join-method", "token", "--token", token, "--ca-pin", auth.pin],
        ...["--storage", "memory://", "--listen", `unix://${socket}`, "--name-selector", "per-uid"],
      ]),
    );
    try {
      await bot.waitFor(/Workload API listening/, 30_000);
      expectFullFlow(await runClient("python", socket).done(), `spiffe://${TD}/svc/uid-0`);
    } finally {
      expect(await bot.stop("SIGTERM")).toBe(0);
    }
    expect(existsSync(socket)).toBe(false);
  }, 60_000);
});
