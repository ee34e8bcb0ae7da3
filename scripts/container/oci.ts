// An OCI image layout (oci-layout, index.json, blobs/sha256/…) with one gzip layer, packed
// into a tar archive that `skopeo copy oci-archive:…`, `podman load` and `docker load`
// (Docker 25+) read. Built with Debian's own tools only: GNU tar, gzip, sha256sum. Entries get
// fixed owners and mtimes, so the same root filesystem gives the same digests.

import { chmodSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import { BIN_PATH, CA_BUNDLE_PATH, IMAGE_UID } from "./rootfs.ts";

export const MEDIA = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

export interface OciImage {
  archive: string;
  tag: string;
  archiveSize: number;
  /** The gzip layer blob, and the tar inside it (what the image unpacks to). */
  layerSize: number;
  layerUncompressedSize: number;
  layerDigest: string;
  diffId: string;
  configDigest: string;
  manifestDigest: string;
}

async function sha256(path: string): Promise<string> {
  const out = (await $`sha256sum ${path}`.quiet()).stdout.toString();
  return `sha256:${out.slice(0, 64)}`;
}

/** Files are named by digest; `tmp` moves to blobs/sha256/<hex>. Returns digest and size. */
async function addBlob(layout: string, tmp: string): Promise<{ digest: string; size: number }> {
  const digest = await sha256(tmp);
  const size = statSync(tmp).size;
  const dest = join(layout, "blobs", "sha256", digest.slice(7));
  renameSync(tmp, dest);
  chmodSync(dest, 0o644);
  return { digest, size };
}

async function addJsonBlob(layout: string, value: unknown) {
  const tmp = join(layout, "blob.json.tmp");
  writeFileSync(tmp, JSON.stringify(value));
  return addBlob(layout, tmp);
}

/** Fixed owner, mtime and order for every entry (reproducible digests). */
function tarFlags(epoch: number): string[] {
  return [
    "--sort=name",
    "--numeric-owner",
    "--owner=0",
    "--group=0",
    `--mtime=@${epoch}`,
    "--format=posix",
    "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
  ];
}

export async function buildOciArchive(opts: {
  rootfs: string;
  out: string;
  tag: string;
  created: Date;
  /** Scratch directory (created, then removed). */
  work: string;
}): Promise<OciImage> {
  const epoch = Math.floor(opts.created.getTime() / 1000);
  const created = new Date(epoch * 1000).toISOString();
  const layout = join(opts.work, "layout");
  rmSync(opts.work, { recursive: true, force: true });
  mkdirSync(join(layout, "blobs", "sha256"), { recursive: true });
  try {
    // Top-level names rather than ".", so entries read "usr/local/bin/tbot" as image
    // builders write them, and there is no "./" entry for the root itself.
    const top = readdirSync(opts.rootfs).sort();
    const layerTar = join(opts.work, "layer.tar");
    await $`tar --create --file ${layerTar} ${tarFlags(epoch)} -C ${opts.rootfs} ${top}`.quiet();
    const diffId = await sha256(layerTar);
    const layerUncompressedSize = statSync(layerTar).size;
    // -n: no name or timestamp in the gzip header (reproducible).
    await $`gzip -n -6 ${layerTar}`.quiet();
    const layer = await addBlob(layout, `${layerTar}.gz`);

    const config = await addJsonBlob(layout, {
      created,
      architecture: "amd64",
      os: "linux",
      config: {
        User: String(IMAGE_UID),
        Entrypoint: [BIN_PATH],
        Cmd: ["help"],
        Env: ["PATH=/usr/local/bin", `SSL_CERT_FILE=${CA_BUNDLE_PATH}`],
        WorkingDir: "/",
        Labels: { "org.opencontainers.image.title": "tbot", "org.opencontainers.image.version": opts.tag },
      },
      rootfs: { type: "layers", diff_ids: [diffId] },
      history: [{ created, created_by: "scripts/container.ts (tar, gzip, sha256sum)" }],
    });
    const manifest = await addJsonBlob(layout, {
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.config, digest: config.digest, size: config.size },
      layers: [{ mediaType: MEDIA.layer, digest: layer.digest, size: layer.size }],
      annotations: { "org.opencontainers.image.created": created },
    });
    writeFileSync(
      join(layout, "index.json"),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.index,
        manifests: [
          {
            mediaType: MEDIA.manifest,
            digest: manifest.digest,
            size: manifest.size,
            platform: { architecture: "amd64", os: "linux" },
            // ref.name is the tag for skopeo and podman; docker load reads the containerd name.
            annotations: {
              "org.opencontainers.image.ref.name": opts.tag,
              "io.containerd.image.name": `tbot:${opts.tag}`,
            },
          },
        ],
      }),
    );
    writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    for (const f of ["index.json", "oci-layout"]) chmodSync(join(layout, f), 0o644);

    const tmpOut = `${opts.out}.tmp`;
    await $`tar --create --file ${tmpOut} ${tarFlags(epoch)} -C ${layout} oci-layout index.json blobs`.quiet();
    renameSync(tmpOut, opts.out);
    return {
      archive: opts.out,
      tag: opts.tag,
      archiveSize: statSync(opts.out).size,
      layerSize: layer.size,
      layerUncompressedSize,
      layerDigest: layer.digest,
      diffId,
      configDigest: config.digest,
      manifestDigest: manifest.digest,
    };
  } finally {
    rmSync(opts.work, { recursive: true, force: true });
  }
}
