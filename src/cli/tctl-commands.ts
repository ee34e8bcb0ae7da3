// The tctl commands, one entry each: name, optional local preparation (file parsing), run.

import type { Resource } from "../auth/resources/index.ts";
import type { ApiClient } from "../protocol/client.ts";
import { UserError } from "../util/errors.ts";
import type { TctlOptions } from "./tctl.ts";
import { formatResources, type OutputFormat } from "./tctl-format.ts";
import { getAll } from "./tctl-paging.ts";

export interface RunArgs {
  api: ApiClient;
  args: string[];
  opts: TctlOptions;
  prepared: unknown;
  out(s: string): void;
}

export interface TctlCommand {
  name: string;
  prepare?(args: string[], opts: TctlOptions, read: (p: string, enc: "utf8") => string): Promise<unknown>;
  run(a: RunArgs): Promise<void>;
}

export const admin = <T>(api: ApiClient, op: string, body: unknown = {}) =>
  api.post<T>(`/v1/admin/${op}`, body);

export function format(opts: TctlOptions, allowed: OutputFormat[], dflt: OutputFormat): OutputFormat {
  const f = (opts.format as string | undefined) ?? dflt;
  if (!(allowed as string[]).includes(f))
    throw new UserError(`--format must be one of ${allowed.join(", ")}, got "${f}"`);
  return f as OutputFormat;
}

function kindAndName(ref: string | undefined, needName: boolean): { kind: string; name?: string } {
  if (!ref) throw new UserError(`expected KIND${needName ? "/NAME" : "[/NAME]"}, e.g. bot/robot`);
  const i = ref.indexOf("/");
  const kind = i < 0 ? ref : ref.slice(0, i);
  const name = i < 0 ? undefined : ref.slice(i + 1);
  if (needName && !name) throw new UserError(`expected KIND/NAME, e.g. token/my-token, got "${ref}"`);
  return { kind: kind.toLowerCase(), name: name || undefined };
}

/** "bots" → "bot", "admin_identities" → "admin_identity". */
const singularKind = (kind: string) => kind.replace(/ies$/, "y").replace(/s$/, "");

export const list = (s: unknown) =>
  typeof s === "string"
    ? s
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean)
    : [];

export function one(args: string[], what: string): string {
  if (args.length !== 1) throw new UserError(`expected exactly one ${what}`);
  return args[0]!;
}

interface TokenGrant {
  token_name: string;
  token_ttl: string;
  expires: string;
  ca_pins: string[];
}

function joinInstructions(t: TokenGrant, authAddr: string): string {
  return `The bot token: ${t.token_name}
This token will expire in ${t.token_ttl}.

Run this on the new bot node to join the cluster:

> tbot start \\
   --destination-dir=./tbot-user \\
   --data-dir=./tbot-data \\
   --token=${t.token_name} \\
   --join-method=token \\
   --auth-server=${authAddr} \\
   --ca-pin=${t.ca_pins[0] ?? ""}

Please note:

  - This invitation token will expire in ${t.token_ttl}
  - ${authAddr} must be reachable from the new node
`;
}

function boundKeypairInstructions(
  t: TokenGrant & { registration_secret?: string },
  joinUri: string,
  authAddr: string,
): string {
  return `The bot token: ${t.token_name}
The registration secret: ${t.registration_secret}
(bound_keypair join method: after the first join no secret travels again. The first join
 uses the token's one allowed recovery; raise spec.bound_keypair.recovery.limit to let the bot
 rejoin by itself after its certificates expire)

Run this on the new bot node to join the cluster:

> tbot start \\
   --destination-dir=./tbot-user \\
   --data-dir=./tbot-data \\
   --join-uri=${joinUri} \\
   --ca-pin=${t.ca_pins[0] ?? ""}

Please note:

  - ${authAddr} must be reachable from the new node
`;
}

async function listKind(a: RunArgs, kind: string, filter: Record<string, string | undefined> = {}) {
  const f = format(a.opts, ["text", "yaml", "json"], "text");
  a.out(formatResources(kind, await getAll(a.api, { kind, ...filter }), f));
}

async function printGrant(a: RunArgs, grant: TokenGrant & Record<string, unknown>): Promise<void> {
  const f = format(a.opts, ["text", "json"], "text");
  // token_id, as `tctl bots add --format=json` (and the reference) names it; token_name stays
  // for scripts written against earlier versions.
  if (f === "json") a.out(`${JSON.stringify({ token_id: grant.token_name, ...grant }, null, 2)}\n`);
  else a.out(joinInstructions(grant, a.api.addr));
}

