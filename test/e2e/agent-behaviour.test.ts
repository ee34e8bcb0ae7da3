// The agent's behaviour on the compiled binary, beyond the getting-started path: how it
// decides whom to trust on first contact, where the token comes from and when it re-joins,
// storage locking, riding out an auth outage, the diagnostics listener, secrets in logs,
// file modes and generation directories, `tbot configure`, and `tauth start -c`.

import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { tauthBin, tbotBin, tctlBin } from "../harness/binary.ts";
import {
  addBot,
  count,
  envWithoutTrust,
  expectOneErrorLine,
  fetchWhenUp,
  fileScope,
  instanceIds,
  legacyArgs,
  maskedToken,
  newToken,
  oneShot,
  runExactEnv,
  runWithTimeout,
  until,
  writeText,
} from "../harness/extra.ts";
import { cleanupAfterFile, freePort, run, startProcess } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();

const identityFiles = [
  "identity",
  "key",
  "key-cert.pub",
  "key.pub",
  "known_hosts",
  "ssh_config",
  "teleport-database-ca.crt",
  "teleport-host-ca.crt",
  "teleport-user-ca.crt",
  "tlscert",
];
const storageFiles = [
  "key",
  "key-cert.pub",
  "key.pub",
  "lock",
  "sshcacerts",
  "tlscacerts",
  "tlscert",
  "tokenhash",
];

const scope = fileScope();
let auth: TauthHandle;
let work: string;
let hostCaFile: string;

beforeAll(async () => {
  auth = await scope.tauth();
  work = scope.tempDir("agent-");
  const exp = auth.tctl(["auth", "export", "--type=tls-host"]);
  if (exp.code !== 0) throw new Error(`tctl auth export failed: ${exp.stderr}`);
  hostCaFile = writeText(join(work, "host-ca.pem"), exp.stdout);
});

/** A tbot.yaml with one identity output; `head` holds the address and onboarding lines. */
function configFile(name: string, head: string, data: string, dest: string, tail = ""): string {
  return writeText(
    join(work, `${name}.yaml`),
    `version: v2
${head}
storage:
  type: directory
  path: ${data}
services:
  - type: identity
    destination:
      type: directory
      path: ${dest}
${tail}`,
  );
}

const snapshot = (dir: string, files: string[]) =>
  Object.fromEntries(files.map((f) => [f, readFileSync(join(dir, f), "utf8")]));

const instanceOf = (log: string) => /Fetched new bot identity identity:\S+ instance:(\S+)/.exec(log)?.[1];

