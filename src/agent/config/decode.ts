// tbot.yaml text → BotConfig, with every structural problem reported at its line and column.
// Cross-field rules (address presence, exclusive options, names) live in validate.ts, because
// they must also hold after CLI flags have been laid over the file.

import { UserError } from "../../util/errors.ts";
import { normalizeAddress } from "../../util/host-port.ts";
import { type MapReader, parseYaml, type YNode } from "../../util/yaml-source.ts";
import { defaultAuthPort, defaultConfig, defaultProxyPort } from "./defaults.ts";
import { decodeDestination } from "./destination.ts";
import { parseJoinUri } from "./join-uri.ts";
import { decodeV1Destination, v1MigrationWarning } from "./legacy-v1.ts";
import { decodeOnboarding } from "./onboarding.ts";
import { ConfigPlaces } from "./places.ts";
import { decodeService } from "./services.ts";
import type { BotConfig } from "./types.ts";
import { note, text, yamlBool } from "./yaml-values.ts";

export interface DecodedConfig {
  config: BotConfig;
  warnings: string[];
  places: ConfigPlaces;
}

const topKeys = [
  "version",
  "proxy_server",
  "auth_server",
  "join_uri",
  "onboarding",
  "storage",
  "services",
  "outputs",
  "credential_ttl",
  "renewal_interval",
  "certificate_ttl",
  "oneshot",
  "debug",
  "diag_addr",
  "insecure",
  "fips",
];

/** Decodes without cross-field validation; see parseConfig for the validated form. */
export function decodeConfig(yamlText: string, file: string): DecodedConfig {
  const root = parseYaml(yamlText, file);
  if (root.missing)
    throw new UserError(`${file}: the config file is empty; see "tbot configure" for a starting point`);
  const m = root.map();
  const places = new ConfigPlaces(file);
  const warnings: string[] = [];
  const c = defaultConfig();

  const isV1 = decodeVersion(m, warnings);
  if (!isV1 && m.keys().includes("destinations"))
    m.get("destinations").fail(
      "destinations is a version v1 field; in v2 list outputs under services, e.g. " +
        "- type: identity, destination: {type: directory, path: /opt/machine-id}",
    );
  m.strict(isV1 ? [...topKeys, "destinations"] : topKeys);

  for (const [yamlKey, field, defaultPort] of [
    ["proxy_server", "proxyServer", defaultProxyPort],
    ["auth_server", "authServer", defaultAuthPort],
  ] as const) {
    if (m.has(yamlKey)) c[field] = address(m.get(yamlKey), places, defaultPort);
  }
  if (m.has("diag_addr")) c.diagAddr = address(m.get("diag_addr"), places, undefined);
  if (m.has("join_uri")) {
    const n = m.get("join_uri");
    c.joinUri = text(n).trim();
    const parsed = parseJoinUri(c.joinUri);
    if (typeof parsed === "string") n.fail(parsed);
    note(places, "join_uri", n);
  }
  if (m.has("onboarding")) c.onboarding = decodeOnboarding(m.get("onboarding"), places);
  if (m.has("storage"))
    c.storage = decodeDestination(m.get("storage"), { places, key: "storage", isStorage: true });

  decodeServices(m, isV1, c, places, warnings);
  decodeDurations(m, c, places, warnings);

  for (const k of ["oneshot", "debug", "insecure", "fips"] as const) {
    if (!m.has(k)) continue;
    c[k] = yamlBool(m.get(k));
    note(places, k, m.get(k));
  }
  return { config: c, warnings, places };
}

/** Returns true for v1 (including a missing version), which is migrated in memory. */
function decodeVersion(m: MapReader, warnings: string[]): boolean {
  if (!m.has("version")) {
    warnings.push(v1MigrationWarning);
    return true;
  }
  const n = m.get("version");
  const v = text(n).trim();
  if (v === "v2") return false;
  if (v === "v1") {
    warnings.push(v1MigrationWarning);
    return true;
  }
  return n.fail(`unrecognized config version "${v}"; use version: v2`);
}

function address(n: YNode, places: ConfigPlaces, defaultPort: number | undefined): string {
  // diag_addr may use port 0 (any free port), which tests and side-by-side bots rely on.
  const a = normalizeAddress(text(n), { defaultPort, allowPortZero: defaultPort === undefined });
  if (typeof a !== "string") n.fail(`${n.path}: ${a.error}`);
  note(places, n.path, n);
  return a;
}

function decodeServices(m: MapReader, isV1: boolean, c: BotConfig, places: ConfigPlaces, warnings: string[]) {
  const lists: [string, boolean][] = [
    ["services", false],
    ["outputs", false],
  ];
  if (isV1) lists.push(["destinations", true]);
  // All three lists merge into c.services; places keep the file's own spelling ("outputs[0]")
  // as the label, so messages name what the user wrote.
  for (const [yamlKey, legacy] of lists) {
    if (!m.has(yamlKey)) continue;
    if (yamlKey === "outputs")
      warnings.push("outputs is deprecated; use services instead (its entries were appended to services)");
    for (const item of m.get(yamlKey).list()) {
      const key = `services[${c.services.length}]`;
      c.services.push(legacy ? decodeV1Destination(item, key, places) : decodeService(item, key, places));
    }
  }
}

function decodeDurations(m: MapReader, c: BotConfig, places: ConfigPlaces, warnings: string[]) {
  if (m.has("certificate_ttl")) {
    const n = m.get("certificate_ttl");
    const ttl = n.duration();
    if (m.has("credential_ttl")) {
      warnings.push(
        "certificate_ttl is deprecated and is ignored because credential_ttl is also set; remove it",
      );
    } else {
      warnings.push("certificate_ttl is deprecated; rename it to credential_ttl");
      c.credentialTtlMs = ttl;
      note(places, "credential_ttl", n);
    }
  }
  if (m.has("credential_ttl")) {
    c.credentialTtlMs = m.get("credential_ttl").duration();
    note(places, "credential_ttl", m.get("credential_ttl"));
  }
  if (m.has("renewal_interval")) {
    c.renewalIntervalMs = m.get("renewal_interval").duration();
    note(places, "renewal_interval", m.get("renewal_interval"));
  }
}
