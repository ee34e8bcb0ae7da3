// The packages tauth serves (`--packages-dir`): regular files directly in that directory
// with plain names, nothing else. A name from a URL is only ever looked up in the directory
// listing, never joined onto a path as given, so "..", slashes and symlinks lead nowhere.

import { lstatSync, readdirSync, realpathSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { UserError } from "../util/errors.ts";

/** Package-style names: letters, digits and . _ + ~ - (Debian and RPM versions use + and ~). */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;

/** The real path of `p`, also when it (or its tail) does not exist yet: the real path of its
 * deepest existing ancestor, with the missing names appended. */
function realPathOf(p: string): string {
  const abs = resolve(p);
  try {
    return realpathSync(abs);
  } catch (e) {
    const parent = dirname(abs);
    if ((e as NodeJS.ErrnoException).code !== "ENOENT" || parent === abs) return abs;
    return join(realPathOf(parent), basename(abs));
  }
}

const within = (inner: string, outer: string) =>
  inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);

/**
 * The packages directory is public; the data directory holds the CA keys and admin-identity.
 * Neither may hold the other (the data directory may not exist before the first start).
 */
export function checkPackagesDirOutside(packagesDir: string, dataDir: string): void {
  const pkg = realPathOf(packagesDir);
  const data = realPathOf(dataDir);
  if (within(pkg, data) || within(data, pkg))
    throw new UserError(
      `--packages-dir ${packagesDir} ${within(pkg, data) ? "is inside" : "contains"} the data directory ${dataDir}${pkg !== resolve(packagesDir) || data !== resolve(dataDir) ? ` (real paths ${pkg} and ${data})` : ""}; its files would be served to anyone: choose a directory outside it`,
    );
}

export interface PackageFile {
  name: string;
  size: number;
  sha256: string;
  /** "deb" or "rpm" with the architecture from the file name, when it is one. */
  format?: "deb" | "rpm";
  arch?: string;
  mtimeMs: number;
}

const CONTENT_TYPES: [RegExp, string][] = [
  [/\.deb$/, "application/vnd.debian.binary-package"],
  [/\.rpm$/, "application/x-rpm"],
  [/\.json$/, "application/json"],
  [/\.sh$/, "text/x-shellscript; charset=utf-8"],
  [/\.(sha256|asc|txt)$/, "text/plain; charset=utf-8"],
  [/\.tar$/, "application/x-tar"],
  [/\.(tar\.)?gz$|\.tgz$/, "application/gzip"],
];

export function contentTypeOf(name: string): string {
  return CONTENT_TYPES.find(([re]) => re.test(name))?.[1] ?? "application/octet-stream";
}

/** tbot_1.2.3_amd64.deb → deb/amd64; tbot-1.2.3-1.x86_64.rpm → rpm/x86_64. */
function formatOf(name: string): Pick<PackageFile, "format" | "arch"> {
  const deb = /_([a-z0-9]+)\.deb$/.exec(name);
  if (deb) return { format: "deb", arch: deb[1] };
  const rpm = /\.([a-z0-9_]+)\.rpm$/.exec(name);
  if (rpm) return { format: "rpm", arch: rpm[1] };
  return {};
}

async function sha256File(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  return h.digest("hex");
}

export class PackageDir {
  /** Hashes by name, reused while size and mtime are unchanged (a rebuilt package is rehashed). */
  private readonly cache = new Map<string, PackageFile>();
  constructor(readonly dir: string) {}

  async list(): Promise<PackageFile[]> {
    const out: PackageFile[] = [];
    for (const e of readdirSync(this.dir, { withFileTypes: true })) {
      if (!e.isFile() || !SAFE_NAME.test(e.name)) continue;
      const st = lstatSync(join(this.dir, e.name));
      let f = this.cache.get(e.name);
      if (!f || f.size !== st.size || f.mtimeMs !== st.mtimeMs) {
        f = {
          name: e.name,
          size: st.size,
          mtimeMs: st.mtimeMs,
          sha256: await sha256File(join(this.dir, e.name)),
          ...formatOf(e.name),
        };
        this.cache.set(e.name, f);
      }
      out.push(f);
    }
    // Code-point order: the same on every host, whatever its locale.
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The file named `name` if it is one of the listed ones, else undefined. */
  find(name: string): { path: string; size: number } | undefined {
    if (!SAFE_NAME.test(name)) return undefined;
    const e = readdirSync(this.dir, { withFileTypes: true }).find((d) => d.name === name);
    if (!e?.isFile()) return undefined;
    const path = join(this.dir, name);
    return { path, size: lstatSync(path).size };
  }
}
