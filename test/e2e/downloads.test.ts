// tauth's public downloads (/scripts/install.sh, /packages/index.json, /packages/<file>) with
// real curl, and install.sh run by bash against them: real .deb and .rpm packages (stand-ins
// built here with dpkg-deb and rpmbuild) installed by the real dpkg and rpm into scratch roots
// (TBOT_INSTALL_ROOT), never into this host. Plus TELEPORT_ANONYMOUS_TELEMETRY: accepted,
// nothing sent.

import { beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { tbotBin } from "../harness/binary.ts";
import { addBot, legacyArgs } from "../harness/extra.ts";
import { buildFakeDeb, buildFakeRpm, dpkgRoot, rpmRoot } from "../harness/fake-packages.ts";
import { cleanupAfterFile, type RunResult, run, tempDir } from "../harness/proc.ts";
import { startTauth, type TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();

let auth: TauthHandle;
let work: string;
let pkgDir: string;
let caFile: string;
let deb: string;
let rpm: string;

/** bash -c with a deadline, so a stuck download cannot hang the file. */
function sh(script: string, env: Record<string, string> = {}): RunResult {
  const r = Bun.spawnSync(["bash", "-c", script], {
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** `h`'s host CA, from tctl auth export, in a file for curl --cacert. */
function caFileOf(h: TauthHandle): string {
  const path = join(h.dataDir, "..", "host-ca.pem");
  if (!existsSync(path)) {
    const ca = h.tctl(["auth", "export", "--type=tls-host"]);
    if (ca.code !== 0) throw new Error(`tctl auth export: ${ca.stderr}`);
    writeFileSync(path, ca.stdout);
  }
  return path;
}

/** curl a path of `h` trusting only its host CA: status, headers (lower-cased) and body. */
function get(h: TauthHandle, path: string, extra: string[] = []) {
  const out = join(work, "curl.body");
  const r = run([
    "curl",
    "-sS",
    "--cacert",
    caFileOf(h),
    "-D",
    "-",
    "-o",
    out,
    ...extra,
    `https://${h.addr}${path}`,
  ]);
  if (r.code !== 0) throw new Error(`curl ${path}: ${r.stderr}`);
  const blocks = r.stdout.trim().split(/\r?\n\r?\n/);
  const head = blocks[blocks.length - 1]!.split(/\r?\n/);
  const status = Number(/^HTTP\/[\d.]+ (\d+)/.exec(head[0]!)?.[1]);
  const headers: Record<string, string> = {};
  for (const l of head.slice(1)) {
    const i = l.indexOf(":");
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status, headers, body: readFileSync(out) };
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const installCmd = (h: TauthHandle, args = "") =>
  `set -o pipefail; curl -fsSL --cacert ${caFileOf(h)} https://${h.addr}/scripts/install.sh | bash -s -- ${args}`;

beforeAll(async () => {
  work = tempDir("downloads-");
  pkgDir = join(work, "packages");
  mkdirSync(pkgDir);
  deb = buildFakeDeb(work, pkgDir, "0.0.1~test");
  rpm = buildFakeRpm(work, pkgDir, "0.0.1");
  writeFileSync(join(pkgDir, "notes.txt"), "release notes\n");
  // Neither of these may be served: a symlink out of the directory and a subdirectory.
  symlinkSync("/etc/passwd", join(pkgDir, "passwd-link"));
  mkdirSync(join(pkgDir, "sub"));
  writeFileSync(join(pkgDir, "sub/inner.txt"), "INNER CONTENT\n");
  writeFileSync(join(work, "outside.txt"), "outside the packages directory\n");
  auth = await startTauth({ extraArgs: ["--packages-dir", pkgDir] });
  caFile = caFileOf(auth);
});

describe("GET /scripts/install.sh", () => {
  test("is a bash script for the address the client used, with the host CA and its pin", () => {
    for (const host of [auth.addr, `localhost:${auth.port}`]) {
      const r = run(["curl", "-fsS", "--cacert", caFile, `https://${host}/scripts/install.sh`]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`AUTH_ADDR='${host}'`);
      expect(r.stdout).toContain(`CA_PIN='${auth.pin}'`);
      expect(r.stdout).toContain(`CLUSTER='${auth.clusterName}'`);
      expect(r.stdout).toContain(readFileSync(caFile, "utf8").trim());
      expect(r.stdout).not.toMatch(/@[A-Z_]+@/);
      const path = join(work, "install.sh");
      writeFileSync(path, r.stdout);
      expect(run(["bash", "-n", path]).code).toBe(0);
    }
    const g = get(auth, "/scripts/install.sh", ["--http1.1"]);
    expect(g.status).toBe(200);
    expect(g.headers["content-type"]).toBe("text/x-shellscript; charset=utf-8");
    expect(Number(g.headers["content-length"])).toBe(g.body.length);
  });

  test("lists each package with its SHA-256 for the script to check", () => {
    const text = get(auth, "/scripts/install.sh").body.toString();
    expect(text).toContain(`deb amd64 tbot_0.0.1~test_amd64.deb ${sha256(deb)} ${statSync(deb).size}`);
    expect(text).toContain(`rpm x86_64 tbot-0.0.1-1.x86_64.rpm ${sha256(rpm)} ${statSync(rpm).size}`);
  });

  test("a Host header that is not host[:port] is refused, not spliced into the script", () => {
    const g = get(auth, "/scripts/install.sh", ["--http1.1", "-H", "Host: $(touch /tmp/pwned)"]);
    expect(g.status).toBe(400);
    expect(g.body.toString()).toContain("bad Host header");
  });
});

describe("GET /packages/", () => {
  test("index.json lists the regular files with size and SHA-256, nothing else", () => {
    const g = get(auth, "/packages/index.json");
    expect(g.status).toBe(200);
    expect(g.headers["content-type"]).toBe("application/json");
    const list = (JSON.parse(g.body.toString()) as { packages: Record<string, unknown>[] }).packages;
    expect(list.map((p) => p.name)).toEqual([
      "notes.txt",
      "tbot-0.0.1-1.x86_64.rpm",
      "tbot_0.0.1~test_amd64.deb",
    ]);
    for (const p of list) {
      const file = join(pkgDir, p.name as string);
      expect(p.sha256).toBe(sha256(file));
      expect(p.size).toBe(statSync(file).size);
      expect(p.url).toBe(`/packages/${encodeURIComponent(p.name as string)}`);
    }
    expect(list[1]).toMatchObject({ format: "rpm", arch: "x86_64" });
    expect(list[2]).toMatchObject({ format: "deb", arch: "amd64" });
  });

  test("a package is served byte for byte, with its content type and length", () => {
    for (const [file, type] of [
      [deb, "application/vnd.debian.binary-package"],
      [rpm, "application/x-rpm"],
    ] as const) {
      const name = file.slice(pkgDir.length + 1);
      const g = get(auth, `/packages/${encodeURIComponent(name)}`);
      expect(g.status).toBe(200);
      expect(g.headers["content-type"]).toBe(type);
      expect(Number(g.headers["content-length"])).toBe(statSync(file).size);
      expect(g.body.equals(readFileSync(file))).toBe(true);
    }
  });

  test("nothing outside the directory, no symlink, no subdirectory", () => {
    const paths = [
      "/packages/..%2foutside.txt",
      "/packages/%2e%2e%2foutside.txt",
      "/packages/%2E%2E/outside.txt",
      "/packages/../outside.txt",
      "/packages/..",
      "/packages/passwd-link",
      "/packages/sub",
      "/packages/sub/inner.txt",
      "/packages/sub%2finner.txt",
      "/packages/%00",
      "/packages/%",
      "/packages/.%2e/data/audit.log",
    ];
    for (const p of paths) {
      const g = get(auth, p, ["--path-as-is"]);
      expect([400, 404]).toContain(g.status);
      const body = g.body.toString();
      expect(body).not.toContain("outside the packages");
      expect(body).not.toContain("root:");
      expect(body).not.toContain("INNER CONTENT");
    }
  });
});

describe("install.sh installs the package", () => {
  test("Debian: dpkg installs the verified .deb; --token writes a tbot.yaml that joins", () => {
    const root = dpkgRoot(join(work, "deb-root"));
    const token = addBot(auth, "installed");
    const r = sh(installCmd(auth, `--token=${token}`), { TBOT_INSTALL_ROOT: root });
    expect(r.stderr).toContain(`SHA-256 verified: ${sha256(deb)}`);
    expect(r.code).toBe(0);
    expect(run(["dpkg", `--root=${root}`, "-s", "tbot"]).stdout).toContain("Status: install ok installed");
    expect(readFileSync(join(root, "usr/bin/tbot"), "utf8")).toContain("fake tbot");
    const config = join(root, "etc/tbot.yaml");
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect(readFileSync(config, "utf8")).toContain(`    - ${auth.pin}`);
    // The real tbot reads that file and joins (paths moved out of /var/lib and /opt).
    const dest = join(work, "deb-out");
    const j = run([
      tbotBin,
      "start",
      "-c",
      config,
      "--data-dir",
      join(work, "deb-data"),
      "--destination-dir",
      dest,
      "--oneshot",
    ]);
    expect(j.stderr).not.toContain("ERROR");
    expect(j.code).toBe(0);
    expect(existsSync(join(dest, "identity"))).toBe(true);
  });

  test("RPM: detected from os-release, rpm installs the verified .rpm; next steps printed", () => {
    const root = rpmRoot(join(work, "rpm-root"));
    const r = sh(installCmd(auth), { TBOT_INSTALL_ROOT: root });
    expect(r.stderr).toContain("downloading tbot-0.0.1-1.x86_64.rpm");
    expect(r.code).toBe(0);
    expect(run(["rpm", `--root=${root}`, "-q", "tbot"]).stdout.trim()).toBe("tbot-0.0.1-1.x86_64");
    expect(r.stderr).toContain("systemctl enable --now tbot");
    expect(existsSync(join(root, "etc/tbot.yaml"))).toBe(false);
  });

  test("a package that does not match the SHA-256 the script was served with is not installed", () => {
    const script = join(work, "install-saved.sh");
    writeFileSync(script, get(auth, "/scripts/install.sh").body);
    const saved = join(work, "deb.orig");
    copyFileSync(deb, saved);
    const bytes = readFileSync(deb);
    bytes[bytes.length - 1]! ^= 0xff; // same size, one byte changed
    writeFileSync(deb, bytes);
    try {
      const root = dpkgRoot(join(work, "tampered-root"));
      const r = sh(`bash ${script}`, { TBOT_INSTALL_ROOT: root });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`expected ${sha256(saved)}: not installing it`);
      expect(run(["dpkg", `--root=${root}`, "-s", "tbot"]).code).not.toBe(0);
    } finally {
      copyFileSync(saved, deb);
    }
  });

  test("bad options and a non-root run without TBOT_INSTALL_ROOT stop before downloading", () => {
    const bad = sh(installCmd(auth, "--token='a b'"), { TBOT_INSTALL_ROOT: join(work, "never") });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("token and secret may hold only");
    const unknown = sh(installCmd(auth, "--frobnicate"));
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("unknown option --frobnicate");
    const nobody = sh(
      `${installCmd(auth).replace("| bash", "| setpriv --reuid=65534 --regid=65534 --clear-groups bash")}`,
    );
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain("run as root");
  });
});

describe("a tauth without --packages-dir", () => {
  test("has no packages, and its install.sh says so", async () => {
    const bare = await startTauth({ dataDir: join(tempDir("downloads-bare-"), "data") });
    try {
      const g = get(bare, "/packages/index.json");
      expect(g.status).toBe(404);
      expect(g.body.toString()).toContain("--packages-dir");
      expect(get(bare, "/packages/tbot_0.0.1~test_amd64.deb").status).toBe(404);
      const r = sh(installCmd(bare), { TBOT_INSTALL_ROOT: dpkgRoot(join(work, "bare-root")) });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("serves no deb package for amd64");
    } finally {
      await bare.stop();
    }
  });
});

describe("TELEPORT_ANONYMOUS_TELEMETRY", () => {
  test("is accepted, and nothing is sent, not even to TELEPORT_ANONYMOUS_TELEMETRY_ADDRESS", async () => {
    let connections = 0;
    const sink = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: { open: () => void connections++, data: () => {} },
    });
    try {
      const token = addBot(auth, "telemetry");
      const r = run(
        [
          ...legacyArgs(auth, { data: join(work, "tel-data"), dest: join(work, "tel-out"), token }),
          "--oneshot",
        ],
        {
          env: {
            TELEPORT_ANONYMOUS_TELEMETRY: "1",
            TELEPORT_ANONYMOUS_TELEMETRY_ADDRESS: `https://127.0.0.1:${sink.port}`,
          },
        },
      );
      expect(r.code).toBe(0);
      expect(r.stderr + r.stdout).toContain("this tbot has no telemetry, nothing is sent");
      await Bun.sleep(200);
      expect(connections).toBe(0);
      const off = run(
        [
          ...legacyArgs(auth, { data: join(work, "tel-data"), dest: join(work, "tel-out"), token }),
          "--oneshot",
        ],
        { env: { TELEPORT_ANONYMOUS_TELEMETRY: "0" } },
      );
      expect(off.code).toBe(0);
      expect(off.stderr + off.stdout).not.toContain("no telemetry");
    } finally {
      sink.stop(true);
    }
  });
});
