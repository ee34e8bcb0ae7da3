// Rules for the `services` list: names (§1.5), per-service TTL overrides, each type's own
// rules (its descriptor's validate), destinations, and which services may run in one-shot mode.

import { resolve } from "node:path";
import { outputDescriptor } from "../services/registry.ts";
import type { ConfigPlaces } from "./places.ts";
import { validateTtlPair } from "./ttl-rules.ts";
import type { BotConfig } from "./types.ts";
import { validateDestination } from "./validate-destinations.ts";

const serviceNamePattern = /^[a-z\d_\-+]+$/;
/** Names the bot's own internal services use in logs, metrics and /readyz. */
export const reservedServiceNames: readonly string[] = [
  "ca-rotation",
  "crl-cache",
  "heartbeat",
  "identity",
  "spiffe-trust-bundle-cache",
];

export function validateServices(c: BotConfig, places: ConfigPlaces, warnings: string[]): void {
  const names = new Map<string, string>();
  const directories = new Map<string, string>();
  c.services.forEach((s, i) => {
    const key = `services[${i}]`;
    const label = places.label(key);

    if (s.name !== undefined) {
      const where = `${key}.name`;
      if (!serviceNamePattern.test(s.name))
        throw places.error(
          where,
          `${label}.name "${s.name}" is invalid; use only lowercase letters, digits, "_", "-" and "+"`,
        );
      if (reservedServiceNames.includes(s.name))
        throw places.error(
          where,
          `${label}.name "${s.name}" is reserved for the bot's internal services (${reservedServiceNames.join(", ")}); choose another`,
        );
      const first = names.get(s.name);
      if (first !== undefined)
        throw places.error(
          where,
          `${label}.name "${s.name}" is already used by ${first}; service names must be unique`,
        );
      names.set(s.name, label);
    }

    if ((s.credentialTtlMs === undefined) !== (s.renewalIntervalMs === undefined)) {
      const [set, missing] =
        s.credentialTtlMs !== undefined
          ? ["credential_ttl", "renewal_interval"]
          : ["renewal_interval", "credential_ttl"];
      throw places.error(
        `${key}.${set}`,
        `${label} sets ${set} without ${missing}; a service that overrides one must override both`,
      );
    }
    if (s.credentialTtlMs !== undefined && s.renewalIntervalMs !== undefined)
      validateTtlPair(s.credentialTtlMs, s.renewalIntervalMs, c.oneshot, { key, label }, places, warnings);

    if (s.execTimeoutMs !== undefined) {
      if (s.exec === undefined)
        throw places.error(
          `${key}.exec_timeout`,
          `${label} sets exec_timeout without exec; add exec or remove it`,
        );
      if (!(s.execTimeoutMs > 0))
        throw places.error(`${key}.exec_timeout`, `${label}.exec_timeout must be longer than 0s`);
    }

    const descriptor = outputDescriptor(s.type);
    descriptor?.validate?.(s, { key, label, places, oneshot: c.oneshot, warnings });

    if (c.oneshot && descriptor?.daemonOnly)
      throw places.error(key, `${label} (${s.type}) runs continuously and cannot be used with oneshot`);

    const d = s.destination;
    validateDestination(d, `${key}.destination`, places);
    if (d.type === "directory") {
      // The reference reports two services writing one place but still starts; so do we.
      // Compared as start will open them, so "out", "./out/" and "<cwd>/out" are one place.
      const place = resolve(d.path);
      const other = directories.get(place);
      if (other !== undefined)
        warnings.push(`${label} and ${other} both write to ${d.path}; their files will overwrite each other`);
      directories.set(place, label);
    }
  });
}