describe("first contact: whom tbot trusts", () => {
  test("1. proxy_server trusts the CA in SSL_CERT_FILE without pins; without it the join fails on certificate trust", () => {
    const token = addBot(auth, "proxied");
    const data = join(work, "proxy-data");
    const dest = join(work, "proxy-out");
    const cfg = configFile(
      "proxy",
      `proxy_server: 127.0.0.1:${auth.port}
onboarding:
  join_method: token
  token: ${token}
oneshot: true`,
      data,
      dest,
    );

    const untrusted = runExactEnv([tbotBin, "start", "-c", cfg], envWithoutTrust());
    const line = expectOneErrorLine(untrusted);
    expect(line).toContain(
      `the server at 127.0.0.1:${auth.port} presented a certificate this client does not trust`,
    );
    expect(line).toContain("SSL_CERT_FILE");
    expect(existsSync(join(dest, "tlscert"))).toBe(false);
    expect(existsSync(join(data, "tlscert"))).toBe(false);

    // The same token (not spent by the failure) joins once the host CA is trusted.
    const trusted = runExactEnv(
      [tbotBin, "start", "-c", cfg],
      envWithoutTrust({ SSL_CERT_FILE: hostCaFile }),
    );
    expect(trusted.stderr).not.toContain("ERROR");
    expect(trusted.code).toBe(0);
    expect(trusted.stderr).toContain("Fetched new bot identity identity:bot-proxied");
    const subject = run(["openssl", "x509", "-in", join(dest, "tlscert"), "-noout", "-subject"]).stdout;
    expect(subject).toContain("CN = bot-proxied");

    // Renewal goes through the proxy address too, with the same trust.
    const again = runExactEnv([tbotBin, "start", "-c", cfg], envWithoutTrust({ SSL_CERT_FILE: hostCaFile }));
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/Renewed bot identity identity:bot-proxied .*generation:2/);
  });

  test("2. a wrong --ca-pin is refused and nothing is written; onboarding.ca_path and --insecure join", () => {
    const token = addBot(auth, "pinned");
    const wrongPin = `sha256:${"0".repeat(64)}`;
    const data = join(work, "pin-data");
    const dest = join(work, "pin-out");
    const wrong = oneShot(auth, { data, dest, token, trust: ["--ca-pin", wrongPin] });
    const line = expectOneErrorLine(wrong);
    expect(line).toContain(`does not present a CA matching the configured CA pin (${wrongPin})`);
    expect(line).toContain("tctl status");
    expect(existsSync(dest) ? readdirSync(dest) : []).toEqual([]);
    expect(readdirSync(data).filter((n) => n !== "lock")).toEqual([]);

    // onboarding.ca_path with the host CA; the token was not spent by the refused attempt.
    const caData = join(work, "capath-data");
    const caDest = join(work, "capath-out");
    const cfg = configFile(
      "capath",
      `auth_server: ${auth.addr}
onboarding:
  join_method: token
  token: ${token}
  ca_path: ${hostCaFile}
oneshot: true`,
      caData,
      caDest,
    );
    const viaFile = run([tbotBin, "start", "-c", cfg]);
    expect(viaFile.stderr).not.toContain("ERROR");
    expect(viaFile.code).toBe(0);
    expect(viaFile.stderr).toContain("Fetched new bot identity identity:bot-pinned");
    for (const f of identityFiles) expect(statSync(join(caDest, f)).isFile()).toBe(true);

    // A CA file that is not the cluster's is refused like a wrong pin.
    const otherCa = join(work, "other-ca.pem");
    const req = run([
      ...["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...["-keyout", join(work, "other-ca.key"), "-out", otherCa, "-subj", "/CN=other", "-days", "1"],
    ]);
    expect(req.code).toBe(0);
    const otherCfg = configFile(
      "capath-other",
      `auth_server: ${auth.addr}
onboarding:
  join_method: token
  token: ${newToken(auth, "pinned")}
  ca_path: ${otherCa}
oneshot: true`,
      join(work, "capath-other-data"),
      join(work, "capath-other-out"),
    );
    expect(expectOneErrorLine(run([tbotBin, "start", "-c", otherCfg]))).toContain("does not trust");

    // --insecure (development only) joins without any trust configured.
    const insecureDest = join(work, "insecure-out");
    const insecure = oneShot(auth, {
      data: join(work, "insecure-data"),
      dest: insecureDest,
      token: newToken(auth, "pinned"),
      trust: ["--insecure"],
    });
    expect(insecure.stderr).not.toContain("ERROR");
    expect(insecure.code).toBe(0);
    expect(statSync(join(insecureDest, "tlscert")).isFile()).toBe(true);
  });

  test('2b. ca_pins with ca_path: "" (as the reference\'s tbot configure writes it) joins on the pin', () => {
    const token = addBot(auth, "empty-capath");
    const data = join(work, "empty-capath-data");
    const dest = join(work, "empty-capath-out");
    const cfg = configFile(
      "empty-capath",
      `auth_server: ${auth.addr}
onboarding:
  join_method: token
  token: ${token}
  ca_pins:
    - ${auth.pin}
  ca_path: ""
oneshot: true`,
      data,
      dest,
    );
    const r = run([tbotBin, "start", "-c", cfg]);
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    expect(statSync(join(dest, "tlscert")).isFile()).toBe(true);
  });
});

