// How tctl prints bots with their instances (`bots ls`), one instance (`bots instances show`)
// and the result of `bots update`. Pure functions over the JSON tauth returns, so they can be
// tested without a server.

import { renderTable } from "./tctl-format.ts";

/** The parts of a bot_instance these views read (src/auth/store/types.ts has the whole). */
export interface InstanceView {
  spec: { bot_name: string; instance_id: string };
  status: {
    generation?: number;
    initial_authentication?: AuthenticationView;
    latest_authentications?: AuthenticationView[];
    latest_heartbeats?: HeartbeatView[];
    initial_heartbeat?: HeartbeatView;
  };
}

interface AuthenticationView {
  authenticated_at: string;
  join_method: string;
  join_token?: string;
  generation: number;
  remote_addr?: string;
}

interface HeartbeatView {
  recorded_at: string;
  hostname?: string;
  version?: string;
  os?: string;
  architecture?: string;
  one_shot?: boolean;
  uptime_seconds?: number;
  join_method?: string;
  renewal_interval_seconds?: number;
  outputs?: OutputHealthView[];
  config?: string;
}

interface OutputHealthView {
  name: string;
  type: string;
  healthy: boolean;
  reason?: string;
  expires?: string;
}

export interface BotView {
  metadata: { name: string };
  spec: { roles?: string[] };
  status?: { user_name?: string };
}

const authentications = (i: InstanceView): AuthenticationView[] =>
  i.status.latest_authentications?.length
    ? i.status.latest_authentications
    : i.status.initial_authentication
      ? [i.status.initial_authentication]
      : [];

const latest = <T>(xs: T[] | undefined): T | undefined => xs?.[xs.length - 1];

/**
 * The newest time the instance was heard from: a join, a renewal or a heartbeat. All are
 * the server's toISOString() times, so they compare as strings.
 */
export function lastSeen(i: InstanceView): string {
  const times = [
    i.status.initial_authentication?.authenticated_at,
    ...authentications(i).map((a) => a.authenticated_at),
    ...(i.status.latest_heartbeats ?? []).map((h) => h.recorded_at),
  ].filter((t): t is string => !!t);
  return times.sort().at(-1) ?? "";
}

const none = (xs: string[] | undefined) => (xs?.length ? xs.join(",") : "(none)");

/** What `bots ls` shows of a bot's instances: how many, and when one was last seen. */
export interface BotActivity {
  instances: number;
  lastSeen: string;
}

/** Folds a page of instances into per-bot activity, so no page needs keeping. */
export function addActivity(acc: Map<string, BotActivity>, instances: InstanceView[]): void {
  for (const i of instances) {
    const a = acc.get(i.spec.bot_name) ?? { instances: 0, lastSeen: "" };
    // ISO times: the later sorts last.
    const seen = [lastSeen(i), a.lastSeen].sort()[1]!;
    acc.set(i.spec.bot_name, { instances: a.instances + 1, lastSeen: seen });
  }
}

/** `tctl bots ls`: each bot with how many instances it has and when one was last seen. */
export function botsTable(bots: BotView[], instances: InstanceView[] | Map<string, BotActivity>): string {
  let activity = instances as Map<string, BotActivity>;
  if (Array.isArray(instances)) {
    activity = new Map();
    addActivity(activity, instances);
  }
  const rows = bots.map((b) => {
    const name = b.metadata.name;
    const a = activity.get(name);
    return [
      name,
      b.status?.user_name || `bot-${name}`,
      none(b.spec.roles),
      String(a?.instances ?? 0),
      a?.lastSeen || "never",
    ];
  });
  return renderTable({ headers: ["Bot", "User", "Roles", "Instances", "Last Seen"], rows });
}

/**
 * An instance's health as `bots instances ls` shows it, from its latest heartbeat: "stale" when
 * a daemon has not sent one for more than twice its renewal interval (by `nowMs`, the cluster's
 * clock), else "healthy" or "N failing" (outputs not healthy); "unknown" before any heartbeat.
 * A one-shot instance is never stale (it heartbeats once per run): its last run's health.
 */
export function instanceHealth(i: InstanceView, nowMs: number): string {
  const hb = latest(i.status.latest_heartbeats);
  if (!hb) return "unknown";
  const interval = hb.renewal_interval_seconds;
  const at = Date.parse(hb.recorded_at);
  if (!hb.one_shot && interval && !Number.isNaN(at) && nowMs - at > 2 * interval * 1000) return "stale";
  const failing = (hb.outputs ?? []).filter((o) => !o.healthy).length;
  return failing ? `${failing} failing` : "healthy";
}

/** `tctl bots instances ls` as text: one row per instance, with its health. */
export const INSTANCE_HEADERS = [
  "Bot",
  "Instance ID",
  "Join Method",
  "Generation",
  "Last Seen",
  "Version",
  "Health",
];

export function instancesTable(instances: InstanceView[], nowMs: number): string {
  return renderTable({ headers: INSTANCE_HEADERS, rows: instancesRows(instances, nowMs) });
}

/** The table's rows for one page of instances. */
export function instancesRows(instances: InstanceView[], nowMs: number): string[][] {
  return instances.map((i) => {
    const s = instanceSummary(i, nowMs);
    return [
      s.bot_name,
      s.instance_id,
      s.join_method,
      String(s.generation),
      s.last_seen,
      s.version ?? "",
      s.health,
    ];
  });
}

