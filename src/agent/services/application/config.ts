// The `application` output's settings (reference §1.6): app_name and specific_tls_naming,
// read from tbot.yaml, written back by `tbot configure`, or built from the flags of
// `tbot start application`.

import type { MapReader } from "../../../util/yaml-source.ts";
import type { Destination, OutputConfig } from "../../config/types.ts";
import { nonEmptyText, note, yamlBool } from "../../config/yaml-values.ts";
import type { CommonFields, DecodeKit, ValidateKit } from "../descriptor.ts";

export type ApplicationService = OutputConfig & {
  type: "application";
  /** YAML `app_name`: the name of the app resource (tctl get apps). Required. */
  appName: string;
  /** YAML `specific_tls_naming`: also write tls.crt, tls.key and tls.cas. */
  specificTlsNaming: boolean;
};

export const applicationKeys = ["app_name", "specific_tls_naming"] as const;

export function decodeApplication(
  m: MapReader,
  common: CommonFields,
  { key, places }: DecodeKit,
): ApplicationService {
  const s: ApplicationService = { ...common, type: "application", appName: "", specificTlsNaming: false };
  if (m.has("app_name")) {
    const n = m.get("app_name");
    s.appName = nonEmptyText(n);
    note(places, `${key}.app_name`, n);
  }
  if (m.has("specific_tls_naming")) s.specificTlsNaming = yamlBool(m.get("specific_tls_naming"));
  return s;
}

export function validateApplication(s: ApplicationService, { key, label, places }: ValidateKit): void {
  if (s.appName === "")
    throw places.error(key, `${label} (application) needs app_name: the name of the app (tctl get apps)`);
  if (!/^[\x21-\x7e]{1,63}$/.test(s.appName))
    throw places.error(
      places.has(`${key}.app_name`) ? `${key}.app_name` : key,
      `${label}.app_name "${s.appName}" must be 1 to 63 printable characters without spaces`,
    );
}

export function renderApplication(s: ApplicationService): Record<string, unknown> {
  const out: Record<string, unknown> = { app_name: s.appName };
  if (s.specificTlsNaming) out.specific_tls_naming = true;
  return out;
}

export const applicationModeFlags = ["app", "specific-tls-naming"] as const;
export const applicationBooleanFlags = ["specific-tls-naming"] as const;

export const applicationModeHelp = `      --app NAME                 The app (an app resource: tctl get apps) (required)
      --specific-tls-naming      Also write tls.crt, tls.key and tls.cas`;

export function applicationFromFlags(
  flags: Readonly<Record<string, string | boolean | string[]>>,
  destination: Destination,
): ApplicationService {
  return {
    type: "application",
    destination,
    appName: typeof flags.app === "string" ? flags.app : "",
    specificTlsNaming: flags["specific-tls-naming"] === true,
  };
}
