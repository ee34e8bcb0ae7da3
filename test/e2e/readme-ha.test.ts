// README.md's "High availability" section, run as written: its replica tauth.yaml (two
// replicas on one PostgreSQL) and its haproxy.cfg (TCP mode, /readyz checks verifying the
// replicas' certificates with the exported host CA), then tctl and a bot through the balancer.
// Only addresses, paths and the connection string are substituted.

import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { root, tauthBin, tbotBin, tctlBin } from "../harness/binary.ts";
import { HAPROXY } from "../harness/haproxy.ts";
import { type PgServer, startPostgres, stopAllPostgres } from "../harness/postgres.ts";
import { cleanupAfterFile, freePort, type Proc, run, startProcess, tempDir } from "../harness/proc.ts";
import { eventually, readyz, tauthDatabase } from "../harness/tauth-replicas.ts";

setDefaultTimeout(90_000);
afterAll(stopAllPostgres);
cleanupAfterFile();

/** The fenced blocks of one "## " section, with their info strings. */
function blocks(markdown: string, section: string): { lang: string; text: string }[] {
  const body = markdown.split(/^## /m).find((s) => s.startsWith(`${section}\n`)) ?? "";
  return [...body.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, text: m[2]! }));
}

const section = blocks(readFileSync(join(root, "README.md"), "utf8"), "High availability");
const yaml = section.find((b) => b.lang === "yaml")!.text;
const haproxyCfg = section.find((b) => b.lang === "" && b.text.includes("frontend tauth"))!.text;

let pg: PgServer;
let work: string;
let lbAddr: string;
let identity: string;
const replicas: { id: string; port: number; proc: Proc }[] = [];

beforeAll(async () => {
  pg = await startPostgres();
  const url = tauthDatabase(pg, "readme-Pa55");
  work = tempDir("readme-ha-");
  for (const id of ["auth-1", "auth-2"]) {
    const port = await freePort();
    const dataDir = join(work, id);
    const config = yaml
      .replace("data_dir: /var/lib/teleport/auth", `data_dir: ${dataDir}`)
      .replace("listen_addr: 0.0.0.0:3026", `listen_addr: 127.0.0.1:${port}`)
      .replace("replica_id: auth-1", `replica_id: ${id}`)
      .replace(/conn_string: ".*"/, `conn_string: "${url}"`);
    const file = join(work, `${id}.yaml`);
    writeFileSync(file, config);
    // As the README says for replicas behind a TCP balancer.
    const env = { TAUTH_LIMITS: "join_rate=off,conns_per_ip=off" };
    const proc = startProcess([tauthBin, "start", "-c", file], { env });
    await proc.waitFor(/Auth service is listening/, 30_000);
    replicas.push({ id, port, proc });
  }
  identity = join(work, "auth-1", "admin-identity");
  const direct = `127.0.0.1:${replicas[0]!.port}`;
  const ca = run([tctlBin, "--auth-server", direct, "-i", identity, "auth", "export", "--type=tls-host"]);
  expect(ca.code).toBe(0);
  const caFile = join(work, "tauth-host-ca.pem");
  writeFileSync(caFile, ca.stdout);
  const lbPort = await freePort();
  lbAddr = `127.0.0.1:${lbPort}`;
  const cfg = haproxyCfg
    .replace("bind :3025", `bind ${lbAddr}`)
    .replace("/etc/haproxy/tauth-host-ca.pem", caFile)
    .replace(/^ {2}server auth-1 .*$/m, `  server auth-1 127.0.0.1:${replicas[0]!.port}`)
    .replace(/^ {2}server auth-2 .*$/m, `  server auth-2 127.0.0.1:${replicas[1]!.port}`)
    .replace(/^ {2}server auth-3 .*\n/m, ""); // two replicas here
  const cfgFile = join(work, "haproxy.cfg");
  writeFileSync(cfgFile, cfg);
  startProcess([HAPROXY, "-f", cfgFile, "-db"]);
});

test("the README's replica config and haproxy.cfg: both replicas pass the verified /readyz checks and serve", async () => {
  const seen = new Set<string>();
  const both = await eventually(async () => {
    seen.add((await readyz(lbAddr)).replica);
    return seen.has("auth-1") && seen.has("auth-2");
  }, 20_000);
  expect([...seen].filter(Boolean).sort()).toEqual(["auth-1", "auth-2"]);
  expect(both).toBe(true);
});

test("tctl and a bot through the balancer: one cluster, a token made via one replica joins via any", () => {
  const tctl = (...args: string[]) => run([tctlBin, "--auth-server", lbAddr, "-i", identity, ...args]);
  const status = tctl("status");
  expect(status.code).toBe(0);
  expect(status.stdout).toMatch(/Cluster\s+example\.com/);
  const pin = /CA pin\s+(sha256:[0-9a-f]{64})/.exec(status.stdout)![1]!;
  const add = tctl("bots", "add", "robot", "--roles=access", "--logins=root", "--format=json");
  expect(add.code).toBe(0);
  const token = JSON.parse(add.stdout).token_id as string;
  const out = join(work, "out");
  const bot = run([
    tbotBin,
    "start",
    `--data-dir=${join(work, "bot")}`,
    `--destination-dir=${out}`,
    `--token=${token}`,
    "--join-method=token",
    `--auth-server=${lbAddr}`,
    `--ca-pin=${pin}`,
    "--oneshot",
  ]);
  expect(bot.stderr).not.toContain("ERROR");
  expect(bot.code).toBe(0);
  expect(readFileSync(join(out, "key-cert.pub"), "utf8")).toContain("-cert-v01@openssh.com");
  // The shared audit log shows the join, whichever replica served it.
  const audit = tctl("audit", "ls", "--kind=bot.join", "--format=json");
  expect(audit.code).toBe(0);
  expect(audit.stdout).toContain("robot");
});