describe("tokens and storage", () => {
  test("3. a token file joins; the same used token renews, a new token re-onboards the same storage", () => {
    const first = addBot(auth, "filetok");
    const tokenFile = writeText(join(work, "filetok.token"), `${first}\n`);
    const data = join(work, "filetok-data");
    const dest = join(work, "filetok-out");
    const cfg = configFile(
      "filetok",
      `auth_server: ${auth.addr}
onboarding:
  join_method: token
  token: ${tokenFile}
  ca_pins: [${auth.pin}]
oneshot: true`,
      data,
      dest,
    );
    const start = () => run([tbotBin, "start", "-c", cfg]);

    const joined = start();
    expect(joined.stderr).not.toContain("ERROR");
    expect(joined.code).toBe(0);
    const id1 = instanceOf(joined.stderr)!;
    expect(id1).toMatch(/^[0-9a-f-]{36}$/);
    expect(instanceIds(auth, "filetok")).toEqual([id1]);
    expect(readFileSync(join(data, "tokenhash"), "utf8")).toContain(
      new Bun.CryptoHasher("sha256").update(first).digest("hex"),
    );

    // Same storage, same (now used) token: the stored identity is renewed, no join.
    const renewed = start();
    expect(renewed.code).toBe(0);
    expect(renewed.stderr).toContain(
      `Renewed bot identity identity:bot-filetok instance:${id1} generation:2`,
    );
    expect(renewed.stderr).not.toContain("Fetched new bot identity");

    // Same storage, a new token: the bot joins again as a new instance.
    const second = newToken(auth, "filetok");
    writeFileSync(tokenFile, `${second}\n`);
    const rejoined = start();
    expect(rejoined.stderr).not.toContain("ERROR");
    expect(rejoined.code).toBe(0);
    expect(rejoined.stderr).toContain("differs from the one this identity was joined with");
    const id2 = instanceOf(rejoined.stderr)!;
    expect(id2).toMatch(/^[0-9a-f-]{36}$/);
    expect(id2).not.toBe(id1);
    expect(instanceIds(auth, "filetok").sort()).toEqual([id1, id2].sort());
    const subject = run(["openssl", "x509", "-in", join(dest, "tlscert"), "-noout", "-subject"]).stdout;
    expect(subject).toContain("CN = bot-filetok");

    // And the new token, used in turn, renews the new instance.
    const renewedAgain = start();
    expect(renewedAgain.code).toBe(0);
    expect(renewedAgain.stderr).toContain(
      `Renewed bot identity identity:bot-filetok instance:${id2} generation:2`,
    );
  });

  test("4. two tbots cannot share one storage directory; the lock goes with the process", async () => {
    const token = addBot(auth, "shared");
    const data = join(work, "shared-data");
    const daemon = scope.proc(
      startProcess([
        ...legacyArgs(auth, { data, dest: join(work, "shared-out-1"), token }),
        "--renewal-interval",
        "1h",
      ]),
    );
    await daemon.waitFor(/Generated output/);
    const secondDest = join(work, "shared-out-2");
    const second = oneShot(auth, { data, dest: secondDest, token });
    const line = expectOneErrorLine(second);
    expect(line).toContain(`storage ${data} is in use by another tbot process`);
    expect(existsSync(join(secondDest, "tlscert"))).toBe(false);
    expect(daemon.proc.exitCode).toBeNull();

    expect(await daemon.stop()).toBe(0);
    const after = oneShot(auth, { data, dest: secondDest, token });
    expect(after.code).toBe(0);
    expect(after.stderr).toContain("Renewed bot identity identity:bot-shared");
    expect(statSync(join(secondDest, "tlscert")).isFile()).toBe(true);
  });
});

