// The install-script path end to end (issue 5, done-when 6): a local tauth serves the real
// .deb (scripts/package.ts) and /scripts/install.sh; inside a fresh debootstrap minbase root,
// `curl https://<cluster>/scripts/install.sh | bash -s -- --token=...` installs the agent and
// writes /etc/tbot.yaml; the agent then starts there as the teleport user and joins.

import { beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureBuilt, root as repo } from "../harness/binary.ts";
import { type DebianRoot, debianRoot, isRoot } from "../harness/debootstrap.ts";
import { cleanupAfterFile, run, tempDir } from "../harness/proc.ts";
import { startTauth, type TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();

let auth: TauthHandle;
let host: DebianRoot;
let token = "";

beforeAll(async () => {
  if (!isRoot) return;
  ensureBuilt();
  const packages = tempDir("served-packages-");
  const built = run([
    process.execPath,
    join(repo, "scripts/package.ts"),
    "--no-build",
    "--fast",
    "--only",
    "deb",
    "--out",
    packages,
  ]);
  if (built.code !== 0) throw new Error(`package.ts failed:\n${built.stdout}${built.stderr}`);
  auth = await startTauth({ extraArgs: ["--packages-dir", packages] });
  token = JSON.parse(
    auth.tctl(["bots", "add", "fleet", "--roles=access", "--logins=root", "--format=json"]).stdout,
  ).token_id;
  host = debianRoot(["curl"]);
  mkdirSync(host.path("/root"), { recursive: true });
  writeFileSync(host.path("/root/host-ca.pem"), auth.tctl(["auth", "export", "--type=tls-host"]).stdout);
}, 600_000);

describe.skipIf(!isRoot)("curl https://<cluster>/scripts/install.sh | bash in a debootstrap root", () => {
  test("installs the package, writes /etc/tbot.yaml for the service user, and the agent starts and joins", () => {
    const install = host.run([
      "bash",
      "-c",
      `set -o pipefail; curl -fsSL --cacert /root/host-ca.pem https://${auth.addr}/scripts/install.sh | bash -s -- --token=${token}`,
    ]);
    expect(install.stderr + install.stdout).toContain("installed tbot");
    expect(install.code).toBe(0);
    // The package is installed: dpkg knows it, the binary runs, the unit is in place.
    expect(host.run(["dpkg-query", "-W", "-f=${Status}", "tbot"]).stdout).toBe("install ok installed");
    expect(host.run(["tbot", "version"]).stdout).toMatch(/^tbot v/);
    expect(statSync(host.path("/lib/systemd/system/tbot.service")).isFile()).toBe(true);
    // The example config was replaced with one that joins this cluster, readable by the service.
    const cfg = readFileSync(host.path("/etc/tbot.yaml"), "utf8");
    expect(cfg).toContain(`auth_server: ${auth.addr}`);
    expect(cfg).toContain(`- ${auth.pin}`);
    expect(cfg).not.toContain("tbot package example");
    expect(host.run(["stat", "-c", "%a %U %G", "/etc/tbot.yaml"]).stdout.trim()).toBe("640 root teleport");
    expect(host.run(["stat", "-c", "%a %U", "/opt/machine-id"]).stdout.trim()).toBe("700 teleport");

    // No systemd runs in this root: start the agent the way the unit would (its ExecStart, as
    // User=teleport), for one iteration.
    const unit = readFileSync(host.path("/lib/systemd/system/tbot.service"), "utf8");
    const exec = /^ExecStart=(.*)$/m
      .exec(unit)![1]!
      .split(" ")
      .filter((w) => !w.startsWith("--pid-file"));
    const started = host.run([
      "setpriv",
      "--reuid=teleport",
      "--regid=teleport",
      "--init-groups",
      ...exec,
      "--oneshot",
    ]);
    expect(started.stderr).not.toContain("ERROR");
    expect(started.code).toBe(0);
    expect(started.stderr).toContain("Fetched new bot identity");
    for (const f of ["identity", "tlscert", "key-cert.pub", "ssh_config"])
      expect(statSync(host.path(`/opt/machine-id/${f}`)).isFile()).toBe(true);
    const audit = auth.auditLog();
    expect(audit.some((e) => e.event === "bot.join" && e.bot === "fleet")).toBe(true);
  }, 300_000);

  test("a second run keeps the now-administered /etc/tbot.yaml and reinstalls idempotently", () => {
    const before = readFileSync(host.path("/etc/tbot.yaml"), "utf8");
    const again = host.run([
      "bash",
      "-c",
      `set -o pipefail; curl -fsSL --cacert /root/host-ca.pem https://${auth.addr}/scripts/install.sh | bash -s -- --token=another`,
    ]);
    expect(again.code).toBe(0);
    expect(again.stderr + again.stdout).toContain("exists: keeping it");
    expect(readFileSync(host.path("/etc/tbot.yaml"), "utf8")).toBe(before);
  }, 120_000);
});