/** How many authentications `bots instances show` lists, newest first. */
export const RECENT_AUTHENTICATIONS = 5;

/** `tctl bots instances show --format=json`: the instance's facts under stable names. */
export function instanceSummary(i: InstanceView, nowMs: number = Date.now()) {
  const first = i.status.initial_authentication;
  const auths = authentications(i);
  const last = latest(auths);
  const hb = latest(i.status.latest_heartbeats);
  return {
    bot_name: i.spec.bot_name,
    instance_id: i.spec.instance_id,
    join_method: first?.join_method ?? last?.join_method ?? hb?.join_method ?? "",
    join_token: first?.join_token || undefined,
    joined_at: first?.authenticated_at ?? "",
    last_authenticated_at: last?.authenticated_at ?? "",
    first_heartbeat_at: i.status.initial_heartbeat?.recorded_at,
    first_version: i.status.initial_heartbeat?.version,
    last_heartbeat_at: hb?.recorded_at,
    last_seen: lastSeen(i),
    generation: i.status.generation ?? last?.generation ?? 0,
    version: hb?.version,
    hostname: hb?.hostname,
    os: hb?.os,
    architecture: hb?.architecture,
    one_shot: hb?.one_shot,
    renewal_interval_seconds: hb?.renewal_interval_seconds,
    health: instanceHealth(i, nowMs),
    outputs: hb?.outputs?.map((o) => ({
      name: o.name,
      type: o.type,
      healthy: o.healthy,
      reason: o.reason,
      expires: o.expires,
    })),
    config: hb?.config,
    recent_authentications: auths
      .slice(-RECENT_AUTHENTICATIONS)
      .reverse()
      .map((a) => ({
        authenticated_at: a.authenticated_at,
        join_method: a.join_method,
        generation: a.generation,
        remote_addr: a.remote_addr,
      })),
  };
}

/** `tctl bots instances show` as text: labelled lines, then the recent authentications. */
export function instanceText(i: InstanceView, nowMs: number = Date.now()): string {
  const s = instanceSummary(i, nowMs);
  const unknown = "(no heartbeat yet)";
  const fields: [string, string][] = [
    ["Bot", s.bot_name],
    ["Instance ID", s.instance_id],
    ["Join method", s.join_method],
    ["Join token", s.join_token ?? "(none)"],
    ["Joined at", s.joined_at],
    ["Last renewal", s.last_authenticated_at],
    ["Last seen", s.last_seen],
    ["Generation", String(s.generation)],
    ["tbot version", s.version ?? unknown],
    ["Host name", s.hostname ?? unknown],
    ["OS/arch", s.os ? `${s.os}/${s.architecture ?? ""}` : unknown],
    ["Mode", s.one_shot === undefined ? unknown : s.one_shot ? "one-shot" : "daemon"],
    [
      "First heartbeat",
      s.first_heartbeat_at ? `${s.first_heartbeat_at} (tbot ${s.first_version ?? "?"})` : unknown,
    ],
    ["Last heartbeat", s.last_heartbeat_at ?? unknown],
    ["Renewal interval", s.renewal_interval_seconds ? `${s.renewal_interval_seconds}s` : unknown],
    ["Health", s.health],
  ];
  const width = Math.max(...fields.map(([k]) => k.length)) + 2;
  const head = fields.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}\n`).join("");
  const table = renderTable({
    headers: ["Time", "Method", "Generation", "Remote Address"],
    rows: s.recent_authentications.map((a) => [
      a.authenticated_at,
      a.join_method,
      String(a.generation),
      a.remote_addr ?? "",
    ]),
  });
  const outputs = s.outputs
    ? s.outputs.length
      ? renderTable({
          headers: ["Output", "Type", "Health", "Expires", "Reason"],
          rows: s.outputs.map((o) => [
            o.name,
            o.type,
            o.healthy ? "healthy" : "unhealthy",
            o.expires ?? "",
            (o.reason ?? "").replace(/\s+/g, " "),
          ]),
        })
      : "(no outputs)\n"
    : `${unknown}\n`;
  const config = s.config ? s.config.replace(/^/gm, "  ").replace(/\s*$/, "\n") : `  ${unknown}\n`;
  return (
    `${head}\nOutputs (as of the last heartbeat):\n${outputs}` +
    `\nEffective configuration (secrets removed):\n${config}` +
    `\nRecent authentications (newest first):\n${table}`
  );
}

export interface BotUpdateView {
  bot: { metadata: { name: string } };
  changed: string[];
  after: { roles: string[]; logins: string[]; max_session_ttl: string };
}

/** `tctl bots update` as text: what the bot now has, and when it takes effect. */
export function botUpdateText(r: BotUpdateView): string {
  const name = r.bot.metadata.name;
  const now = `Roles: ${none(r.after.roles)}; Logins: ${none(r.after.logins)}; Max session TTL: ${r.after.max_session_ttl}`;
  if (!r.changed.length) return `Bot "${name}" already has these settings; nothing was changed. ${now}\n`;
  return `Bot "${name}" has been updated. ${now}\nThe change takes effect at the bot's next renewal or output; no rejoin is needed.\n`;
}
