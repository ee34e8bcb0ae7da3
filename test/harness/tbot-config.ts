// tbot.yaml files that join a test tauth with a token (its CA pinned), and the bots they are
// for, added with tctl one after another: what the output, diagnostics and heartbeat e2e files
// start tbot with.

import { join } from "node:path";
import { addBot, writeText } from "./extra.ts";
import type { TauthHandle } from "./tauth.ts";

/**
 * A tbot.yaml (v2) text: a token join to `h` with `token` and `h`'s CA pin, storage in the
 * directory `data`, then `rest` as written (top-level keys: intervals, oneshot, services).
 */
export function tokenJoinYaml(h: TauthHandle, o: { token: string; data: string; rest: string }): string {
  return `version: v2
auth_server: ${h.addr}
onboarding:
  join_method: token
  token: ${o.token}
  ca_pins: [${h.pin}]
storage:
  type: directory
  path: ${o.data}
${o.rest}`;
}

/** `services:` with these YAML lines (list items written at column 0) indented under it. */
export function servicesYaml(services: string): string {
  return `services:
${services
  .trim()
  .split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
`;
}

export interface TokenBots {
  /**
   * A tbot.yaml in the work directory for a new bot with these services (YAML list items):
   * one-shot, or a daemon renewing hourly with `oneshot: false`. Its path and the bot's name.
   */
  config(services: string, o?: { oneshot?: boolean }): { path: string; bot: string };
  /**
   * The flags of `tbot start <mode>` for a new bot: token join to the tauth with its CA pin,
   * storage in memory, one-shot unless `oneshot: false`.
   */
  startFlags(o?: { oneshot?: boolean }): string[];
}

/**
 * Bots `${prefix}0`, `${prefix}1`, … with `roles`, added to `h` as a test needs them; the i-th's
 * config is `work`/tbot-i.yaml and its storage `work`/data-i.
 */
export function tokenBots(h: TauthHandle, work: string, prefix: string, roles: string): TokenBots {
  let n = 0;
  return {
    config(services, o = {}) {
      const i = n++;
      const bot = `${prefix}${i}`;
      const token = addBot(h, bot, roles);
      const path = writeText(
        join(work, `tbot-${i}.yaml`),
        tokenJoinYaml(h, {
          token,
          data: join(work, `data-${i}`),
          rest: `${o.oneshot === false ? "renewal_interval: 1h" : "oneshot: true"}\n${servicesYaml(services)}`,
        }),
      );
      return { path, bot };
    },
    startFlags(o = {}) {
      const token = addBot(h, `${prefix}${n++}`, roles);
      return [
        ...(o.oneshot === false ? [] : ["--oneshot"]),
        ...["--auth-server", h.addr, "--join-method", "token", "--token", token],
        ...["--ca-pin", h.pin, "--storage", "memory://"],
      ];
    },
  };
}
