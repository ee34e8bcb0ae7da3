// The container image (scripts/container.ts): its root filesystem holds only the binary, the
// libraries ldd lists, the CA bundle and a few /etc files; tbot runs a one-shot join from it
// against a local tauth, as root and as the image's user 65532; the OCI archive is well formed
// (digests, sizes, media types, config), reproducible, and a real OCI toolchain (umoci unpack,
// runc run) runs the one-shot from the image itself.
//
// Why `unshare --root --mount-proc` rather than a bare chroot: Bun aborts at start without
// /proc (it reads /proc/self/maps and friends), and every container runtime mounts one. This
// mounts a private /proc in a private mount namespace, binds nothing from the host, and keeps
// the network namespace, so the chroot reaches tauth on loopback.

import { beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { MEDIA } from "../../scripts/container/oci.ts";
import { buildContainer, type ContainerBuild } from "../../scripts/container.ts";
import { tbotBin } from "../harness/binary.ts";
import { botYaml, boundKeypairTokenYaml, tctlCreate, tokenStatus } from "../harness/bound-keypair.ts";
import { addBot } from "../harness/extra.ts";
import { cleanupAfterFile, type RunResult, run, startProcess, tempDir } from "../harness/proc.ts";
import { startTauth, type TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();

const UID = 65532;
const IMAGE_ENV = { PATH: "/usr/local/bin", SSL_CERT_FILE: "/etc/ssl/certs/ca-certificates.crt" };
const identityFiles = ["identity", "key", "key.pub", "key-cert.pub", "tlscert", "teleport-host-ca.crt"];

let auth: TauthHandle;
let work: string;
let b: ContainerBuild;
/** A copy of dist/tbot taken once, so a rebuild elsewhere during this file changes nothing. */
let binary: string;

const sha256 = (data: Uint8Array) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** Exactly `env`, nothing inherited, with a deadline. */
function runIsolated(cmd: string[], env: Record<string, string>, timeout = 60_000): RunResult {
  const r = Bun.spawnSync(cmd, { env, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** tbot one-shot inside the root filesystem, as `uid` (root when undefined). */
function oneShotInRootfs(token: string, dataDir: string, destDir: string, uid?: number): RunResult {
  const as = uid === undefined ? [] : [`--setgid=${uid}`, `--setuid=${uid}`];
  return runIsolated(
    // Found on this host's PATH: the child's environment is the image's.
    [
      Bun.which("unshare") ?? "unshare",
      "--mount",
      "--pid",
      "--fork",
      "--mount-proc",
      `--root=${b.rootfs.dir}`,
      ...as,
    ]
      .concat(["/usr/local/bin/tbot", "start", "--data-dir", dataDir, "--destination-dir", destDir])
      .concat([
        "--token",
        token,
        "--join-method",
        "token",
        "--auth-server",
        auth.addr,
        "--ca-pin",
        auth.pin,
        "--oneshot",
      ]),
    IMAGE_ENV,
  );
}

beforeAll(async () => {
  work = tempDir("container-");
  binary = join(work, "tbot");
  copyFileSync(tbotBin, binary);
  chmodSync(binary, 0o755);
  b = await buildContainer({
    binary,
    rootfsDir: join(work, "rootfs"),
    out: join(work, "tbot-image.oci.tar"),
  });
  auth = await startTauth();
});

describe("root filesystem", () => {
  test("holds the binary, the libraries ldd lists, the CA bundle and /etc files: nothing else", () => {
    const ldd = run(["ldd", binary]).stdout;
    for (const lib of b.rootfs.libraries) expect(ldd).toContain(lib);
    expect(b.rootfs.libraries.map((l) => l.split("/").pop()).sort()).toEqual(
      ["ld-linux-x86-64.so.2", "libc.so.6", "libdl.so.2", "libm.so.6", "libpthread.so.0"].filter((n) =>
        ldd.includes(n),
      ),
    );
    const files = [
      "/etc/group",
      "/etc/nsswitch.conf",
      "/etc/passwd",
      "/etc/ssl/certs/ca-certificates.crt",
      "/usr/local/bin/tauth",
      "/usr/local/bin/tbot",
      "/usr/local/bin/tctl",
      ...b.rootfs.libraries,
    ];
    const dirs = new Set<string>(["/tmp"]);
    for (const f of files)
      for (let d = f.slice(0, f.lastIndexOf("/")); d; d = d.slice(0, d.lastIndexOf("/"))) dirs.add(d);
    expect(b.rootfs.entries).toEqual([...files, ...dirs].sort());
    expect(statSync(join(b.rootfs.dir, "tmp")).mode & 0o7777).toBe(0o1777);
  });

  test("the binary is the built one byte for byte (not stripped); tctl and tauth link to it", () => {
    const inImage = readFileSync(join(b.rootfs.dir, "usr/local/bin/tbot"));
    expect(sha256(inImage)).toBe(sha256(readFileSync(binary)));
    expect(run(["readlink", join(b.rootfs.dir, "usr/local/bin/tctl")]).stdout.trim()).toBe("tbot");
  });

  test("the CA bundle is the ca-certificates package's, without this host's local CAs", () => {
    const bundle = readFileSync(join(b.rootfs.dir, "etc/ssl/certs/ca-certificates.crt"), "utf8");
    const packaged = run(["dpkg", "-L", "ca-certificates"])
      .stdout.split("\n")
      .filter((p) => /^\/usr\/share\/ca-certificates\/.+\.crt$/.test(p));
    expect((bundle.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length).toBe(packaged.length);
    const local = existsSync("/usr/local/share/ca-certificates")
      ? readdirSync("/usr/local/share/ca-certificates").filter((f) => f.endsWith(".crt"))
      : [];
    for (const f of local) {
      const body = readFileSync(join("/usr/local/share/ca-certificates", f), "utf8").match(
        /-----BEGIN CERTIFICATE-----[^-]+/,
      )?.[0];
      if (body) expect(bundle).not.toContain(body);
    }
    const passwd = readFileSync(join(b.rootfs.dir, "etc/passwd"), "utf8");
    expect(passwd).toContain(`tbot:x:${UID}:${UID}:`);
  });

  test("runs a one-shot join against a local tauth, as root", () => {
    mkdirSync(join(b.rootfs.dir, "proc")); // mount point, as a runtime creates it
    const token = addBot(auth, "container-root");
    const r = oneShotInRootfs(token, "/var/lib/tbot", "/out");
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    for (const f of identityFiles) expect(statSync(join(b.rootfs.dir, "out", f)).isFile()).toBe(true);
    const subject = run(["openssl", "x509", "-in", join(b.rootfs.dir, "out/tlscert"), "-noout", "-subject"]);
    expect(subject.stdout).toContain("CN = bot-container-root");
  });

  test("and as the image's user 65532 (storage locked with flock through libc.so.6 from the image)", () => {
    for (const d of ["home-data", "home-out"]) {
      mkdirSync(join(b.rootfs.dir, d), { mode: 0o700 });
      chownSync(join(b.rootfs.dir, d), UID, UID);
    }
    const token = addBot(auth, "container-user");
    const r = oneShotInRootfs(token, "/home-data/bot", "/home-out/id", UID);
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
    const key = statSync(join(b.rootfs.dir, "home-out/id/key"));
    expect(key.uid).toBe(UID);
    expect(existsSync(join(b.rootfs.dir, "home-data/bot/lock"))).toBe(true);
  });
});

describe("OCI image archive", () => {
  let layout: string;
  let blob: (digest: string) => Buffer;
  beforeAll(() => {
    layout = join(work, "layout");
    mkdirSync(layout);
    expect(run(["tar", "-xf", b.image.archive, "-C", layout]).code).toBe(0);
    blob = (digest) => readFileSync(join(layout, "blobs", "sha256", digest.replace(/^sha256:/, "")));
  });

  test("layout, index, manifest, config and layer: digests, sizes and media types agree", () => {
    expect(readdirSync(layout).sort()).toEqual(["blobs", "index.json", "oci-layout"]);
    expect(JSON.parse(readFileSync(join(layout, "oci-layout"), "utf8"))).toEqual({
      imageLayoutVersion: "1.0.0",
    });
    for (const f of readdirSync(join(layout, "blobs/sha256"))) expect(sha256(blob(f))).toBe(`sha256:${f}`);
    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
    expect(index).toMatchObject({ schemaVersion: 2, mediaType: MEDIA.index });
    expect(index.manifests).toHaveLength(1);
    const desc = index.manifests[0];
    expect(desc).toMatchObject({
      mediaType: MEDIA.manifest,
      platform: { architecture: "amd64", os: "linux" },
    });
    expect(desc.annotations["org.opencontainers.image.ref.name"]).toBe(b.image.tag);
    expect(desc.digest).toBe(b.image.manifestDigest);
    expect(desc.size).toBe(blob(desc.digest).length);

    const manifest = JSON.parse(blob(desc.digest).toString());
    expect(manifest).toMatchObject({ schemaVersion: 2, mediaType: MEDIA.manifest });
    expect(manifest.config.mediaType).toBe(MEDIA.config);
    expect(manifest.config.size).toBe(blob(manifest.config.digest).length);
    expect(manifest.layers).toHaveLength(1);
    const layerDesc = manifest.layers[0];
    expect(layerDesc.mediaType).toBe(MEDIA.layer);
    const layer = blob(layerDesc.digest);
    expect(layerDesc.size).toBe(layer.length);
    expect(layer.length).toBe(b.image.layerSize);

    const config = JSON.parse(blob(manifest.config.digest).toString());
    expect(config).toMatchObject({ architecture: "amd64", os: "linux" });
    expect(config.config.Entrypoint).toEqual(["/usr/local/bin/tbot"]);
    expect(config.config.User).toBe(String(UID));
    expect(config.config.Env).toContain("SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt");
    const tar = gunzipSync(layer);
    expect(config.rootfs).toEqual({ type: "layers", diff_ids: [sha256(tar)] });
  });

  test("the layer holds exactly the root filesystem, owned by root", () => {
    const listing = join(work, "layer.tgz");
    writeFileSync(listing, blob(b.image.layerDigest));
    const names = run(["tar", "-tzf", listing])
      .stdout.split("\n")
      .filter(Boolean)
      .map((n) => `/${n.replace(/\/$/, "")}`)
      .sort();
    expect(names).toEqual(b.rootfs.entries); // listed when built, before the runs above
    const owners = run(["tar", "-tvzf", listing, "--numeric-owner"]).stdout.split("\n").filter(Boolean);
    for (const l of owners) expect(l.split(/\s+/)[1]).toBe("0/0");
  });

  test("is reproducible: the same root filesystem gives the same manifest digest", async () => {
    const again = await buildContainer({
      binary,
      rootfsDir: join(work, "rootfs2"),
      out: join(work, "again.oci.tar"),
    });
    expect(again.image.manifestDigest).toBe(b.image.manifestDigest);
    expect(again.image.layerDigest).toBe(b.image.layerDigest);
  });

  test("umoci unpacks it; runc runs the README's CI one-shot from it, as user 65532, twice", async () => {
    const bundle = join(work, "bundle");
    const u = run(["umoci", "unpack", "--image", `${layout}:${b.image.tag}`, bundle]);
    expect(u.stderr).toBe("");
    expect(u.code).toBe(0);
    const cfgPath = join(bundle, "config.json");
    const spec = JSON.parse(readFileSync(cfgPath, "utf8"));
    expect(spec.process.user).toMatchObject({ uid: UID, gid: UID });
    expect(spec.process.env).toContain("SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt");

    // README "CI and platform joining", its fallback: a static bound key in a CI secret, an
    // insecure-mode token that takes it again and again, memory storage, outputs in a mounted
    // directory.
    const key = run([
      tbotBin,
      ...[
        "keypair",
        "create",
        "--static",
        "--auth-server",
        auth.addr,
        "--ca-pin",
        auth.pin,
        "--format",
        "json",
      ],
    ]);
    expect(key.code).toBe(0);
    const { public_key: pub, private_key: staticKey } = JSON.parse(key.stdout);
    tctlCreate(auth, join(work, "ci-bot.yaml"), botYaml("ci"));
    tctlCreate(
      auth,
      join(work, "ci-token.yaml"),
      boundKeypairTokenYaml("ci-static", "ci", {
        mode: "insecure",
        limit: 0,
        onboarding: [`initial_public_key: "${pub}"`],
      }),
    );
    spec.process.terminal = false;
    spec.process.env.push(`TBOT_BOUND_KEYPAIR_STATIC_KEY=${staticKey}`);
    // The image's entrypoint with `docker run IMAGE start ...`'s arguments.
    spec.process.args = [spec.process.args[0], "start", "--join-method=bound_keypair", "--token=ci-static"]
      .concat([`--auth-server=${auth.addr}`, `--ca-pin=${auth.pin}`])
      .concat(["--storage=memory://", "--destination-dir=/out", "--oneshot"]);
    // Host network (tauth listens on loopback), as `docker run --network host`.
    spec.linux.namespaces = spec.linux.namespaces.filter((n: { type: string }) => n.type !== "network");
    const state = join(work, "runc-state");
    for (const run_ of [1, 2]) {
      const out = join(work, `runc-out-${run_}`);
      mkdirSync(out);
      chownSync(out, UID, UID);
      // /out from the host, as `-v DIR:/out`.
      const mounts = [
        ...spec.mounts,
        { destination: "/out", type: "bind", source: out, options: ["rbind", "rw"] },
      ];
      writeFileSync(cfgPath, JSON.stringify({ ...spec, mounts }));
      const id = `tbot-e2e-${process.pid}-${run_}`;
      const p = startProcess(["runc", "--root", state, "run", "--bundle", bundle, id]);
      const code = await Promise.race([p.proc.exited, Bun.sleep(60_000).then(() => -1)]);
      if (code === -1) run(["runc", "--root", state, "delete", "--force", id]);
      expect(p.output()).not.toContain("ERROR");
      expect(code).toBe(0);
      for (const f of identityFiles) expect(statSync(join(out, f)).isFile()).toBe(true);
      expect(statSync(join(out, "key")).uid).toBe(UID);
    }
    expect(tokenStatus(auth, "ci-static").recovery_count).toBe(2);
  });
});
