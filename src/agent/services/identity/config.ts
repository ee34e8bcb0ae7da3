// The `identity` output's settings (reference §1.6): ssh_config on/off, allow_reissue and
// cluster, read from tbot.yaml, written back by `tbot configure`, or built from the flags of
// `tbot start identity`.

import type { MapReader, YNode } from "../../../util/yaml-source.ts";
import type { Destination, OutputConfig } from "../../config/types.ts";
import { describe, nonEmptyText, yamlBool } from "../../config/yaml-values.ts";
import type { CommonFields, ValidateKit } from "../descriptor.ts";

export type IdentityService = OutputConfig & {
  type: "identity";
  sshConfig: boolean;
  allowReissue: boolean;
  cluster?: string;
};

export const identityKeys = ["ssh_config", "allow_reissue", "cluster"] as const;

/** An identity output with every setting at its default (`--destination-dir`, v1 files). */
export function defaultIdentityService(destination: Destination): IdentityService {
  return { type: "identity", destination, sshConfig: true, allowReissue: false };
}

export function decodeIdentity(m: MapReader, common: CommonFields): IdentityService {
  const s: IdentityService = {
    ...common,
    type: "identity",
    sshConfig: m.has("ssh_config") ? onOff(m.get("ssh_config")) : true,
    allowReissue: m.has("allow_reissue") ? yamlBool(m.get("allow_reissue")) : false,
  };
  if (m.has("cluster")) s.cluster = nonEmptyText(m.get("cluster"));
  return s;
}

/**
 * allow_reissue: true asks for output certificates that can obtain further certificates; this
 * build never issues those, so it is refused rather than silently ignored.
 */
export function validateIdentity(s: IdentityService, { key, label, places }: ValidateKit): void {
  if (s.allowReissue)
    throw places.error(
      places.has(`${key}.allow_reissue`) ? `${key}.allow_reissue` : key,
      `${label}.allow_reissue: true is not supported: this build's output certificates can never be used to obtain further certificates; remove it (or --allow-reissue)`,
    );
}

/** ssh_config is documented as on/off; a boolean means the same. */
function onOff(n: YNode): boolean {
  const v = n.isScalar() ? (n.node as { value: unknown }).value : undefined;
  if (typeof v === "boolean") return v;
  if (v === "on") return true;
  if (v === "off") return false;
  return n.fail(`${n.path} must be "on" or "off", got ${describe(n)}`);
}

export function renderIdentity(s: IdentityService): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!s.sshConfig) out.ssh_config = "off";
  if (s.allowReissue) out.allow_reissue = true;
  if (s.cluster !== undefined) out.cluster = s.cluster;
  return out;
}

export const identityModeFlags = ["ssh-config", "allow-reissue", "cluster"] as const;

export function identityFromFlags(
  flags: Readonly<Record<string, string | boolean | string[]>>,
  destination: Destination,
): IdentityService {
  const s: IdentityService = {
    type: "identity",
    destination,
    sshConfig: flags["ssh-config"] !== "off",
    allowReissue: flags["allow-reissue"] === true,
  };
  if (typeof flags.cluster === "string") s.cluster = flags.cluster;
  return s;
}