describe("daemon", () => {
  test("5. auth outage: renewals fail with backoff, outputs stay as they were, the bot recovers by itself", async () => {
    const h = await scope.tauth({ clusterName: "outage.test" });
    const token = addBot(h, "steady");
    const data = join(work, "outage-data");
    const dest = join(work, "outage-out");
    const bot = scope.proc(
      startProcess(
        legacyArgs(h, { data, dest, token, extra: ["--certificate-ttl", "1m", "--renewal-interval", "2s"] }),
      ),
    );
    await bot.waitFor(/Renewed bot identity[\s\S]*Generated output/, 20_000);

    expect(await h.stop()).toBe(0);
    const failed = /ERROR \[TBOT\] Renewal failed; keeping the last good outputs and retrying/;
    await until(() => count(failed, bot.output()) >= 1, "the first failed renewal", 20_000);
    // From the first failure on, nothing may touch the outputs until the server is back.
    const before = snapshot(dest, identityFiles);
    await until(() => count(failed, bot.output()) >= 3, "three failed renewals", 20_000);
    const failures = bot
      .output()
      .split("\n")
      .filter((l) => failed.test(l));
    expect(failures.some((l) => l.includes("connection refused"))).toBe(true);
    // Each failure says when it retries, and the attempt count grows (backoff).
    for (const l of failures) expect(l).toMatch(/retry_in_ms:\d+ attempt:\d+$/);
    const attempts = failures.map((l) => Number(/attempt:(\d+)$/.exec(l)![1]));
    expect(attempts.slice(0, 3)).toEqual([1, 2, 3]);
    expect(snapshot(dest, identityFiles)).toEqual(before);
    expect(bot.proc.exitCode).toBeNull();

    const mark = bot.output().length;
    await h.restart();
    const recovered = /Renewed bot identity identity:bot-steady [^\n]*\n[\s\S]*Generated output/;
    await until(() => recovered.test(bot.output().slice(mark)), "a renewal after the restart", 20_000);
    expect(bot.proc.exitCode).toBeNull();
    const after = snapshot(dest, identityFiles);
    expect(after["key-cert.pub"]).not.toBe(before["key-cert.pub"]);
    expect(after.tlscert).not.toBe(before.tlscert);
    const verify = run([
      "openssl",
      "verify",
      "-CAfile",
      join(dest, "teleport-user-ca.crt"),
      join(dest, "tlscert"),
    ]);
    expect(verify.stdout).toContain("tlscert: OK");
    expect(await bot.stop()).toBe(0);
  }, 60_000);

  test("6. diag_addr: /livez, /readyz, /readyz/<service>, unknown service 404, /metrics", async () => {
    const token = addBot(auth, "diag");
    const port = await freePort();
    const cfg = configFile(
      "diag",
      `auth_server: ${auth.addr}
onboarding:
  join_method: token
  token: ${token}
  ca_pins: [${auth.pin}]`,
      join(work, "diag-data"),
      join(work, "diag-out"),
      "    name: web-creds\n",
    );
    const bot = scope.proc(startProcess([tbotBin, "start", "-c", cfg, "--diag-addr", `127.0.0.1:${port}`]));
    await bot.waitFor(/Generated output service:web-creds/);
    const base = `http://127.0.0.1:${port}`;

    const live = await fetchWhenUp(`${base}/livez`);
    expect(live.status).toBe(200);
    expect(await live.text()).toBe("OK");

    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.headers.get("content-type")).toContain("application/json");
    expect(await ready.json()).toEqual({
      status: "healthy",
      services: { identity: { status: "healthy" }, "web-creds": { status: "healthy" } },
    });

    const one = await fetch(`${base}/readyz/web-creds`);
    expect(one.status).toBe(200);
    expect(await one.json()).toEqual({ status: "healthy" });
    const internal = await fetch(`${base}/readyz/identity`);
    expect(internal.status).toBe(200);
    expect(await internal.json()).toEqual({ status: "healthy" });

    const unknown = await fetch(`${base}/readyz/no-such-service`);
    expect(unknown.status).toBe(404);
    expect((await fetch(`${base}/no-such-path`)).status).toBe(404);

    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toContain("text/plain");
    const text = await metrics.text();
    expect(text).toContain("# TYPE tbot_service_healthy gauge");
    expect(text).toContain('tbot_service_healthy{name="web-creds"} 1');
    expect(text).toContain('tbot_service_healthy{name="identity"} 1');
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);

    expect(await bot.stop()).toBe(0);
    await expect(fetch(`${base}/livez`)).rejects.toThrow();
  }, 60_000);

  test("7. secrets: with --debug neither tbot, tauth nor the audit log show the join token", async () => {
    const token = addBot(auth, "quiet");
    const dest = join(work, "quiet-out");
    const daemon = scope.proc(
      startProcess([
        ...legacyArgs(auth, {
          data: join(work, "quiet-data"),
          dest,
          token,
          extra: ["--debug", "--renewal-interval", "1h"],
        }),
      ]),
    );
    await daemon.waitFor(/DEBUG \[TBOT\] Next renewal scheduled/);
    expect(daemon.output()).toContain("Fetched new bot identity identity:bot-quiet");
    expect(await daemon.stop()).toBe(0);
    // The token did its job (the outputs exist) and appears in none of the daemon's output.
    expect(statSync(join(dest, "tlscert")).isFile()).toBe(true);
    expect(daemon.output()).not.toContain(token);

    // A refused join in --debug prints a stack trace, still without the (unknown) token.
    const bogus = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex");
    const refused = oneShot(auth, {
      data: join(work, "quiet-bogus-data"),
      dest: join(work, "quiet-bogus-out"),
      token: bogus,
      extra: ["--debug"],
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("ERROR: join token expired or not found");
    expect(refused.stderr).toMatch(/\n\s+at /);
    expect(refused.stdout).not.toContain(bogus);
    expect(refused.stderr).not.toContain(bogus);

    for (const secret of [token, bogus]) expect(auth.proc.output()).not.toContain(secret);
    const audit = readFileSync(join(auth.dataDir, "audit.log"), "utf8");
    for (const secret of [token, bogus]) expect(audit).not.toContain(secret);
    // Both attempts are in the audit log, under the masked token name.
    const events = auth.auditLog();
    expect(
      events.some((e) => e.event === "bot.join" && e.bot === "quiet" && e.token === maskedToken(token)),
    ).toBe(true);
    expect(events.some((e) => e.event === "bot.join.failed" && e.token === maskedToken(bogus))).toBe(true);
  }, 60_000);

  test("8. modes: dirs 0700, files 0600 through their symlinks, one generation directory per set after 3 renewals", async () => {
    const token = addBot(auth, "modes");
    const data = join(work, "modes-data");
    const dest = join(work, "modes-out");
    const bot = scope.proc(
      startProcess(
        legacyArgs(auth, {
          data,
          dest,
          token,
          extra: ["--certificate-ttl", "1m", "--renewal-interval", "1s"],
        }),
      ),
    );
    await bot.waitFor(/Renewed bot identity [^\n]*generation:4[^\n]*\n[\s\S]*Generated output/, 20_000);
    expect(await bot.stop()).toBe(0);
    expect(count(/Renewed bot identity/, bot.output())).toBeGreaterThanOrEqual(3);

    for (const [dir, set, files] of [
      [data, "storage", storageFiles],
      [dest, "identity", identityFiles],
    ] as const) {
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      const names = readdirSync(dir);
      expect(names.filter((n) => !n.startsWith(".")).sort()).toEqual([...files].sort());
      for (const n of files) {
        if (n !== "lock") expect(lstatSync(join(dir, n)).isSymbolicLink()).toBe(true);
        const st = statSync(join(dir, n));
        expect(st.isFile()).toBe(true);
        expect(st.mode & 0o777).toBe(0o600);
      }
      // Hidden entries: the "..<set>" link and exactly one generation directory, no leftovers.
      const hidden = names.filter((n) => n.startsWith("."));
      const generations = hidden.filter((n) => n.startsWith(`..${set}_`));
      expect(generations).toHaveLength(1);
      expect(hidden.sort()).toEqual([`..${set}`, generations[0]!].sort());
      const gen = join(dir, generations[0]!);
      expect(statSync(gen).mode & 0o777).toBe(0o700);
      for (const f of readdirSync(gen)) expect(statSync(join(gen, f)).mode & 0o777).toBe(0o600);
    }
  }, 60_000);
});