export const tctlCommands: TctlCommand[] = [
  {
    name: "status",
    async run(a) {
      const s = await admin<{ cluster_name: string; server_version: string; ca_pins: string[] }>(
        a.api,
        "status",
      );
      a.out(`Cluster  ${s.cluster_name}\nVersion  ${s.server_version}\n`);
      for (const p of s.ca_pins) a.out(`CA pin   ${p}\n`);
    },
  },
  {
    name: "create",
    async prepare(args, _opts, read) {
      const file = one(args, "resource file (tctl create [-f] FILE)");
      let text: string;
      try {
        text = read(file, "utf8");
      } catch (e) {
        throw new UserError(
          `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        );
      }
      const { parseResources } = await import("../auth/resources/index.ts");
      const resources = parseResources(text, file);
      if (!resources.length) throw new UserError(`${file}: no resources found`);
      return resources;
    },
    async run(a) {
      const resources = a.prepared as Resource[];
      const r = await admin<{ created: string[] }>(a.api, "create", {
        resources,
        upsert: a.opts.force === true,
      });
      for (const c of r.created) a.out(`${c} has been ${a.opts.force ? "created or updated" : "created"}\n`);
    },
  },
  {
    name: "get",
    async run(a) {
      const { kind, name } = kindAndName(a.args[0], false);
      const f = format(a.opts, ["yaml", "json", "text"], "yaml");
      a.out(formatResources(singularKind(kind), await getAll(a.api, { kind, name }), f));
    },
  },
  {
    name: "rm",
    async run(a) {
      const { kind, name } = kindAndName(a.args[0], true);
      await admin(a.api, "delete", { kind: singularKind(kind), name });
      a.out(`${kind} "${name}" has been deleted\n`);
    },
  },
  {
    name: "bots add",
    async run(a) {
      const name = one(a.args, "bot name (tctl bots add NAME --roles=...)");
      const roles = list(a.opts.roles);
      const method = ((a.opts["join-method"] as string | undefined) ?? "token").replace(/-/g, "_");
      const grant = await admin<TokenGrant & { bot: object; registration_secret?: string }>(
        a.api,
        "bots/add",
        {
          name,
          roles,
          logins: list(a.opts.logins),
          ttl: a.opts.ttl,
          max_session_ttl: a.opts["max-session-ttl"],
          join_method: method,
        },
      );
      const f = format(a.opts, ["text", "json"], "text");
      const joinUri = grant.registration_secret
        ? `tbot+auth+bound-keypair://${grant.token_name}:${grant.registration_secret}@${a.api.addr}`
        : undefined;
      if (f === "json")
        a.out(
          `${JSON.stringify(
            {
              user_name: `bot-${name}`,
              role_name: `bot-${name}`,
              token_id: grant.token_name,
              join_method: method,
              ...(joinUri
                ? { registration_secret: grant.registration_secret, join_uri: joinUri }
                : { token_ttl: grant.token_ttl, expires: grant.expires }),
              ca_pins: grant.ca_pins,
              auth_server: a.api.addr,
            },
            null,
            2,
          )}\n`,
        );
      else if (joinUri) a.out(boundKeypairInstructions(grant, joinUri, a.api.addr));
      else a.out(joinInstructions(grant, a.api.addr));
    },
  },
  {
    name: "bound-keypair rotate",
    async run(a) {
      const token = one(a.args, "token name (tctl bound-keypair rotate TOKEN)");
      const r = await admin<{ rotate_after: string }>(a.api, "bound-keypair/rotate", { token });
      a.out(
        `Token "${token}": the bot's key will be rotated at its next join (rotate_after ${r.rotate_after}).\n`,
      );
    },
  },
  {
    name: "bots rm",
    async run(a) {
      const name = one(a.args, "bot name");
      await admin(a.api, "bots/rm", { name });
      a.out(`Bot "${name}" deleted successfully.\n`);
    },
  },
  {
    name: "bots instances add",
    async run(a) {
      const bot = one(a.args, "bot name");
      await printGrant(a, await admin(a.api, "bots/instances/add", { bot, ttl: a.opts.ttl }));
    },
  },
  {
    name: "tokens add",
    async run(a) {
      await printGrant(
        a,
        await admin(a.api, "tokens/add", {
          type: a.opts.type ?? "bot",
          bot_name: a.opts["bot-name"],
          ttl: a.opts.ttl,
        }),
      );
    },
  },
  { name: "tokens ls", run: (a) => listKind(a, "token") },
  {
    name: "tokens rm",
    async run(a) {
      const name = one(a.args, "token name");
      await admin(a.api, "delete", { kind: "token", name });
      a.out(`Token has been deleted\n`);
    },
  },
  {
    name: "auth export",
    async run(a) {
      if (!a.opts.type)
        throw new UserError(
          "--type is required: user, host, tls-host, tls-user, db, db-client, app or spiffe",
        );
      const r = await admin<{ text: string }>(a.api, "authorities/export", { type: a.opts.type });
      a.out(r.text);
    },
  },
  {
    name: "lock",
    async run(a) {
      const r = await admin<{ metadata: { name: string } }>(a.api, "locks/create", {
        bot: a.opts.bot,
        bot_instance_id: a.opts["bot-instance"],
        admin_identity: a.opts.admin,
        message: a.opts.message,
      });
      a.out(`Created a lock with name "${r.metadata.name}".\n`);
    },
  },
  { name: "nodes ls", run: (a) => listKind(a, "node") },
];
