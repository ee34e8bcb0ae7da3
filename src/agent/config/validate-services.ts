// Rules for the `services` list: names (§1.5), per-service TTL overrides, the ssh_host
// essentials, destinations, and which services may run in one-shot mode.

import { resolve } from "node:path";
import { normalizeAddress } from "../../util/host-port.ts";
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
/**
 * Service types that only make sense in a long-running bot (tunnels, APIs, multiplexer).
 * None exist in this build yet; adding one here makes `oneshot` reject it.
 */
export const daemonOnlyServiceTypes: ReadonlySet<string> = new Set<string>();

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

    if (s.type === "ssh_host") {
      if (s.principals.length === 0)
        throw places.error(
          places.has(`${key}.principals`) ? `${key}.principals` : key,
          `${label} (ssh_host) needs at least one entry in principals: the host names the certificate is valid for`,
        );
      if (
        s.sshAddress !== undefined &&
        typeof normalizeAddress(s.sshAddress, { defaultPort: 22 }) !== "string"
      )
        throw places.error(key, `${label}.ssh_address "${s.sshAddress}" is not host:port`);
    }

    if (c.oneshot && daemonOnlyServiceTypes.has(s.type))
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
