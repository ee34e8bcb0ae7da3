// The reference's getting-started guide on the compiled binary, with real OpenSSH at both
// ends: tctl bots add → tbot one-shot (legacy flags) → a second tbot serving sshd's host
// credentials → ssh root@<node>.<cluster> through the generated ssh_config.

import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { tbotBin } from "../harness/binary.ts";
import { cleanupAfterFile, run, startProcess, tempDir } from "../harness/proc.ts";
import { startSshd } from "../harness/sshd.ts";
import { startTauth, type TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();

const tenFiles = [
  "identity",
  "key",
  "key.pub",
  "key-cert.pub",
  "tlscert",
  "teleport-host-ca.crt",
  "teleport-user-ca.crt",
  "teleport-database-ca.crt",
  "known_hosts",
  "ssh_config",
];

let auth: TauthHandle;
let work: string;

function botsAdd(name: string, roles: string, logins?: string): string {
  const r = auth.tctl([
    "bots",
    "add",
    name,
    `--roles=${roles}`,
    ...(logins ? [`--logins=${logins}`] : []),
    "--format=json",
  ]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout).token_id as string;
}

function legacyOneShot(token: string, data: string, dest: string) {
  return run([
    tbotBin,
    "start",
    "--data-dir",
    data,
    "--destination-dir",
    dest,
    "--token",
    token,
    "--join-method",
    "token",
    "--auth-server",
    auth.addr,
    "--ca-pin",
    auth.pin,
    "--oneshot",
  ]);
}

beforeAll(async () => {
  auth = await startTauth();
  work = tempDir("getting-started-");
});

describe("getting started", () => {
  let dest: string;
  let hostDir: string;
  let sshPort: number;

  test("1. bots add + one-shot with legacy flags writes the ten files, usable by ssh-keygen and openssl", () => {
    const token = botsAdd("robot", "access", "root");
    dest = join(work, "out");
    const r = legacyOneShot(token, join(work, "data"), dest);
    expect(r.code).toBe(0);
    for (const f of tenFiles) {
      const st = statSync(join(dest, f));
      expect(st.isFile()).toBe(true);
      expect(st.mode & 0o777).toBe(0o600);
    }
    expect(statSync(dest).mode & 0o777).toBe(0o700);
    expect(statSync(join(work, "data")).mode & 0o777).toBe(0o700);
    const cert = run(["ssh-keygen", "-L", "-f", join(dest, "key-cert.pub")]);
    expect(cert.code).toBe(0);
    expect(cert.stdout).toMatch(/Principals:\s*\n\s+root\n/);
    expect(cert.stdout).toContain("permit-pty");
    const verify = run([
      "openssl",
      "verify",
      "-CAfile",
      join(dest, "teleport-user-ca.crt"),
      join(dest, "tlscert"),
    ]);
    expect(verify.stdout).toContain("tlscert: OK");
    // The key in `key` is the one certified in `key-cert.pub` and `tlscert`.
    const pubFromKey = run(["ssh-keygen", "-y", "-f", join(dest, "key")])
      .stdout.trim()
      .split(" ")
      .slice(0, 2)
      .join(" ");
    expect(readFileSync(join(dest, "key.pub"), "utf8").trim()).toBe(pubFromKey);
    const tlsPub = run(["openssl", "x509", "-in", join(dest, "tlscert"), "-noout", "-pubkey"]).stdout;
    const keyPub = run(["openssl", "pkey", "-in", join(dest, "key"), "-pubout"]).stdout;
    expect(tlsPub).toBe(keyPub);
    // The identity file holds key, ssh cert, tls cert, @cert-authority line and CA.
    const idf = readFileSync(join(dest, "identity"), "utf8");
    expect(idf).toContain("-cert-v01@openssh.com ");
    expect(idf).toContain(`@cert-authority 127.0.0.1,${auth.clusterName},*.${auth.clusterName} ssh-ed25519 `);
    expect((idf.match(/-----BEGIN /g) ?? []).length).toBe(3);
    expect(auth.auditLog().some((e) => e.event === "bot.join" && e.bot === "robot")).toBe(true);
  });

  test("2. a second tbot's ssh_host output serves sshd; ssh -F ssh_config root@<node>.<cluster> works with strict host checking", async () => {
    const roleFile = join(work, "host-role.yaml");
    require("node:fs").writeFileSync(
      roleFile,
      `kind: role
version: v7
metadata:
  name: host-certifier
spec:
  allow:
    rules:
      - resources: [host_cert]
        verbs: [create]
`,
    );
    expect(auth.tctl(["create", roleFile]).code).toBe(0);
    const token = botsAdd("node1", "host-certifier");
    hostDir = join(work, "host");
    const sshPortPlaceholder = "SSH_PORT";
    const cfgPath = join(work, "host-tbot.yaml");
    const writeCfg = (port: number) =>
      require("node:fs").writeFileSync(
        cfgPath,
        `version: v2
auth_server: ${auth.addr}
onboarding:
  join_method: token
  token: ${token}
  ca_pins: [${auth.pin}]
storage:
  type: directory
  path: ${join(work, "host-data")}
oneshot: true
services:
  - type: ssh_host
    principals: [node1]
    ssh_address: 127.0.0.1:${port}
    labels: {env: test}
    destination:
      type: directory
      path: ${hostDir}
`.replace(sshPortPlaceholder, String(port)),
      );
    const { freePort } = await import("../harness/proc.ts");
    sshPort = await freePort();
    writeCfg(sshPort);
    const r = run([tbotBin, "start", "-c", cfgPath]);
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    for (const f of ["ssh_host", "ssh_host-cert.pub", "ssh_host-user-ca.pub"])
      expect(statSync(join(hostDir, f)).isFile()).toBe(true);
    const hostCert = run(["ssh-keygen", "-L", "-f", join(hostDir, "ssh_host-cert.pub")]).stdout;
    expect(hostCert).toContain("host certificate");
    expect(hostCert).toContain(`node1.${auth.clusterName}`);
    const nodes = auth.tctl(["nodes", "ls"]);
    expect(nodes.stdout).toContain("node1");
    expect(nodes.stdout).toContain(`127.0.0.1:${sshPort}`);
    const sshd = await startSshd(hostDir, sshPort);
    try {
      const ssh = run([
        "ssh",
        "-F",
        join(dest, "ssh_config"),
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        `root@node1.${auth.clusterName}`,
        "echo",
        "hello-from-node1",
      ]);
      expect(ssh.stderr).not.toContain("Permission denied");
      expect(ssh.stdout.trim()).toBe("hello-from-node1");
      expect(ssh.code).toBe(0);
      await sshd.proc.waitFor(
        /Accepted publickey for root from 127\.0\.0\.1 .*ECDSA-CERT .*ID bot-robot/,
        5000,
      );
    } finally {
      await sshd.stop();
    }
  });

  test("3. reused, expired and unknown-bot tokens are denied clearly; existing outputs are untouched", () => {
    const before = Object.fromEntries(tenFiles.map((f) => [f, readFileSync(join(dest, f), "utf8")]));
    const token = botsAdd("reuse", "access", "root");
    expect(legacyOneShot(token, join(work, "reuse-1"), join(work, "reuse-out-1")).code).toBe(0);
    const reused = legacyOneShot(token, join(work, "reuse-2"), dest);
    expect(reused.code).toBe(1);
    expect(reused.stderr).toContain("already used");
    expect(reused.stderr).not.toContain("    at ");

    const expiredFile = join(work, "expired-token.yaml");
    require("node:fs").writeFileSync(
      expiredFile,
      `kind: token
version: v2
metadata:
  name: expired-token-0123456789
  expires: "2020-01-01T00:00:00Z"
spec:
  roles: [Bot]
  join_method: token
  bot_name: robot
`,
    );
    expect(auth.tctl(["create", expiredFile]).code).toBe(0);
    const expired = legacyOneShot("expired-token-0123456789", join(work, "exp"), dest);
    expect(expired.code).toBe(1);
    expect(expired.stderr).toMatch(/expired/);

    const ghostFile = join(work, "ghost-token.yaml");
    require("node:fs").writeFileSync(
      ghostFile,
      `kind: token
version: v2
metadata:
  name: ghost-token-0123456789
spec:
  roles: [Bot]
  join_method: token
  bot_name: ghost
`,
    );
    expect(auth.tctl(["create", ghostFile]).code).toBe(0);
    const ghost = legacyOneShot("ghost-token-0123456789", join(work, "ghost"), dest);
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toContain('bot "ghost", which does not exist');
    for (const f of tenFiles) expect(readFileSync(join(dest, f), "utf8")).toBe(before[f]!);
    const failures = auth.auditLog().filter((e) => e.event === "bot.join.failed");
    expect(failures.length).toBeGreaterThanOrEqual(3);
    // No secret token name ever reaches the audit log.
    const audit = readFileSync(join(auth.dataDir, "audit.log"), "utf8");
    expect(audit).not.toContain(token);
  });

  test("4. daemon mode renews (generation rises, outputs change, ssh keeps working) and SIGHUP forces a renewal", async () => {
    const token = botsAdd("daemon", "access", "root");
    const out = join(work, "daemon-out");
    const data = join(work, "daemon-data");
    const daemon = (interval: string) =>
      startProcess([
        tbotBin,
        "start",
        "--data-dir",
        data,
        "--destination-dir",
        out,
        "--token",
        token,
        "--join-method",
        "token",
        "--auth-server",
        auth.addr,
        "--ca-pin",
        auth.pin,
        "--certificate-ttl",
        "1m",
        "--renewal-interval",
        interval,
      ]);
    const gen = () =>
      Number(
        /1\.3\.9999\.1\.14 = (\d+)/.exec(
          run(["openssl", "x509", "-in", join(data, "tlscert"), "-noout", "-subject"]).stdout,
        )?.[1],
      );
    let bot = daemon("2s");
    await bot.waitFor(/Generated output/);
    const g1 = gen();
    const cert1 = readFileSync(join(out, "key-cert.pub"), "utf8");
    await bot.waitFor(/Renewed bot identity .*generation:3/, 20_000);
    await bot.waitFor(
      /Generated output[\s\S]*Renewed bot identity[\s\S]*Generated output[\s\S]*Generated output/,
      20_000,
    );
    expect(gen()).toBeGreaterThan(g1);
    expect(readFileSync(join(out, "key-cert.pub"), "utf8")).not.toBe(cert1);
    const sshd = await startSshd(hostDir, sshPort);
    // ssh opens `key` and `key-cert.pub` one after the other; with a renewal every 2 s a switch
    // can fall between the two opens (any reader of two files has that window). Hold the
    // daemon still while ssh reads them: what is checked is that the renewed files work.
    process.kill(bot.pid, "SIGSTOP");
    try {
      const ssh = run([
        "ssh",
        "-F",
        join(out, "ssh_config"),
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        `root@node1.${auth.clusterName}`,
        "true",
      ]);
      expect(ssh.stderr).toBe("");
      expect(ssh.code).toBe(0);
    } finally {
      process.kill(bot.pid, "SIGCONT");
      await sshd.stop();
    }
    expect(await bot.stop("SIGTERM")).toBe(0);
    // With an hour between renewals, only SIGHUP can cause the next one.
    bot = daemon("1h");
    await bot.waitFor(/Generated output/);
    const renewals = () => (bot.output().match(/Renewed bot identity/g) ?? []).length;
    const before = renewals();
    process.kill(bot.pid, "SIGHUP");
    await bot.waitFor(/Reload requested/);
    const deadline = Date.now() + 5000;
    while (renewals() === before && Date.now() < deadline) await Bun.sleep(50);
    expect(renewals()).toBe(before + 1);
    expect(await bot.stop("SIGTERM")).toBe(0);
  });

  test("5. storage copied to a second tbot: one renewal is denied, the instance is locked, the audit log records it", async () => {
    const token = botsAdd("copied", "access", "root");
    const data = join(work, "copy-a");
    expect(legacyOneShot(token, data, join(work, "copy-out-a")).code).toBe(0);
    const copy = join(work, "copy-b");
    run(["cp", "-a", data, copy]);
    const a = legacyOneShot(token, data, join(work, "copy-out-a"));
    const b = legacyOneShot(token, copy, join(work, "copy-out-b"));
    expect([a.code, b.code].sort()).toEqual([0, 1]);
    const denied = a.code === 1 ? a : b;
    expect(denied.stderr).toContain("generation mismatch");
    const locks = auth.tctl(["get", "lock", "--format=json"]);
    expect(JSON.parse(locks.stdout).some((l: any) => typeof l.spec.target.bot_instance_id === "string")).toBe(
      true,
    );
    expect(
      auth
        .auditLog()
        .some((e) => e.event === "renewable_certificate_generation_mismatch" && e.bot === "copied"),
    ).toBe(true);
    // Once locked, even the holder of the current generation is refused.
    const again = legacyOneShot(token, a.code === 0 ? data : copy, join(work, "copy-out-c"));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("locked");
  });
});