describe("configuration", () => {
  test("9. tbot configure prints YAML that tbot start -c runs; -o writes it with mode 0600", () => {
    const token = addBot(auth, "configured");
    const data = join(work, "configured-data");
    const dest = join(work, "configured-out");
    const flags = [
      ...["--data-dir", data, "--destination-dir", dest, "--token", token, "--join-method", "token"],
      ...["--auth-server", auth.addr, "--ca-pin", auth.pin, "--oneshot"],
    ];
    const printed = run([tbotBin, "configure", ...flags]);
    expect(printed.stderr).toBe("");
    expect(printed.code).toBe(0);
    expect(printed.stdout.split("\n")[0]).toBe("# tbot config file generated by `configure` command");
    const doc = parseYaml(printed.stdout);
    expect(doc).toMatchObject({
      version: "v2",
      auth_server: auth.addr,
      onboarding: { join_method: "token", token, ca_pins: [auth.pin] },
      storage: { type: "directory", path: data },
      services: [{ type: "identity", destination: { type: "directory", path: dest } }],
      oneshot: true,
    });

    // -o: to a new file, and over an existing world-readable one; both end up 0600.
    for (const name of ["configured.yaml", "configured-existing.yaml"]) {
      const file = join(work, name);
      if (name.includes("existing")) writeFileSync(file, "old\n", { mode: 0o644 });
      const written = run([tbotBin, "configure", ...flags, "-o", file]);
      expect(written.code).toBe(0);
      expect(written.stdout).toBe("");
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, "utf8")).toBe(printed.stdout);
    }

    const started = run([tbotBin, "start", "-c", join(work, "configured.yaml")]);
    expect(started.stderr).not.toContain("ERROR");
    expect(started.code).toBe(0);
    expect(started.stderr).toContain("Fetched new bot identity identity:bot-configured");
    for (const f of identityFiles) expect(statSync(join(dest, f)).isFile()).toBe(true);
  });

  test("10. tauth start -c tauth.yaml; admin-identity is 0600; another cluster name on its data dir is refused", async () => {
    const dir = scope.tempDir("tauth-config-");
    const dataDir = join(dir, "data");
    const port = await freePort();
    const cfg = writeText(
      join(dir, "tauth.yaml"),
      `version: v1
data_dir: ${dataDir}
listen_addr: 127.0.0.1:${port}
cluster_name: fromfile.test
`,
    );
    const identity = join(dataDir, "admin-identity");
    const status = () =>
      run([tctlBin, "--auth-server", `127.0.0.1:${port}`, "--identity", identity, "status"]);

    let server = scope.proc(startProcess([tauthBin, "start", "-c", cfg]));
    await server.waitFor(/Auth service is listening/);
    expect(server.output()).toContain(`cluster:fromfile.test addr:127.0.0.1:${port}`);
    expect(statSync(identity).mode & 0o777).toBe(0o600);
    const first = status();
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Cluster\s+fromfile\.test$/m);
    const pin = /^CA pin\s+(sha256:[0-9a-f]{64})$/m.exec(first.stdout)?.[1];
    expect(pin).toBeDefined();
    expect(await server.stop()).toBe(0);

    const other = runWithTimeout([
      ...[tauthBin, "start", "--data-dir", dataDir, "--listen", `127.0.0.1:${port}`],
      ...["--cluster-name", "other.test"],
    ]);
    expect(expectOneErrorLine(other)).toContain(
      'this data directory belongs to cluster "fromfile.test", not "other.test"',
    );

    // The refused start changed nothing: the file config starts again with the same CA.
    server = scope.proc(startProcess([tauthBin, "start", "-c", cfg]));
    await server.waitFor(/Auth service is listening/);
    const again = status();
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`CA pin   ${pin}`);
    expect(await server.stop()).toBe(0);
  });
});
