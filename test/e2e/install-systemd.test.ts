// `tbot install systemd` and `tauth install systemd` on the compiled binary: the dry run prints
// exactly the unit the shared renderer (and so the packages) produce, --write writes it 0644,
// is a no-op when identical and needs --force to replace; systemd-analyze accepts the units;
// and the commands the units run do work: tbot's with telemetry on (sending nothing), tauth's
// under the unit's hardening.

import { beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { renderTauthUnit, renderTbotUnit } from "../../src/agent/systemd-unit.ts";
import { ensureBuilt, tauthBin, tbotBin, tctlBin } from "../harness/binary.ts";
import { writeText } from "../harness/extra.ts";
import { cleanupAfterFile, freePort, run, startProcess, tempDir } from "../harness/proc.ts";
import { startTauth } from "../harness/tauth.ts";

cleanupAfterFile();

let work: string;
let tbotConfig: string;
// The unit names the executable itself (not a link to it) for tbot.
let tbotExe: string;
// A stray TBOT_CONFIG_PATH in the caller's environment must not stand in for -c.
const env = { TBOT_CONFIG_PATH: "" };

beforeAll(() => {
  ensureBuilt();
  // realpath: the binary resolves relative paths against its cwd, which the kernel reports resolved.
  work = realpathSync(tempDir("install-systemd-"));
  tbotConfig = writeText(join(work, "tbot.yaml"), "version: v2\n");
  tbotExe = realpathSync(tbotBin);
});

const install = (program: string, args: string[], cwd?: string) =>
  run([program, "install", "systemd", ...args], { env, cwd });

function unitDir(name: string): string {
  const d = join(work, name);
  mkdirSync(d);
  return d;
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe("tbot install systemd", () => {
  test("a dry run prints exactly the unit the renderer makes, on stdout, and writes nothing", () => {
    const dir = unitDir("dry");
    const r = install(tbotBin, ["-c", tbotConfig, "--systemd-directory", dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(renderTbotUnit({ tbotPath: tbotExe, configPath: tbotConfig }));
    expect(r.stderr).toBe(
      `Dry-run mode is active. Use '--write' to enable writes.\nThe following would be written to ${dir}/tbot.service:\n\n`,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  test("--user naming a user this host does not have is warned about; an existing one is not", () => {
    const dir = unitDir("no-such-user");
    const r = install(tbotBin, ["-c", tbotConfig, "--systemd-directory", dir, "--user", "no-such-user-4711"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toStartWith(
      'Warning: user "no-such-user-4711" does not exist on this host; create it (e.g. "useradd --system no-such-user-4711") before starting the service\n',
    );
    const root = install(tbotBin, ["-c", tbotConfig, "--systemd-directory", dir, "--user", "root"]);
    expect(root.stderr).not.toContain("Warning");
  });

  test("every flag gives the same text as the renderer with the same arguments (the packaged unit)", () => {
    const flags = ["--name=edge", "--user", "nobody", "--group=readers", "--pid-file", "/var/run/edge.pid"];
    // A relative -c is resolved against the working directory.
    const r = install(
      tbotBin,
      ["-c", "tbot.yaml", ...flags, "--anonymous-telemetry", "--tbot-path=/usr/bin/tbot"],
      work,
    );
    expect(r.stderr).toStartWith("Dry-run mode is active.");
    expect(r.code).toBe(0);
    const expected = renderTbotUnit({
      tbotPath: "/usr/bin/tbot",
      configPath: tbotConfig,
      name: "edge",
      user: "nobody",
      group: "readers",
      pidFile: "/var/run/edge.pid",
      anonymousTelemetry: true,
    });
    expect(r.stdout).toBe(expected);
    expect(expected).toContain('Environment="TELEPORT_ANONYMOUS_TELEMETRY=1"\n');
    expect(expected).toContain(
      `ExecStart=/usr/bin/tbot start -c ${tbotConfig} --pid-file=/var/run/edge.pid\n`,
    );
    expect(install(tbotBin, ["-c", tbotConfig, "--tbot-path=tbot"]).stderr).toBe(
      'ERROR: --tbot-path must be an absolute path, got "tbot"\n',
    );
  });

  test("--write writes the dry run's unit, mode 0644 whatever the umask, atomically, and says what to run", () => {
    const dir = unitDir("write");
    const dry = install(tbotBin, ["-c", tbotConfig, "--systemd-directory", dir]);
    const r = run(
      ["sh", "-c", 'umask 077; exec "$@"', "sh", tbotBin, "install", "systemd"].concat([
        "-c",
        tbotConfig,
        "--systemd-directory",
        dir,
        "--write",
      ]),
      { env },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const file = join(dir, "tbot.service");
    expect(readFileSync(file, "utf8")).toBe(dry.stdout);
    expect(mode(file)).toBe(0o644);
    expect(readdirSync(dir)).toEqual(["tbot.service"]); // no temp file left behind
    expect(r.stdout).toContain(`Wrote ${file}\n`);
    expect(r.stdout).toContain("  systemctl daemon-reload\n  systemctl enable --now tbot\n");
    // The default PID file lives in a RuntimeDirectory systemd makes for the unit's user: no
    // warning needed (an explicit --pid-file directly under /run gets one; see tbot-install.ts).
    expect(r.stdout).not.toContain("Note:");
    expect(dry.stdout).toContain("PIDFile=/run/tbot/tbot.pid\nRuntimeDirectory=tbot\n");
  });

  test("a second identical --write is a no-op; a different unit needs --force", () => {
    const dir = unitDir("force");
    const file = join(dir, "tbot.service");
    const args = ["-c", tbotConfig, "--systemd-directory", dir, "--write"];
    expect(install(tbotBin, args).code).toBe(0);
    const before = statSync(file);

    const same = install(tbotBin, args);
    expect(same.code).toBe(0);
    expect(same.stdout).toBe(`${file} is already up to date; nothing to do.\n`);
    const after = statSync(file);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);

    const original = readFileSync(file, "utf8");
    const refused = install(tbotBin, [...args, "--user", "nobody"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `ERROR: ${file} already exists with different content; run with --force to replace it (without --write to see the new unit first)\n`,
    );
    expect(readFileSync(file, "utf8")).toBe(original);

    const forced = install(tbotBin, [...args, "--user", "nobody", "--force"]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`Replaced ${file}\n`);
    expect(forced.stdout).toContain("systemctl restart tbot");
    expect(readFileSync(file, "utf8")).toBe(
      renderTbotUnit({ tbotPath: tbotExe, configPath: tbotConfig, user: "nobody" }),
    );
    expect(mode(file)).toBe(0o644);
  });

  test("a config with relative paths is refused (a service starts in /); absolute ones are fine", () => {
    const dir = unitDir("relative");
    for (const [name, body, says] of [
      ["rel-storage", "storage:\n  type: directory\n  path: ./tbot-data\n", 'storage path "./tbot-data"'],
      [
        "rel-dest",
        "services:\n  - type: identity\n    destination:\n      type: directory\n      path: out\n",
        'services[0] destination path "out"',
      ],
      [
        "rel-named-dest",
        "services:\n  - type: identity\n    name: web\n    destination: {type: directory, path: ./o}\n",
        'web destination path "./o"',
      ],
      ["rel-ca", "onboarding:\n  ca_path: certs/ca.pem\n", 'onboarding.ca_path "certs/ca.pem"'],
    ] as const) {
      const cfg = writeText(join(work, `${name}.yaml`), `version: v2\n${body}`);
      const r = install(tbotBin, ["-c", cfg, "--systemd-directory", dir, "--write"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `ERROR: ${cfg}: ${says} is a relative path, which a service would resolve against /; use absolute paths in a config for a service\n`,
      );
    }
    // A relative token file (found from here) would be sent as the token itself under systemd.
    writeText(join(work, "join.token"), "t\n");
    const tok = writeText(join(work, "rel-token.yaml"), "version: v2\nonboarding:\n  token: ./join.token\n");
    const t = install(tbotBin, ["-c", tok, "--systemd-directory", dir], work);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain('onboarding.token file "./join.token" is a relative path');
    expect(readdirSync(dir)).toEqual([]);
    const abs = writeText(
      join(work, "abs.yaml"),
      `version: v2\nstorage: {type: directory, path: ${join(work, "d")}}\nonboarding:\n  token: plain-token\n`,
    );
    expect(install(tbotBin, ["-c", abs, "--systemd-directory", dir]).code).toBe(0);
  });

  test("no -c, a missing config file or a missing directory: one clear error", () => {
    const noConfig = install(tbotBin, []);
    expect(noConfig.code).toBe(2);
    expect(noConfig.stderr).toBe(
      'ERROR: "tbot install systemd" needs the config file the service will run with: -c /path/to/tbot.yaml\n',
    );
    const missing = install(tbotBin, ["-c", join(work, "nope.yaml")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      `ERROR: config file ${work}/nope.yaml does not exist (or is not a file); create it first\n`,
    );
    const dirAsConfig = install(tbotBin, ["-c", work]);
    expect(dirAsConfig.code).toBe(1);
    const noDir = install(tbotBin, [
      "-c",
      tbotConfig,
      "--write",
      "--systemd-directory",
      join(work, "absent"),
    ]);
    expect(noDir.code).toBe(1);
    expect(noDir.stderr).toBe(
      `ERROR: systemd directory ${work}/absent does not exist; pass --systemd-directory\n`,
    );
    const badFlag = install(tbotBin, ["-c", tbotConfig, "--token", "x"]);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain('flag --token is not valid for "tbot install systemd"');
  });
});

describe("tauth install systemd", () => {
  let tauthConfig: string;
  beforeAll(() => {
    tauthConfig = writeText(join(work, "tauth.yaml"), "version: v1\ndata_dir: /var/lib/teleport/auth\n");
  });

  test("a dry run prints the renderer's unit, with the config's data directory", () => {
    const r = install(tauthBin, ["-c", tauthConfig]);
    expect(r.code).toBe(0);
    // The link's path, not the binary's: the executable runs as the name it is started by.
    expect(r.stdout).toBe(
      renderTauthUnit({ tauthPath: tauthBin, configPath: tauthConfig, dataDir: "/var/lib/teleport/auth" }),
    );
    expect(r.stdout).toContain(`ExecStart=${tauthBin} start -c ${tauthConfig}\n`);
    expect(r.stderr).toStartWith("Dry-run mode is active. Use '--write' to enable writes.\n");
  });

  test("--data-dir goes to ReadWritePaths and to tauth start", () => {
    const r = install(tauthBin, ["-c", tauthConfig, "--data-dir", "/srv/tauth"]);
    expect(r.stdout).toContain(`ExecStart=${tauthBin} start -c ${tauthConfig} --data-dir=/srv/tauth\n`);
    expect(r.stdout).toContain("ReadWritePaths=/srv/tauth\n");
  });

  test("--write, no-op, --force", () => {
    const dir = unitDir("tauth-write");
    const file = join(dir, "tauth.service");
    const args = ["-c", tauthConfig, "--systemd-directory", dir, "--write"];
    const first = install(tauthBin, args);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("systemctl enable --now tauth\n");
    expect(mode(file)).toBe(0o644);
    expect(install(tauthBin, args).stdout).toBe(`${file} is already up to date; nothing to do.\n`);
    const refused = install(tauthBin, [...args, "--group", "auth"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("--force");
    expect(install(tauthBin, [...args, "--group", "auth", "--force"]).code).toBe(0);
    expect(readFileSync(file, "utf8")).toContain("Group=auth\n");
  });

  test("the config is read as tauth start reads it: a broken or relative one fails now, not at boot", () => {
    const bad = writeText(join(work, "bad-tauth.yaml"), "version: v1\ndata_dri: /x\n");
    const r = install(tauthBin, ["-c", bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown field "data_dri"');
    const rel = writeText(join(work, "rel-tauth.yaml"), "data_dir: data\n");
    expect(install(tauthBin, ["-c", rel]).stderr).toContain("is relative, and a service starts in /");
    expect(install(tauthBin, []).code).toBe(2);
  });
});

describe("the units are valid and their commands run", () => {
  test("systemd-analyze verify accepts the written tbot and tauth units without a warning", () => {
    const analyze = Bun.which("systemd-analyze");
    if (!analyze)
      throw new Error("systemd-analyze is missing: install the Debian package systemd (scripts/setup.sh)");
    const dir = unitDir("verify");
    const tauthConfig = writeText(join(work, "verify-tauth.yaml"), "data_dir: /srv/tauth\n");
    expect(install(tbotBin, ["-c", tbotConfig, "--systemd-directory", dir, "--write"]).code).toBe(0);
    expect(install(tauthBin, ["-c", tauthConfig, "--systemd-directory", dir, "--write"]).code).toBe(0);
    expect(
      install(tauthBin, [
        "-c",
        tauthConfig,
        "--systemd-directory",
        dir,
        "--write",
        "--name=tauth-lib",
        "--data-dir=/var/lib/tauth",
      ]).code,
    ).toBe(0);
    // Offline: checks syntax, every directive and that ExecStart is an executable file; needs
    // no running systemd. Warnings (unknown keys, odd user names) go to stderr with exit 0.
    for (const unit of ["tbot.service", "tauth.service", "tauth-lib.service"]) {
      const r = run([analyze, "verify", join(dir, unit)]);
      expect({ unit, code: r.code, out: r.stdout + r.stderr }).toEqual({ unit, code: 0, out: "" });
    }
  });

  test("tbot's ExecStart, with the unit's environment (telemetry on), joins, writes its PID file (removed again at the clean exit) and sends nothing", async () => {
    const auth = await startTauth({ clusterName: "unit.test" });
    const bot = auth.tctl(["bots", "add", "unit-bot", "--roles=access", "--logins=root", "--format=json"]);
    expect(bot.code).toBe(0);
    // A telemetry endpoint that counts what it is sent: nothing, whatever the variable says.
    let reports = 0;
    const sink = Bun.serve({
      port: await freePort(),
      hostname: "127.0.0.1",
      fetch: () => {
        reports++;
        return new Response("");
      },
    });
    try {
      const out = join(work, "unit-out");
      const cfg = writeText(
        join(work, "unit-tbot.yaml"),
        `version: v2
auth_server: ${auth.addr}
oneshot: true
onboarding:
  join_method: token
  token: ${JSON.parse(bot.stdout).token_id}
  ca_pins: [${auth.pin}]
storage:
  type: directory
  path: ${join(work, "unit-data")}
services:
  - type: identity
    destination:
      type: directory
      path: ${out}
`,
      );
      const pidFile = join(work, "unit-tbot.pid");
      const unit = install(tbotBin, ["-c", cfg, "--pid-file", pidFile, "--anonymous-telemetry"]).stdout;
      const { command, environment } = serviceCommand(unit);
      expect(environment).toEqual({ TELEPORT_ANONYMOUS_TELEMETRY: "1" });
      const r = run(command, {
        env: { ...environment, TELEPORT_ANONYMOUS_TELEMETRY_ADDRESS: `http://127.0.0.1:${sink.port}` },
      });
      expect(r.stderr).not.toContain("ERROR");
      expect(r.code).toBe(0);
      // Written at start (see rough-edges.test.ts), removed again at the clean exit.
      expect(existsSync(pidFile)).toBe(false);
      expect(statSync(join(out, "tlscert")).size).toBeGreaterThan(0);
      expect(reports).toBe(0);
    } finally {
      sink.stop(true);
      await auth.stop();
    }
  });

  // ProtectSystem=strict, ProtectHome, PrivateTmp, NoNewPrivileges and a non-root user, rebuilt
  // with a mount namespace (no systemd as PID 1 here): needs root for unshare and mount.
  const canNamespace =
    process.getuid?.() === 0 && run(["unshare", "-m", "--propagation", "private", "true"]).code === 0;
  test.skipIf(!canNamespace)(
    "tauth's ExecStart runs under the unit's hardening as an unprivileged user",
    async () => {
      const box = tempDir("hardening-");
      chmodSync(box, 0o755); // the service user must reach its config and data directory
      const data = join(box, "data");
      mkdirSync(data, { mode: 0o700 });
      chownSync(data, 65534, 65534);
      const port = await freePort();
      const cfg = writeText(
        join(box, "tauth.yaml"),
        `data_dir: ${data}\nlisten_addr: 127.0.0.1:${port}\ncluster_name: hardened.test\n`,
      );
      chmodSync(cfg, 0o644);
      const unit = install(tauthBin, ["-c", cfg, "--user=nobody", "--group=nogroup"]).stdout;
      expect(unit).toContain(`ReadWritePaths=${data}\n`);
      const { command } = serviceCommand(unit);
      const root = join(box, "root");
      mkdirSync(root);
      const script = `set -e
mount --rbind / "$ROOT"
# ProtectSystem=strict: every mount read-only, deepest first ...
for m in $(awk '{print $5}' /proc/self/mountinfo | grep "^$ROOT" | sort -r); do
  mount -o remount,bind,ro "$m" 2>/dev/null || true
done
# ProtectHome=yes and PrivateTmp=yes: empty directories in their place.
for d in /home /root /tmp; do mount -t tmpfs -o mode=1777 tmpfs "$ROOT$d"; done
# This test's files live in the temp directory just hidden: back in, read-only ...
mkdir -p "$ROOT$BOX" && mount --bind "$BOX" "$ROOT$BOX" && mount -o remount,bind,ro "$ROOT$BOX"
# So does the executable when the checkout itself is under /tmp (CI's clean clone).
mkdir -p "$ROOT$BIN" && mount --bind "$BIN" "$ROOT$BIN" && mount -o remount,bind,ro "$ROOT$BIN"
# ... but for ReadWritePaths (left out once, to show the rest does bite).
[ -n "$NO_RW" ] || mount --bind "$DATA" "$ROOT$DATA"
# NoNewPrivileges=yes, User=, Group=.
exec chroot "$ROOT" setpriv --no-new-privs --reuid=65534 --regid=65534 --clear-groups "$@"`;
      const hardened = [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "bash",
        "-c",
        script,
        "bash",
        ...command,
      ];
      const mounts = { ROOT: root, BOX: box, DATA: data, BIN: dirname(tauthBin) };

      const readOnly = run(["timeout", "30", ...hardened], { env: { ...mounts, NO_RW: "1" } });
      expect(readOnly.code).toBe(1);
      expect(readOnly.stderr).toContain("ERROR: unable to open database file"); // SQLite on a read-only directory

      const p = startProcess(hardened, { env: mounts });
      await p.waitFor(/Auth service is listening/);
      expect(statSync(join(data, "tauth.db")).uid).toBe(65534);
      // It serves: tctl (as root, outside the namespace) reads the cluster through it.
      const status = run([
        tctlBin,
        "--auth-server",
        `127.0.0.1:${port}`,
        "--identity",
        join(data, "admin-identity"),
        "status",
      ]);
      expect(status.stderr).toBe("");
      expect(status.stdout).toContain("hardened.test");
      expect(p.output()).not.toContain("ERROR");
      expect(await p.stop()).toBe(0);
    },
  );
});

/** ExecStart= split into words (test paths have no spaces) and Environment= as a map. */
function serviceCommand(unit: string): { command: string[]; environment: Record<string, string> } {
  const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1];
  if (!exec) throw new Error(`no ExecStart in:\n${unit}`);
  const environment: Record<string, string> = {};
  for (const m of unit.matchAll(/^Environment="([^=]+)=(.*)"$/gm)) environment[m[1]!] = m[2]!;
  return { command: exec.split(" "), environment };
}
