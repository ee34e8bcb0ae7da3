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
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import { tbotBin } from "../harness/binary.ts";
import { fileScope, outputFailed, tauthAndWorkDir, tctlOk, writeText, yamlDocs } from "../harness/extra.ts";
import { cleanupAfterFile, type RunResult, run, startProcess } from "../harness/proc.ts";
import { STAGING_WORKLOAD_IDENTITY, SVID_ISSUER_ROLE } from "../harness/spiffe.ts";
import type { TauthHandle } from "../harness/tauth.ts";
import { type TokenBots, tokenBots } from "../harness/tbot-config.ts";
import { dirsOwnedBy, localUsers, NODE, runWorkloadClient, type Step } from "../harness/workload-client.ts";

cleanupAfterFile();
const scope = fileScope();

const uids = localUsers(["spiffe-wa", "spiffe-wb", "spiffe-wc"]);
const TD = "spiffe.example";
const nodeHash = createHash("sha256")
  .update(readFileSync(realpathSync(NODE)))
  .digest("hex");

let auth: TauthHandle;
let work: string;
let bots: TokenBots;

const resources = () =>
  yamlDocs(
    SVID_ISSUER_ROLE,
    `kind: workload_identity
version: v1
metadata:
  name: files
  labels: {env: prod}
spec:
  spiffe:
    id: /bots/{{ user.bot_name }}/files
`,
    `kind: workload_identity
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
`,
    `kind: workload_identity
version: v1
metadata:
  name: short
  labels: {env: prod}
spec:
  spiffe:
    id: /short/uid-{{ workload.unix.uid }}
    x509: {maximum_ttl: 6s}
`,
    `kind: workload_identity
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
`,
    STAGING_WORKLOAD_IDENTITY,
  );

beforeAll(async () => {
  ({ auth, work } = await tauthAndWorkDir(scope, {
    prefix: "spiffe-outputs-",
    resources: resources(),
    tauth: { clusterName: "Spiffe.Example" },
    worldReadable: true,
  }));
  bots = tokenBots(auth, work, "svid", "svid-issuer");
}, 60_000);

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

describe("files: workload-identity-x509 and workload-identity-jwt", () => {
  test("one-shot: svid.pem verifies against svid_bundle.pem, SAN exactly the templated URI; jwt_svid verifies with jose against the published JWKS", async () => {
    const x = join(work, "x509");
    const j = join(work, "jwt");
    const { path, bot } = bots.config(`
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
      tctlOk(auth, ["auth", "export", "--type=spiffe"]).trim(),
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
      tls: { ca: tctlOk(auth, ["auth", "export", "--type=tls-host"]) },
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
    const r = run([
      tbotBin,
      "start",
      "workload-identity-x509",
      ...bots.startFlags(),
      ...["--destination", dest, "--name-selector", "files"],
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(openssl(["verify", "-CAfile", join(dest, "svid_bundle.pem"), join(dest, "svid.pem")])).toContain(
      ": OK",
    );
  });

  test("refusals in one line: an identity the roles do not grant; a template needing a workload attribute; a bad SPIFFE path at tctl create", () => {
    const notGranted = bots.config(`
- type: workload-identity-x509
  destination: {type: directory, path: ${join(work, "refused-1")}}
  selector: {name: staging}
`);
    expect(outputFailed(start(notGranted.path), "workload-identity-x509-1")).toEndWith(
      `: bot "${notGranted.bot}": no role grants workload_identity "staging" (labels {env: staging}): add workload_identity_labels that match it to one of the bot's roles`,
    );
    expect(existsSync(join(work, "refused-1", "svid.pem"))).toBe(false);
    const missing = bots.config(`
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
    tctlOk(auth, ["create", tmpl]);
    const tm = bots.config(`
- type: workload-identity-x509
  destination: {type: directory, path: ${join(work, "refused-3")}}
  selector: {name: tmpl}
`);
    expect(outputFailed(start(tm.path), "workload-identity-x509-1")).toEndWith(
      `: bot "${tm.bot}": workload identity "tmpl": template {{ workload.unix.uid }} needs attribute workload.unix.uid, which the workload did not provide`,
    );
    tctlOk(auth, ["rm", "workload_identity/tmpl"]);
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
    const os = bots.config(`
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
    const { path } = bots.config(
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
      const c = runWorkloadClient(stack, socket, { out, watch: 1 });
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
    dirsOwnedBy([
      [outA, a],
      [outB, b],
    ]);
    const [na, pb] = await Promise.all([
      runWorkloadClient("node", socket, { uid: uids["spiffe-wa"], out: outA }).done(),
      runWorkloadClient("python", socket, { uid: uids["spiffe-wb"], out: outB }).done(),
    ]);
    expectFullFlow(na, `spiffe://${TD}/svc/uid-${a}`);
    expectFullFlow(pb, `spiffe://${TD}/svc/uid-${b}`);
    expect(verifyOut(outA)).toContain(": OK");
    expect(sanOf(join(outA, "svid.pem"))).toBe(`URI:spiffe://${TD}/svc/uid-${a}`);
    expect(sanOf(join(outB, "svid.pem"))).toBe(`URI:spiffe://${TD}/svc/uid-${b}`);
  }, 60_000);

  test("processes of one uid share one issuance: per-uid reads only workload.unix.uid", async () => {
    const a = uids["spiffe-wa"]!;
    const issued = () =>
      auth
        .auditLog()
        .filter(
          (e) =>
            e.event === "spiffe.svid.issued" &&
            e.kind === "x509" &&
            e.spiffe_id === `spiffe://${TD}/svc/uid-${a}`,
        ).length;
    const before = issued();
    const steps = await Promise.all(
      [1, 2, 3].map(() => runWorkloadClient("node", socket, { uid: a }).done()),
    );
    const x509 = steps.map((st) => st.find((x) => x.step === "x509") as Step);
    for (const x of x509) expect(x.spiffe_ids).toEqual([`spiffe://${TD}/svc/uid-${a}`]);
    // Three processes, one SVID: the same certificate for each, and at most one issuance (none
    // if the uid's answer was still fresh from the test before).
    expect(new Set(x509.map((x) => x.serial)).size).toBe(1);
    expect(issued() - before).toBeLessThanOrEqual(1);
  }, 60_000);

  for (const stack of ["node", "python"] as const) {
    test(`${stack}: a uid the rules do not allow gets PermissionDenied with tauth's reason`, async () => {
      const steps = await runWorkloadClient(stack, socket, { uid: uids["spiffe-wc"] }).done();
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
    const { path } = bots.config(
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
      const c = runWorkloadClient("node", socket, { watch: 2 });
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
    const { path } = bots.config(
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
      const node = await runWorkloadClient("node", socket).done();
      expectFullFlow(node, `spiffe://${TD}/bin/node`);
      const py = await runWorkloadClient("python", socket).done();
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
    const bot = scope.proc(
      startProcess([
        tbotBin,
        "start",
        "workload-identity-api",
        ...bots.startFlags({ oneshot: false }),
        ...["--listen", `unix://${socket}`, "--name-selector", "per-uid"],
      ]),
    );
    try {
      await bot.waitFor(/Workload API listening/, 30_000);
      expectFullFlow(await runWorkloadClient("python", socket).done(), `spiffe://${TD}/svc/uid-0`);
    } finally {
      expect(await bot.stop("SIGTERM")).toBe(0);
    }
    expect(existsSync(socket)).toBe(false);
  }, 60_000);
});
