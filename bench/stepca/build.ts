// Builds bench/renewal.ts's Go programs into a cache outside git (never committed):
//   - loadgen: our renewal load generator (bench/stepca/loadgen), for tauth and step-ca alike;
//   - step-ca: step-ca 0.19 from Debian's packaged sources (golang-github-smallstep-
//     certificates-dev) with our small main (bench/stepca/stepca-main).
// Installs golang-go and the -dev package with apt-get when they are missing (as root), and
// builds in GOPATH mode against /usr/share/gocode, where Debian's Go sources live. A build is
// reused while its sources are unchanged (a hash of them names it).
//   bun bench/stepca/build.ts     # prints the two paths

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "bun";

const here = import.meta.dir;
export const cacheDir =
  process.env.TBOT_BENCH_CACHE || join(here, "..", "..", "node_modules", ".cache", "tbot-bench");
const GOPATH = "/usr/share/gocode";
const STEPCA_SRC = `${GOPATH}/src/github.com/smallstep/certificates`;
const PACKAGES = ["golang-go", "golang-github-smallstep-certificates-dev"];

function sh(cmd: string[], env: Record<string, string> = {}, cwd?: string): string {
  const r = spawnSync(cmd, { cwd, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0)
    throw new Error(`${cmd.join(" ")} failed (${r.exitCode}):\n${r.stderr.toString()}${r.stdout.toString()}`);
  return r.stdout.toString();
}

function goBinary(): string {
  for (const p of ["/usr/bin/go", "/usr/lib/go/bin/go"]) if (existsSync(p)) return p;
  return "";
}

function ensurePackages(): void {
  if (goBinary() && existsSync(STEPCA_SRC)) return;
  console.error(`installing ${PACKAGES.join(" ")} (apt-get)…`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    spawnSync(["apt-get", "install", "-y", "-q", ...PACKAGES], {
      env: { ...process.env, ...env },
      stdout: "ignore",
      stderr: "pipe",
    });
  let r = install();
  if (r.exitCode !== 0) {
    sh(["apt-get", "update", "-q"], env);
    r = install();
  }
  if (r.exitCode !== 0) throw new Error(`apt-get install ${PACKAGES.join(" ")} failed:\n${r.stderr}`);
}

function sourceHash(dir: string): string {
  const h = createHash("sha256");
  for (const f of readdirSync(dir).sort())
    if (f.endsWith(".go")) h.update(f).update(readFileSync(join(dir, f)));
  return h.digest("hex").slice(0, 12);
}

function build(name: string, dir: string): string {
  const out = join(cacheDir, `${name}-${sourceHash(dir)}`);
  if (existsSync(out)) return out;
  console.error(`building ${name} (go, GOPATH mode against Debian's sources)…`);
  sh(
    [goBinary(), "build", "-o", out, "."],
    {
      GO111MODULE: "off",
      GOPATH,
      GOCACHE: join(cacheDir, "go-build"),
      GOFLAGS: "",
    },
    dir,
  );
  return out;
}

export function buildGoTools(): { loadgen: string; stepCa: string } {
  ensurePackages();
  mkdirSync(cacheDir, { recursive: true });
  return {
    loadgen: build("loadgen", join(here, "loadgen")),
    stepCa: build("step-ca", join(here, "stepca-main")),
  };
}

if (import.meta.main) console.log(buildGoTools());
