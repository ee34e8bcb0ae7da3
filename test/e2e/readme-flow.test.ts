// README.md's walk-through, run as a newcomer would: every ```sh block of "Using it" and of
// "Joining without a shared secret", in order, in one bash, on the compiled binary. Only
// what must differ on a shared test machine is substituted: ports, the system paths (moved
// under a temp dir), the login, and where dist/ is. Install and build are what the suite
// did before running, so those two lines become no-ops. If the README drifts from what the
// programs do, this test fails.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import { dist, root } from "../harness/binary.ts";
import { cleanupAfterFile, freePort, tempDir } from "../harness/proc.ts";
import { sshdPath } from "../harness/sshd.ts";

cleanupAfterFile();

/** The ```sh blocks of the README sections whose "## " titles are given, in file order. */
function shellBlocks(markdown: string, sections: string[]): string[] {
  const blocks: string[] = [];
  let inSection = false;
  let block: string[] | undefined;
  for (const line of markdown.split("\n")) {
    if (block) {
      if (line.startsWith("```")) {
        blocks.push(block.join("\n"));
        block = undefined;
      } else block.push(line);
      continue;
    }
    if (line.startsWith("## ")) inSection = sections.includes(line.slice(3).trim());
    else if (inSection && line.trim() === "```sh") block = [];
  }
  return blocks;
}

interface Places {
  work: string;
  authPort: number;
  sshPort: number;
  tpmPort: number;
  login: string;
}

/** The README as it would run here: only ports, system paths, login and dist/ change. */
function localise(script: string, p: Places): string {
  return script
    .split("\n")
    .map((line) =>
      /^(bash scripts\/setup\.sh|npm run build)\b/.test(line) ? `: # done by the test suite: ${line}` : line,
    )
    .join("\n")
    .replaceAll("0.0.0.0:3025", `127.0.0.1:${p.authPort}`)
    .replaceAll(":3025", `:${p.authPort}`)
    .replaceAll("Port 2022", `Port ${p.sshPort}`)
    .replaceAll(":2022", `:${p.sshPort}`)
    .replaceAll("port=2321", `port=${p.tpmPort}`)
    .replaceAll("port=2322", `port=${p.tpmPort + 1}`)
    .replaceAll("/usr/sbin/sshd", sshdPath)
    .replace(/(^|[\s("'=])\/(var\/lib|opt|etc)\//gm, `$1${p.work}/$2/`)
    .replace(/(^|[\s$(])dist\//gm, `$1${dist}/`)
    .replaceAll("--logins=root", `--logins=${p.login}`)
    .replaceAll("values: [root]", `values: [${p.login}]`)
    .replaceAll("root@", `${p.login}@`);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** swtpm serves on a port and the next one. */
async function portPair(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p < 65535 && (await portFree(p + 1))) return p;
  }
}

describe("README walk-through", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const sections = ["Using it", "Joining without a shared secret"];
  const blocks = shellBlocks(readme, sections);

  test("has the steps in order: setup, build, tauth, tctl, the host side, the bot, ssh", () => {
    const all = blocks.join("\n");
    const order = [
      "bash scripts/setup.sh",
      "npm run build",
      "dist/tauth start",
      "dist/tctl status",
      "host_cert",
      "type: ssh_host",
      "TrustedUserCAKeys",
      "dist/tbot start --data-dir",
      "ssh -F /opt/machine-id/ssh_config",
      "join_method: bound_keypair",
      "swtpm socket",
      "join_method: tpm",
    ];
    const at = order.map((s) => all.indexOf(s));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  test("runs as written and ends with ssh logins through token, bound keypair and TPM bots", async () => {
    const work = tempDir("readme-");
    const places: Places = {
      work,
      authPort: await freePort(),
      sshPort: await freePort(),
      tpmPort: await portPair(),
      // os.userInfo() says "unknown" under Bun here; id(1) asks NSS as sshd will.
      login: Bun.spawnSync(["id", "-un"]).stdout.toString().trim(),
    };
    const script = [
      "set -euo pipefail",
      // The test's own processes (tauth, sshd, swtpm) go when the script ends.
      "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT",
      `mkdir -p ${work}/etc/ssh ${work}/var/lib ${work}/opt`,
      // tctl's defaults (127.0.0.1:3025, /var/lib/teleport/auth/admin-identity), moved.
      `export TELEPORT_AUTH_SERVER=127.0.0.1:${places.authPort}`,
      `export TELEPORT_IDENTITY_FILE=${work}/var/lib/teleport/auth/admin-identity`,
      ...blocks.map((b) => localise(b, places)),
    ].join("\n");
    const proc = Bun.spawn(["bash", "-c", script], {
      cwd: work,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, TBOT_TPM_TCTI: undefined },
    });
    const timer = setTimeout(() => proc.kill("SIGKILL"), 50_000);
    const [out, err, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    clearTimeout(timer);
    if (code !== 0) console.error(`--- script\n${script}\n--- stdout\n${out}\n--- stderr\n${err}`);
    expect(code).toBe(0);
    expect(out).toMatch(/Cluster\s+example\.com/);
    // `ssh ... hostname` once per bot: token, bound keypair, TPM.
    const logins = out.split("\n").filter((l) => l.trim() === hostname());
    expect(logins.length).toBe(3);
    expect(out).toContain("robot");
    expect(readFileSync(join(work, "tauth.log"), "utf8")).toContain("Auth service is listening");
  }, 60_000);
});
