// Public downloads: GET /scripts/install.sh (rendered for the address the client used),
// GET /packages/index.json (name, size, sha256 of each package) and GET /packages/<file>,
// served from `--packages-dir` only. Public because a host that runs the installer has no
// cluster identity yet; integrity comes from TLS under the host CA and the SHA-256s in the
// script, not from who may download.

import { UserError } from "../../util/errors.ts";
import type { RequestContext, Route } from "../http/router.ts";
import { RawResponse } from "../http/server.ts";
import { renderInstallScript, validInstallAddr } from "../install-script.ts";
import { contentTypeOf, type PackageDir } from "../packages.ts";
import type { AuthService } from "../service.ts";

export const downloadPaths = {
  installScript: "/scripts/install.sh",
  packagesIndex: "/packages/index.json",
  packages: "/packages/",
} as const;

export interface DownloadsConfig {
  packages?: PackageDir;
  /** host:port for clients that send no Host (HTTP/1.0); known once listening. */
  defaultAddr: () => string;
}

const noPackages = () =>
  new UserError("this auth service serves no packages; start tauth with --packages-dir DIR", "not_found");

function clientAddr(c: RequestContext, cfg: DownloadsConfig): string {
  const host = c.host || cfg.defaultAddr();
  if (!validInstallAddr(host))
    throw new UserError(`bad Host header "${host.slice(0, 100)}"`, "bad_parameter");
  return host;
}

export function downloadRoutes(svc: AuthService, cfg: DownloadsConfig): Route[] {
  return [
    {
      method: "GET",
      path: downloadPaths.installScript,
      access: "public",
      raw: true,
      handle: async (c) => {
        const ping = svc.ping();
        const script = renderInstallScript({
          clusterName: svc.clusterName,
          addr: clientAddr(c, cfg),
          caPin: ping.ca_pins[0]!,
          caPem: ping.host_ca_certs[0]!,
          packages: cfg.packages ? await cfg.packages.list() : [],
        });
        return new RawResponse(script, {
          "content-type": contentTypeOf("install.sh"),
          "content-length": String(Buffer.byteLength(script)),
          "cache-control": "no-store",
        });
      },
    },
    {
      method: "GET",
      path: downloadPaths.packagesIndex,
      access: "public",
      handle: async () => {
        if (!cfg.packages) throw noPackages();
        const list = await cfg.packages.list();
        return {
          packages: list.map((p) => ({
            name: p.name,
            size: p.size,
            sha256: p.sha256,
            url: `${downloadPaths.packages}${encodeURIComponent(p.name)}`,
            ...(p.format ? { format: p.format, arch: p.arch } : {}),
          })),
        };
      },
    },
    {
      method: "GET",
      path: downloadPaths.packages,
      prefix: true,
      access: "public",
      raw: true,
      handle: async (c) => {
        if (!cfg.packages) throw noPackages();
        let name: string;
        try {
          name = decodeURIComponent(c.path.slice(downloadPaths.packages.length));
        } catch {
          throw new UserError("bad package name", "bad_parameter");
        }
        const file = cfg.packages.find(name);
        if (!file) throw new UserError(`no package named "${name.slice(0, 200)}"`, "not_found");
        return new RawResponse(
          { file: file.path },
          {
            "content-type": contentTypeOf(name),
            "content-length": String(file.size),
            "content-disposition": `attachment; filename="${name}"`,
            "cache-control": "no-cache",
          },
        );
      },
    },
  ];
}
