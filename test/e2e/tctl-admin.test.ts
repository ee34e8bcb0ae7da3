// tctl on the compiled binary against a real tauth: status, create/get/rm of resources,
// join tokens (masked in listings), CA export checked with ssh-keygen and openssl, locks,
// bots and their instances, and the one-line errors for a bad identity or no server.

import { beforeAll, describe, expect, test } from "bun:test";
import { createHash, X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { tauthBin, tbotBin, tctlBin } from "../harness/binary.ts";
import {
  addBot,
  expectOneErrorLine,
  fileScope,
  instanceIds,
  maskedToken,
  newToken,
  oneShot,
  writeText,
} from "../harness/extra.ts";
import { cleanupAfterFile, freePort, run } from "../harness/proc.ts";
import type { TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();

const scope = fileScope();
let auth: TauthHandle;
let work: string;

beforeAll(async () => {
  auth = await scope.tauth({ clusterName: "admin.test" });
  work = scope.tempDir("tctl-");
});

const resourceFile = (name: string, text: string) => writeText(join(work, name), text);

/** A bot joined by a one-shot: its storage and output directories. */
function joinedBot(name: string, token: string) {
  const data = join(work, `${name}-data`);
  const dest = join(work, `${name}-out`);
  const r = oneShot(auth, { data, dest, token });
  if (r.code !== 0) throw new Error(`one-shot for ${name} failed: ${r.stderr}`);
  return { data, dest, token, instance: /Fetched new bot identity \S+ instance:(\S+)/.exec(r.stderr)?.[1] };
}

describe("tctl status, create, get, rm", () => {
  test("11a. status prints Cluster, Version and the pin of the host CA", () => {
    const r = auth.tctl(["status"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^Cluster\s+admin\.test$/);
    const version = run([tctlBin, "version"])
      .stdout.trim()
      .replace(/^tctl v/, "");
    expect(lines[1]).toMatch(new RegExp(`^Version\\s+${version.replace(/[.+]/g, "\\$&")}$`));
    expect(lines[2]).toMatch(/^CA pin\s+sha256:[0-9a-f]{64}$/);
    // The pin is the SHA-256 of the host CA's SubjectPublicKeyInfo.
    const ca = new X509Certificate(auth.tctl(["auth", "export", "--type=tls-host"]).stdout);
    const spki = ca.publicKey.export({ type: "spki", format: "der" });
    expect(lines[2]).toEndWith(`sha256:${createHash("sha256").update(spki).digest("hex")}`);
  });

  test("11b. create refuses an existing resource without -f; get in yaml/json/text; missing → not found; rm", () => {
    const role = resourceFile(
      "role.yaml",
      `kind: role
version: v7
metadata:
  name: builder-role
spec:
  allow:
    logins: [ci]
`,
    );
    const created = auth.tctl(["create", role]);
    expect(created.code).toBe(0);
    expect(created.stdout).toBe('role "builder-role" has been created\n');
    const again = auth.tctl(["create", role]);
    expect(expectOneErrorLine(again)).toContain('role "builder-role" already exists');
    const forced = auth.tctl(["create", "-f", role]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toBe('role "builder-role" has been created or updated\n');

    const bot = resourceFile(
      "bot.yaml",
      `kind: bot
version: v1
metadata:
  name: builder
spec:
  roles: [builder-role]
  traits:
    - name: logins
      values: [ci]
`,
    );
    expect(auth.tctl(["create", bot]).code).toBe(0);
    expect(expectOneErrorLine(auth.tctl(["create", bot]))).toContain('bot "builder" already exists');

    const yaml = auth.tctl(["get", "bot/builder"]);
    expect(yaml.code).toBe(0);
    expect(parseYaml(yaml.stdout)).toMatchObject({
      kind: "bot",
      version: "v1",
      metadata: { name: "builder" },
      spec: { roles: ["builder-role"], traits: [{ name: "logins", values: ["ci"] }] },
      status: { user_name: "bot-builder", role_name: "bot-builder" },
    });
    // What get prints goes back in with create -f.
    expect(auth.tctl(["create", "-f", resourceFile("bot-roundtrip.yaml", yaml.stdout)]).code).toBe(0);

    const json = auth.tctl(["get", "bot/builder", "--format=json"]);
    expect(json.code).toBe(0);
    const arr = JSON.parse(json.stdout);
    expect(Array.isArray(arr)).toBe(true);
    expect(arr).toHaveLength(1);
    expect(arr[0]).toMatchObject({
      kind: "bot",
      metadata: { name: "builder" },
      spec: { roles: ["builder-role"] },
    });

    const text = auth.tctl(["get", "bot/builder", "--format=text"]);
    expect(text.code).toBe(0);
    const rows = text.stdout.trimEnd().split("\n");
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/^Bot\s+User\s+Roles$/);
    expect(rows[1]).toMatch(/^-+ -+ -+$/);
    expect(rows[2]).toMatch(/^builder\s+bot-builder\s+builder-role$/);

    expect(expectOneErrorLine(auth.tctl(["get", "bot/ghost"]))).toContain('bot "ghost" not found');

    const scratch = resourceFile(
      "scratch.yaml",
      "kind: role\nversion: v7\nmetadata:\n  name: scratch\nspec:\n  allow:\n    logins: [nobody]\n",
    );
    expect(auth.tctl(["create", scratch]).code).toBe(0);
    expect(JSON.parse(auth.tctl(["get", "role/scratch", "--format=json"]).stdout)).toHaveLength(1);
    const rm = auth.tctl(["rm", "role/scratch"]);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toBe('role "scratch" has been deleted\n');
    expect(expectOneErrorLine(auth.tctl(["get", "role/scratch"]))).toContain('role "scratch" not found');
    expect(expectOneErrorLine(auth.tctl(["rm", "role/scratch"]))).toContain('role "scratch" not found');
    // The other role is untouched.
    expect(auth.tctl(["get", "role/builder-role"]).code).toBe(0);
  });
});

describe("tctl tokens", () => {
  test("12. tokens add (json and text), ls shows only masked names, rm by the masked name", () => {
    addBot(auth, "tokbot");
    const j = auth.tctl(["tokens", "add", "--type=bot", "--bot-name=tokbot", "--format=json"]);
    expect(j.code).toBe(0);
    const grant = JSON.parse(j.stdout);
    expect(grant.token_name).toMatch(/^[0-9a-f]{32}$/);
    expect(grant.ca_pins).toEqual([auth.pin]);
    expect(Date.parse(grant.expires)).toBeGreaterThan(Date.now());
    const jsonToken = grant.token_name as string;

    const t = auth.tctl(["tokens", "add", "--type=bot", "--bot-name=tokbot"]);
    expect(t.code).toBe(0);
    const textToken = /^The bot token: ([0-9a-f]{32})$/m.exec(t.stdout)?.[1];
    expect(textToken).toBeDefined();
    expect(t.stdout).toContain(`--token=${textToken}`);
    expect(t.stdout).toContain(`--ca-pin=${auth.pin}`);
    expect(t.stdout).toContain(`--auth-server=${auth.addr}`);

    const ls = auth.tctl(["tokens", "ls"]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^Token\s+Type\s+Join Method\s+Bot\s+Expiry Time \(UTC\)$/m);
    for (const tok of [jsonToken, textToken!]) {
      expect(ls.stdout).toMatch(new RegExp(`^${maskedToken(tok)}\\s+Bot\\s+token\\s+tokbot\\s+\\S+$`, "m"));
      expect(ls.stdout).not.toContain(tok);
    }
    const lsJson = auth.tctl(["tokens", "ls", "--format=json"]);
    const names = (JSON.parse(lsJson.stdout) as { metadata: { name: string } }[]).map((x) => x.metadata.name);
    expect(names).toContain(maskedToken(jsonToken));
    for (const n of names) expect(n).toMatch(/^sha256:[0-9a-f]{16}$/);
    for (const tok of [jsonToken, textToken!]) expect(lsJson.stdout).not.toContain(tok);

    const rm = auth.tctl(["tokens", "rm", maskedToken(jsonToken)]);
    expect(rm.code).toBe(0);
    const after = auth.tctl(["tokens", "ls"]).stdout;
    expect(after).not.toContain(maskedToken(jsonToken));
    expect(after).toContain(maskedToken(textToken!));
    expect(expectOneErrorLine(auth.tctl(["tokens", "rm", maskedToken(jsonToken)]))).toContain("not found");

    // The removed token no longer joins; the other one still does.
    const removed = oneShot(auth, {
      data: join(work, "tok-rm-data"),
      dest: join(work, "tok-rm-out"),
      token: jsonToken,
    });
    expect(expectOneErrorLine(removed)).toContain("join token expired or not found");
    expect(joinedBot("tok-kept", textToken!).instance).toBeDefined();

    expect(expectOneErrorLine(auth.tctl(["tokens", "add", "--type=bot", "--bot-name=nobody"]))).toContain(
      'bot "nobody" not found',
    );
    expect(expectOneErrorLine(auth.tctl(["tokens", "add", "--type=node", "--bot-name=tokbot"]))).toContain(
      'token type "node" is not supported',
    );
  });
});

describe("tctl auth export", () => {
  test("13. user, host, tls-host, tls-user and db exports are usable by ssh-keygen and openssl", () => {
    const bot = joinedBot("exporter", addBot(auth, "exporter"));

    const user = auth.tctl(["auth", "export", "--type=user"]);
    expect(user.code).toBe(0);
    expect(user.stdout).toMatch(/^ssh-ed25519 [A-Za-z0-9+/]+=*\n$/);
    const userFile = writeText(join(work, "user-ca.pub"), user.stdout);
    const userFp = run(["ssh-keygen", "-l", "-f", userFile]);
    expect(userFp.code).toBe(0);
    const fp = /^256 (SHA256:\S+) .*\(ED25519\)$/.exec(userFp.stdout.trim())?.[1];
    expect(fp).toBeDefined();
    // It is the CA that signed the bot's SSH certificate, as TrustedUserCAKeys needs.
    const cert = run(["ssh-keygen", "-L", "-f", join(bot.dest, "key-cert.pub")]).stdout;
    expect(cert).toContain(`Signing CA: ED25519 ${fp}`);

    const host = auth.tctl(["auth", "export", "--type=host"]);
    expect(host.code).toBe(0);
    const hostLines = host.stdout.trimEnd().split("\n");
    expect(hostLines).toHaveLength(1);
    const m = /^@cert-authority admin\.test,\*\.admin\.test (ssh-ed25519 [A-Za-z0-9+/]+=*)( .*)?$/.exec(
      hostLines[0]!,
    );
    expect(m).not.toBeNull();
    const hostKeyFile = writeText(join(work, "host-ca.pub"), `${m![1]}\n`);
    const hostFp = run(["ssh-keygen", "-l", "-f", hostKeyFile]);
    expect(hostFp.code).toBe(0);
    expect(hostFp.stdout).not.toContain(fp!);
    expect(readFileSync(join(bot.dest, "known_hosts"), "utf8")).toContain(m![1]!);

    const pems: Record<string, string> = {};
    for (const type of ["tls-host", "tls-user", "db", "db_client", "app", "spiffe"]) {
      const r = auth.tctl(["auth", "export", `--type=${type.replace("_", "-")}`]);
      expect(r.code).toBe(0);
      pems[type] = writeText(join(work, `${type}.pem`), r.stdout);
      const x = run([
        "openssl",
        "x509",
        "-in",
        pems[type]!,
        "-noout",
        "-subject",
        "-ext",
        "basicConstraints",
      ]);
      expect(x.code).toBe(0);
      expect(x.stdout).toContain(`OU = ${type.replace(/^tls-/, "")}`);
      expect(x.stdout).toContain("CA:TRUE");
    }
    const same = (a: string, b: string) =>
      expect(readFileSync(a, "utf8").trim()).toBe(readFileSync(b, "utf8").trim());
    same(pems["tls-host"]!, join(bot.dest, "teleport-host-ca.crt"));
    same(pems.db!, join(bot.dest, "teleport-database-ca.crt"));
    const verify = run(["openssl", "verify", "-CAfile", pems["tls-user"]!, join(bot.dest, "tlscert")]);
    expect(verify.stdout).toContain("tlscert: OK");

    expect(expectOneErrorLine(auth.tctl(["auth", "export", "--type=bogus"]))).toContain(
      'unknown --type "bogus" (expected user, host, tls-host, tls-user, db, db-client, app or spiffe)',
    );
    expect(expectOneErrorLine(auth.tctl(["auth", "export"]))).toContain("--type is required");
  });
});

describe("tctl lock, bots", () => {
  test("14. lock --bot refuses the bot's renewal and new joins; rm lock/ID lifts it", () => {
    const bot = joinedBot("lockme", addBot(auth, "lockme"));
    const before = readFileSync(join(bot.dest, "tlscert"), "utf8");
    const lock = auth.tctl(["lock", "--bot", "lockme", "--message", "compromised host"]);
    expect(lock.code).toBe(0);
    const id = /^Created a lock with name "([0-9a-f-]{36})"\.$/m.exec(lock.stdout)?.[1];
    expect(id).toBeDefined();
    const got = JSON.parse(auth.tctl(["get", `lock/${id}`, "--format=json"]).stdout);
    expect(got[0].spec.target).toEqual({ bot: "lockme" });

    const renew = oneShot(auth, { data: bot.data, dest: bot.dest, token: bot.token });
    expect(renew.code).toBe(1);
    expect(renew.stderr).toContain("locked: compromised host");
    expect(renew.stderr).toContain(`tctl rm lock/${id}`);
    expect(readFileSync(join(bot.dest, "tlscert"), "utf8")).toBe(before);

    // A fresh token for the locked bot is refused too, before it is used up.
    const token = newToken(auth, "lockme");
    const fresh = { data: join(work, "lockme-2-data"), dest: join(work, "lockme-2-out"), token };
    const refused = oneShot(auth, fresh);
    expect(expectOneErrorLine(refused)).toContain("locked");
    expect(instanceIds(auth, "lockme")).toEqual([bot.instance!]);

    const rm = auth.tctl(["rm", `lock/${id}`]);
    expect(rm.code).toBe(0);
    expect(JSON.parse(auth.tctl(["get", "lock", "--format=json"]).stdout)).toEqual([]);
    const joined = oneShot(auth, fresh);
    expect(joined.stderr).not.toContain("ERROR");
    expect(joined.code).toBe(0);
    expect(instanceIds(auth, "lockme")).toHaveLength(2);
    // The original instance renews again, where it left off.
    const renewed = oneShot(auth, { data: bot.data, dest: bot.dest, token: bot.token });
    expect(renewed.code).toBe(0);
    expect(renewed.stderr).toContain(
      `Renewed bot identity identity:bot-lockme instance:${bot.instance} generation:2`,
    );
    const events = auth.auditLog();
    expect(events.some((e) => e.event === "lock.create" && e.lock === id)).toBe(true);
    expect(events.some((e) => e.event === "lock.delete" && e.lock === id)).toBe(true);
  });

  test("15. bots instances ls lists the joins; bots rm removes the bot and its instances", () => {
    const a = joinedBot("ephemeral", addBot(auth, "ephemeral"));
    const b = joinedBot("ephemeral-2", newToken(auth, "ephemeral"));
    expect(instanceIds(auth, "ephemeral").sort()).toEqual([a.instance!, b.instance!].sort());
    const table = auth.tctl(["bots", "instances", "ls", "ephemeral"]);
    expect(table.code).toBe(0);
    // Bot, instance, join method, generation, last seen, version, health (one-shot: never stale).
    for (const i of [a.instance!, b.instance!])
      expect(table.stdout).toMatch(
        new RegExp(`^ephemeral\\s+${i}\\s+token\\s+1\\s+\\S+\\s+\\S+\\s+healthy$`, "m"),
      );
    // Two instances, and when one was last seen (a join, a renewal or a heartbeat).
    expect(auth.tctl(["bots", "ls"]).stdout).toMatch(
      /^ephemeral\s+bot-ephemeral\s+access\s+2\s+\d{4}-\d\d-\d\dT\S+Z$/m,
    );

    const rm = auth.tctl(["bots", "rm", "ephemeral"]);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toBe('Bot "ephemeral" deleted successfully.\n');
    expect(auth.tctl(["bots", "ls"]).stdout).not.toMatch(/^ephemeral\s/m);
    expect(JSON.parse(auth.tctl(["bots", "instances", "ls", "ephemeral", "--format=json"]).stdout)).toEqual(
      [],
    );
    expect(expectOneErrorLine(auth.tctl(["get", "bot/ephemeral"]))).toContain('bot "ephemeral" not found');
    expect(expectOneErrorLine(auth.tctl(["bots", "rm", "ephemeral"]))).toContain('bot "ephemeral" not found');
    // Its identities are no longer renewed.
    const renew = oneShot(auth, { data: a.data, dest: a.dest, token: a.token });
    expect(expectOneErrorLine(renew)).toContain('bot "ephemeral" no longer exists');
  });
});

describe("tctl bots: one name for the token", () => {
  test("bots add, bots instances add and tokens add all print the token as token_id", () => {
    const added = JSON.parse(
      auth.tctl(["bots", "add", "same-key", "--roles=access", "--format=json"]).stdout,
    );
    const more = JSON.parse(auth.tctl(["bots", "instances", "add", "same-key", "--format=json"]).stdout);
    const viaTokens = JSON.parse(
      auth.tctl(["tokens", "add", "--type=bot", "--bot-name=same-key", "--format=json"]).stdout,
    );
    for (const out of [added, more, viaTokens]) expect(out.token_id).toMatch(/^[0-9a-f]{32,}$/);
    expect(new Set([added.token_id, more.token_id, viaTokens.token_id]).size).toBe(3);
    expect(more.token_name).toBe(more.token_id);
  });
});

describe("tauth start", () => {
  test("on a port in use: one line naming --listen, exit 1, and no half-made data directory", async () => {
    const taken = createServer();
    const port = await new Promise<number>((resolve) =>
      taken.listen(0, "127.0.0.1", () => resolve((taken.address() as { port: number }).port)),
    );
    try {
      const dataDir = join(work, "port-in-use-data");
      const r = run([
        tauthBin,
        "start",
        "--data-dir",
        dataDir,
        "--listen",
        `127.0.0.1:${port}`,
        "--cluster-name",
        "x.test",
      ]);
      expect(r.code).toBe(1);
      expect(
        r.stderr
          .trimEnd()
          .split("\n")
          .filter((l) => l.startsWith("ERROR")),
      ).toEqual([
        `ERROR: cannot listen on 127.0.0.1:${port}: the address is in use (another tauth, or another program); choose another with --listen HOST:PORT`,
      ]);
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      taken.close();
    }
  });
});

describe("tctl and tbot errors", () => {
  test("16. a bad identity file and an unreachable auth server each give one ERROR line, exit 1", async () => {
    const garbage = writeText(join(work, "garbage-identity"), "not an identity file\n");
    const bad = run([tctlBin, "--auth-server", auth.addr, "--identity", garbage, "status"]);
    expect(expectOneErrorLine(bad)).toBe(
      `ERROR: identity file ${garbage} is not usable: identity file must hold a private key and a TLS certificate`,
    );
    const missing = join(work, "no-such-identity");
    const absent = run([tctlBin, "--auth-server", auth.addr, "--identity", missing, "status"]);
    expect(expectOneErrorLine(absent)).toContain(`cannot read identity file ${missing}: ENOENT`);

    // An admin identity of another cluster is not trusted by this one, nor does it trust it.
    const other = await scope.tauth({ clusterName: "elsewhere.test" });
    const foreign = run([tctlBin, "--auth-server", auth.addr, "--identity", other.identity, "status"]);
    expect(expectOneErrorLine(foreign)).toContain("certificate this client does not trust");
    expect(await other.stop()).toBe(0);

    // A misspelt flag: a usage error (exit 2) that suggests the nearest flag.
    const typo = run([
      tctlBin,
      "--auth-server",
      auth.addr,
      "--identity",
      auth.identity,
      "bots",
      "add",
      "x",
      "--rolse=a",
    ]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe('ERROR: unknown flag --rolse (did you mean --roles?); see "tctl help"\n');

    const port = await freePort();
    const down = run([tctlBin, "--auth-server", `127.0.0.1:${port}`, "--identity", auth.identity, "status"]);
    expect(expectOneErrorLine(down)).toBe(
      `ERROR: cannot connect to 127.0.0.1:${port}: connection refused (is the auth server running there?)`,
    );
    const tbot = run([
      ...[
        tbotBin,
        "start",
        "--data-dir",
        join(work, "down-data"),
        "--destination-dir",
        join(work, "down-out"),
      ],
      ...["--token", "whatever", "--join-method", "token", "--auth-server", `127.0.0.1:${port}`],
      ...["--ca-pin", auth.pin, "--oneshot"],
    ]);
    // A one-shot tbot retries a refused connection (7 attempts, the reference's count), then
    // gives one ERROR line.
    expect(tbot.code).toBe(1);
    const lines = tbot.stderr.trimEnd().split("\n");
    expect(lines.filter((l) => l.includes("One-shot attempt failed; retrying"))).toHaveLength(6);
    expect(lines.filter((l) => l.startsWith("ERROR"))).toEqual([
      `ERROR: cannot connect to 127.0.0.1:${port}: connection refused (is the auth server running there?)`,
    ]);
    expect(lines.at(-1)).toStartWith("ERROR: ");
    expect(tbot.stderr).not.toMatch(/\n\s+at /);
  }, 60_000); // tbot's 6 retries against an unreachable server take seconds: more than bun's default 5 s
});
