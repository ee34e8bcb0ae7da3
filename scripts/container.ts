// A minimal container image of tbot: `bun scripts/container.ts` writes the root filesystem to
// dist/tbot-rootfs and the OCI image archive to dist/tbot-image.oci.tar, and prints the sizes.
// The image holds the unstripped binary (tctl and tauth as links), the libraries ldd lists,
// the CA bundle of Debian's ca-certificates and /etc/{passwd,group,nsswitch.conf} for user
// 65532. libtss2 (TPM joining, loaded only on TPM paths) is left out. Load it with
//   skopeo copy oci-archive:dist/tbot-image.oci.tar docker-daemon:tbot:<tag>
//   podman load -i dist/tbot-image.oci.tar         docker load -i dist/tbot-image.oci.tar
// Options: --binary PATH (default dist/tbot), --out FILE, --rootfs DIR.

import { statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { $ } from "bun";
import { buildOciArchive, type OciImage } from "./container/oci.ts";
import { buildRootfs, type Rootfs } from "./container/rootfs.ts";

const root = join(import.meta.dir, "..");

export interface ContainerBuild {
  rootfs: Rootfs;
  image: OciImage;
  binarySize: number;
  rootfsSize: number;
}

/** The tag: the binary's own version, with "+" (not allowed in tags) made "-". */
async function imageTag(binary: string): Promise<string> {
  const out = (await $`${binary} version`.quiet()).stdout.toString().trim();
  const v = /^tbot v(\S+)$/.exec(out)?.[1];
  if (!v) throw new Error(`${binary} version printed "${out}"`);
  return v.replace(/[^\w.-]/g, "-").slice(0, 128);
}

export async function buildContainer(opts: {
  binary: string;
  rootfsDir: string;
  out: string;
}): Promise<ContainerBuild> {
  const rootfs = await buildRootfs(opts.binary, opts.rootfsDir);
  // SOURCE_DATE_EPOCH, else the binary's mtime: rebuilding from the same binary gives the
  // same digests.
  const epoch = Number(process.env.SOURCE_DATE_EPOCH) || Math.floor(statSync(opts.binary).mtimeMs / 1000);
  const image = await buildOciArchive({
    rootfs: rootfs.dir,
    out: opts.out,
    tag: await imageTag(opts.binary),
    created: new Date(epoch * 1000),
    work: `${opts.out}.work`,
  });
  const du = (await $`du -sb ${rootfs.dir}`.quiet()).stdout.toString();
  return { rootfs, image, binarySize: statSync(opts.binary).size, rootfsSize: Number(du.split(/\s/)[0]) };
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB (${n} bytes)`;

if (import.meta.main) {
  const { values } = parseArgs({
    options: { binary: { type: "string" }, out: { type: "string" }, rootfs: { type: "string" } },
  });
  const binary = values.binary ?? join(root, "dist/tbot");
  const b = await buildContainer({
    binary,
    rootfsDir: values.rootfs ?? join(root, "dist/tbot-rootfs"),
    out: values.out ?? join(root, "dist/tbot-image.oci.tar"),
  });
  console.log(`binary   ${binary}: ${mib(b.binarySize)}, not stripped`);
  console.log(`rootfs   ${b.rootfs.dir}: ${mib(b.rootfsSize)}, ${b.rootfs.entries.length} entries`);
  console.log(`         libraries: ${b.rootfs.libraries.join(" ")}`);
  console.log(
    `layer    ${b.image.layerDigest}: ${mib(b.image.layerSize)} gzip, ${mib(b.image.layerUncompressedSize)} tar`,
  );
  console.log(`image    ${b.image.archive} (tag ${b.image.tag}): ${mib(b.image.archiveSize)}`);
  console.log(`manifest ${b.image.manifestDigest}`);
}
