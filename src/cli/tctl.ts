// tctl: the admin CLI. Thin: parse, call the admin API over mTLS with the admin identity,
// print. Resource files are parsed and validated here first so mistakes are reported with
// file:line:col before anything is sent.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ExitCode, reportError, UserError } from "../util/errors.ts";
import { VERSION } from "../version.ts";
import { tctlAuditCommands } from "./tctl-audit.ts";
import { tctlBotCommands } from "./tctl-bots.ts";
import { tctlCommands as baseCommands } from "./tctl-commands.ts";
import { connectAdmin } from "./tctl-connect.ts";
import { tctlSignCommands } from "./tctl-sign.ts";
import { tctlWebCommands } from "./tctl-web.ts";
import { unknownFlag, unknownOptionOf } from "./unknown-flag.ts";
import { writeStdout } from "./write-out.ts";

export const tctlUsage = `Usage: tctl [global flags] <command> [flags]

Global flags:
      --auth-server HOST:PORT  Auth server (env TELEPORT_AUTH_SERVER; default 127.0.0.1:3025)
  -i, --identity FILE          Admin identity file (env TELEPORT_IDENTITY_FILE;
                               default /var/lib/teleport/auth/admin-identity)
  -d, --debug                  Show details on errors

Commands:
  status                                  Cluster name, version and CA pin
  create [-f] FILE                        Create resources (bot, token, role, app, db) from YAML;
                                          -f upserts
  get KIND[/NAME] [--format=yaml|json|text]
                                          KIND: bot, role, token, bot_instance, lock, node, app,
                                          db, admin_identity (plurals too)
  rm KIND/NAME
  bots add NAME --roles=R1,R2 [--logins=L1,L2] [--ttl=1h] [--max-session-ttl=12h]\n           [--join-method=token|bound_keypair] [--format=text|json]\n  bound-keypair rotate TOKEN              Rotate the bound key at the bot's next join
  bots ls [--format=text|yaml|json]       Bots with their instance count and last seen
  bots update NAME [--add-roles=R1,R2 | --set-roles=R1,R2]
           [--add-logins=L1,L2 | --set-logins=L1,L2] [--set-max-session-ttl=DURATION]
           [--format=text|json]           Takes effect at the bot's next renewal, without a rejoin
  bots rm NAME
  bots instances ls [BOT] | bots instances add BOT [--ttl=1h] [--format=text|json]
  bots instances show BOT/INSTANCE-ID [--format=text|json]
  tokens add --type=bot --bot-name=NAME [--ttl=1h] [--format=text|json]
  tokens ls | tokens rm NAME
  auth export --type=user|host|tls-host|tls-user|db|db-client|app
                                          db: signs database servers (clients' sslrootcert);
                                          db-client: a database's ssl_ca_file; app: what an
                                          HTTPS service trusts for application certificates
  auth sign --format=db|app --host=NAME[,NAME2] --out=PREFIX [--ttl=12h]
                                          A server certificate: PREFIX.crt, PREFIX.key (0600),
                                          PREFIX.cas (the CA it trusts for clients)
  lock (--bot NAME | --bot-instance ID | --admin ID) [--message TEXT]
                                          --admin ID revokes an admin identity (see get admin_identities)
  nodes ls
  audit ls [--since=DURATION|RFC3339] [--until=DURATION|RFC3339] [--kind=K1,K2] [--bot=NAME]
           [--limit=N] [--format=text|json]
                                          The audit log of every replica, oldest first
                                          (e.g. --since=2h --kind=bot.update)
  web login                               A one-time link (5 minutes) that signs a browser in to
                                          the web console at https://AUTH/web as this admin
  version

Listings are read a page at a time and printed whole (env TCTL_PAGE_SIZE: page size, default 500).

Exit codes: 0 success, 1 error, 2 usage error.
`;

const tctlCommands = [
  ...baseCommands,
  ...tctlBotCommands,
  ...tctlAuditCommands,
  ...tctlSignCommands,
  ...tctlWebCommands,
];

export interface TctlOptions {
  [k: string]: string | boolean | string[] | undefined;
}

const globalSpec = {
  "auth-server": { type: "string" },
  identity: { type: "string", short: "i" },
  debug: { type: "boolean", short: "d" },
  format: { type: "string" },
  force: { type: "boolean", short: "f" },
  roles: { type: "string" },
  logins: { type: "string" },
  ttl: { type: "string" },
  "max-session-ttl": { type: "string" },
  "add-roles": { type: "string" },
  "set-roles": { type: "string" },
  "add-logins": { type: "string" },
  "set-logins": { type: "string" },
  "set-max-session-ttl": { type: "string" },
  "join-method": { type: "string" },
  type: { type: "string" },
  host: { type: "string" },
  out: { type: "string" },
  "bot-name": { type: "string" },
  bot: { type: "string" },
  "bot-instance": { type: "string" },
  admin: { type: "string" },
  message: { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
  kind: { type: "string" },
  limit: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export async function main(argv: string[]): Promise<number> {
  let debug = false;
  try {
    let parsed: { values: TctlOptions; positionals: string[] };
    try {
      parsed = parseArgs({
        args: argv,
        options: globalSpec,
        allowPositionals: true,
        strict: true,
      }) as typeof parsed;
    } catch (e) {
      const flag = unknownOptionOf(e as Error & { code?: string });
      const what = flag ? unknownFlag(flag, Object.keys(globalSpec)) : (e as Error).message.split("\n")[0];
      throw new UserError(`${what}; see "tctl help"`, "bad_parameter", ExitCode.usage);
    }
    const { values, positionals } = parsed;
    debug = values.debug === true;
    const [cmd, ...rest] = positionals;
    if (!cmd && !values.help) {
      // As kingpin (and tbot, tauth) do: no command is a usage error, with the usage, on stderr.
      process.stderr.write(tctlUsage);
      process.stderr.write('ERROR: expected a command; see "tctl help"\n');
      return ExitCode.usage;
    }
    if (!cmd || cmd === "help" || values.help) {
      writeStdout(tctlUsage);
      return ExitCode.ok;
    }
    if (cmd === "version") {
      writeStdout(`tctl v${VERSION}\n`);
      return ExitCode.ok;
    }
    const key = [cmd, rest[0], rest[1]].filter(Boolean).join(" ");
    const match =
      tctlCommands.find((c) => c.name === key) ??
      tctlCommands.find((c) => c.name === [cmd, rest[0]].filter(Boolean).join(" ")) ??
      tctlCommands.find((c) => c.name === cmd);
    if (!match)
      throw new UserError(
        `unknown command "${positionals.join(" ")}"; see "tctl help"`,
        "bad_parameter",
        ExitCode.usage,
      );
    const args = positionals.slice(match.name.split(" ").length);
    // Validate local inputs before connecting, so file mistakes never depend on the server.
    const prepared = match.prepare ? await match.prepare(args, values, readFileSync) : undefined;
    const api = await connectAdmin(values);
    // Synchronous, complete writes: main.ts exits right after we return (see write-out.ts).
    await match.run({ api, args, opts: values, prepared, out: writeStdout });
    return ExitCode.ok;
  } catch (e) {
    return reportError(e, debug);
  }
}
