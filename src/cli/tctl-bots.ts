// tctl bots ls / bots update / bots instances show. Listing and showing read what `tctl get`
// reads (bots and bot_instance resources) and shape it here; update is one admin call whose
// rules live in src/auth/bot-update.ts (also run here first, so a flag mistake is reported
// without a server).

import type { BotUpdateRequest } from "../auth/bot-update.ts";
import { notFound, UserError } from "../util/errors.ts";
import type { TctlOptions } from "./tctl.ts";
import {
  addActivity,
  type BotActivity,
  type BotUpdateView,
  type BotView,
  botsTable,
  botUpdateText,
  INSTANCE_HEADERS,
  type InstanceView,
  instanceSummary,
  instancesRows,
  instanceText,
} from "./tctl-bots-format.ts";
import { admin, format, list, one, type TctlCommand } from "./tctl-commands.ts";
import { formatResources, renderTable } from "./tctl-format.ts";
import { getAll, pages } from "./tctl-paging.ts";

const given = (opts: TctlOptions, flag: string) => opts[flag] !== undefined;
const listIfGiven = (opts: TctlOptions, flag: string) => (given(opts, flag) ? list(opts[flag]) : undefined);

/** `bots add` spellings that mean something else here: say which flag was meant. */
const addFlagsMisused: [string, string][] = [
  ["roles", "--set-roles or --add-roles"],
  ["logins", "--set-logins or --add-logins"],
  ["max-session-ttl", "--set-max-session-ttl"],
];

export function botUpdateRequest(args: string[], opts: TctlOptions): BotUpdateRequest {
  const name = one(args, "bot name (tctl bots update NAME --add-roles=...)");
  for (const [flag, instead] of addFlagsMisused)
    if (given(opts, flag))
      throw new UserError(`--${flag} is for "tctl bots add"; with bots update use ${instead}`);
  const req: BotUpdateRequest = { name };
  const roles = { add: listIfGiven(opts, "add-roles"), set: listIfGiven(opts, "set-roles") };
  const logins = { add: listIfGiven(opts, "add-logins"), set: listIfGiven(opts, "set-logins") };
  if (roles.add) req.add_roles = roles.add;
  if (roles.set) req.set_roles = roles.set;
  if (logins.add) req.add_logins = logins.add;
  if (logins.set) req.set_logins = logins.set;
  if (given(opts, "set-max-session-ttl")) req.max_session_ttl = String(opts["set-max-session-ttl"]);
  return req;
}

/** "BOT/UUID" (as the reference spells it), or a bare UUID. */
function instanceRef(ref: string): { bot?: string; id: string } {
  const i = ref.indexOf("/");
  if (i < 0) return { id: ref };
  const bot = ref.slice(0, i);
  const id = ref.slice(i + 1);
  if (!bot || !id) throw new UserError(`expected BOT/INSTANCE-ID, e.g. robot/3b1e…, got "${ref}"`);
  return { bot, id };
}

export const tctlBotCommands: TctlCommand[] = [
  {
    name: "bots ls",
    async run(a) {
      const f = format(a.opts, ["text", "yaml", "json"], "text");
      const bots = await getAll<BotView>(a.api, { kind: "bot" });
      // yaml and json stay the bot resources (round-trippable); the table adds instances,
      // counted a page at a time (a fleet's instances are never all in memory).
      if (f !== "text") return a.out(formatResources("bot", bots, f));
      const activity = new Map<string, BotActivity>();
      for await (const page of pages<InstanceView>(a.api, "get", { kind: "bot_instance" }, "resources"))
        addActivity(activity, page);
      a.out(botsTable(bots, activity));
    },
  },
  {
    name: "bots update",
    async prepare(args, opts) {
      const req = botUpdateRequest(args, opts);
      format(opts, ["text", "json"], "text");
      const { checkBotUpdateRequest } = await import("../auth/bot-update.ts");
      checkBotUpdateRequest(req);
      return req;
    },
    async run(a) {
      const f = format(a.opts, ["text", "json"], "text");
      const r = await admin<BotUpdateView & { before: object }>(a.api, "bots/update", a.prepared);
      if (f === "json")
        a.out(
          `${JSON.stringify({ bot: r.bot.metadata.name, changed: r.changed, before: r.before, after: r.after }, null, 2)}\n`,
        );
      else a.out(botUpdateText(r));
    },
  },
  {
    // A page at a time: each page's rows are kept (strings), never the instances themselves.
    // Health is judged by the cluster's clock (the server's Date header).
    name: "bots instances ls",
    async run(a) {
      const f = format(a.opts, ["text", "yaml", "json"], "text");
      const filter = { kind: "bot_instance", bot: a.args[0] };
      if (f !== "text") return a.out(formatResources("bot_instance", await getAll(a.api, filter), f));
      const rows: string[][] = [];
      for await (const page of pages<InstanceView>(a.api, "get", filter, "resources"))
        rows.push(...instancesRows(page, a.api.serverDate ?? Date.now()));
      a.out(renderTable({ headers: INSTANCE_HEADERS, rows }));
    },
  },
  {
    name: "bots instances show",
    async run(a) {
      const ref = one(a.args, "bot instance (tctl bots instances show BOT/INSTANCE-ID)");
      const f = format(a.opts, ["text", "json"], "text");
      const { bot, id } = instanceRef(ref);
      // BOT/ID is one lookup; a bare ID is searched for page by page on the server.
      const found = (await getAll<InstanceView>(a.api, { kind: "bot_instance", name: bot ? ref : id })).find(
        (i) => i.spec.instance_id === id && (!bot || i.spec.bot_name === bot),
      );
      if (!found)
        throw notFound(
          `bot instance "${ref}" not found; see "tctl bots instances ls${bot ? ` ${bot}` : ""}"`,
        );
      const now = a.api.serverDate ?? Date.now();
      a.out(
        f === "json" ? `${JSON.stringify(instanceSummary(found, now), null, 2)}\n` : instanceText(found, now),
      );
    },
  },
];
