// tbot's command line: argv → command + flags (strict, kingpin-like: --flag=value, --flag value,
// --no-<bool>). The config start/configure build from them is in tbot-start-config.ts.

import { parseArgs } from "node:util";
import { outputRegistry } from "../agent/services/registry.ts";
import { ExitCode, UserError } from "../util/errors.ts";
import { unknownFlag } from "./unknown-flag.ts";

export interface TbotArgs {
  command: "start" | "configure" | "version" | "help" | "ssh-proxy-command" | string;
  subcommand?: string;
  flags: Record<string, string | boolean | string[]>;
  positionals: string[];
}

const options = {
  config: { type: "string", short: "c" },
  "config-string": { type: "string" },
  debug: { type: "boolean", short: "d" },
  "log-format": { type: "string" },
  fips: { type: "boolean" },
  insecure: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  "auth-server": { type: "string", short: "a" },
  "proxy-server": { type: "string" },
  token: { type: "string" },
  "join-method": { type: "string" },
  "join-uri": { type: "string" },
  "ca-pin": { type: "string", multiple: true },
  "certificate-ttl": { type: "string" },
  "renewal-interval": { type: "string" },
  oneshot: { type: "boolean" },
  "diag-addr": { type: "string" },
  "data-dir": { type: "string" },
  storage: { type: "string" },
  "destination-dir": { type: "string" },
  "pid-file": { type: "string" },
  "registration-secret": { type: "string" },
  "registration-secret-path": { type: "string" },
  "static-key-path": { type: "string" },
  output: { type: "string", short: "o" },
  destination: { type: "string" },
  "reader-user": { type: "string", multiple: true },
  "reader-group": { type: "string", multiple: true },
  "ssh-config": { type: "string" },
  "allow-reissue": { type: "boolean" },
  cluster: { type: "string" },
  "tls-routing": { type: "boolean" },
  "connection-upgrade": { type: "boolean" },
  resume: { type: "boolean" },
  user: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  overwrite: { type: "boolean" },
  format: { type: "string" },
  static: { type: "boolean" },
  service: { type: "string" },
  timeout: { type: "string" },
  write: { type: "boolean" },
  force: { type: "boolean" },
  name: { type: "string" },
  group: { type: "string" },
  "systemd-directory": { type: "string" },
  "anonymous-telemetry": { type: "boolean" },
  "tbot-path": { type: "string" },
} as const;

const globalFlags = ["config", "config-string", "debug", "log-format", "fips", "insecure", "help"];
const startFlags = [
  ...["auth-server", "proxy-server", "token", "join-method", "join-uri", "ca-pin", "certificate-ttl"],
  ...["renewal-interval", "oneshot", "diag-addr", "data-dir", "storage", "destination-dir", "pid-file"],
  ...["registration-secret", "registration-secret-path", "static-key-path"],
];
/** Flags of the `tbot start <mode>` modes that build one output (the output registry's). */
const outputModes = outputRegistry.flatMap((d) => (d.startMode ? [d.startMode] : []));
/** Every such mode has a destination (and its readers); the rest are the mode's own. */
const modeDestinationFlags = ["destination", "reader-user", "reader-group"];
const modeFlags = (mode: string): readonly string[] => {
  const m = outputModes.find((o) => o.mode === mode);
  return m ? [...modeDestinationFlags, ...m.flags] : [];
};
const allModeFlags = [...new Set([...modeDestinationFlags, ...outputModes.flatMap((m) => m.flags)])];

/** Flags each command accepts besides the global ones; subcommands as "<command> <sub>". */
const commandFlags: Record<string, readonly string[]> = {
  start: [...startFlags, ...allModeFlags],
  configure: [...startFlags, ...allModeFlags, "output"],
  version: [],
  help: [],
  "ssh-proxy-command": [
    ...["destination-dir", "proxy-server", "cluster", "tls-routing", "connection-upgrade", "resume"],
    ...["user", "host", "port"],
  ],
  "keypair create": [
    ...["proxy-server", "auth-server", "ca-pin", "insecure", "storage", "data-dir"],
    ...["overwrite", "format", "static", "static-key-path"],
  ],
  "tpm identify": [],
  "install systemd": [
    ...["write", "force", "name", "user", "group", "pid-file", "anonymous-telemetry"],
    ...["systemd-directory", "tbot-path"],
  ],
  wait: ["diag-addr", "service", "timeout"],
  migrate: ["output"],
};
const commandsWithSubcommands: Record<string, readonly string[]> = {
  keypair: ["create"],
  tpm: ["identify"],
  install: ["systemd"],
};
/** Modes of `tbot start <mode>` this build has; the reference's others are named as missing. */
const startModes = ["legacy", ...outputModes.map((m) => m.mode), "noop"];
const referenceStartModes = [
  ...["database", "kubernetes", "kubernetes/v2", "application", "application-tunnel", "application-proxy"],
  ...["database-tunnel", "ssh-multiplexer", "spiffe-svid", "workload-identity-x509", "workload-identity-jwt"],
  ...["workload-identity-api", "workload-identity-aws-roles-anywhere"],
];

/** The option table with the output modes' flags it does not declare itself (descriptor hooks). */
const parseOptions: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {
  ...options,
};
for (const m of outputModes)
  for (const f of m.flags)
    if (!(f in parseOptions)) parseOptions[f] = { type: m.booleanFlags?.includes(f) ? "boolean" : "string" };

const seeHelp = 'run "tbot help" for usage';

export function parseTbotArgs(argv: string[]): TbotArgs {
  let parsed: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      options: parseOptions,
      strict: true,
      allowPositionals: true,
      allowNegative: true,
    }) as typeof parsed;
  } catch (e) {
    throw usageError(describeParseError(e as Error & { code?: string }));
  }
  const flags: Record<string, string | boolean | string[]> = {};
  for (const [k, v] of Object.entries(parsed.values)) if (v !== undefined) flags[k] = v;

  const positionals = [...parsed.positionals];
  // No command at all is a usage error (as kingpin has it); "" tells the caller to say so.
  let command = positionals.shift() ?? (flags.help === true ? "help" : "");
  if (flags.help === true && command !== "help") {
    positionals.unshift(command);
    command = "help";
  }
  const args: TbotArgs = { command, flags, positionals };
  // Help ignores whatever else was on the line: "tbot start --help --token x" still helps.
  if (command === "help" || command === "") return args;

  let flagKey = command;
  const subcommands = commandsWithSubcommands[command];
  if (subcommands) {
    const sub = positionals.shift();
    if (sub === undefined || !subcommands.includes(sub))
      throw usageError(`"tbot ${command}" needs a subcommand: ${subcommands.join(", ")}`);
    args.subcommand = sub;
    flagKey = `${command} ${sub}`;
  } else if (command === "start" || command === "configure") {
    const mode = positionals.shift();
    if (mode !== undefined) args.subcommand = checkStartMode(command, mode);
  }
  const allowed = commandFlags[flagKey];
  if (!allowed) throw usageError(`unknown command "${command}"`);
  if (positionals.length > 0)
    throw usageError(`unexpected argument "${positionals[0]}" for "tbot ${flagKey}"`);
  for (const k of Object.keys(flags)) {
    if (!globalFlags.includes(k) && !allowed.includes(k))
      throw usageError(`flag --${k} is not valid for "tbot ${flagKey}"`);
  }
  if (command === "start" || command === "configure") {
    const mode = args.subcommand ?? "legacy";
    const own = modeFlags(mode);
    const k = allModeFlags.find((f) => f in flags && !own.includes(f));
    if (k) {
      const owners = outputModes
        .filter((m) => modeFlags(m.mode).includes(k))
        .map((m) => `"tbot ${command} ${m.mode}"`);
      throw usageError(`flag --${k} belongs to ${owners.join(" or ")}`);
    }
    // --destination-dir replaces every output, which only the legacy mode has.
    if (mode !== "legacy" && "destination-dir" in flags)
      throw usageError(
        `flag --destination-dir belongs to "tbot ${command}" without a mode; use --destination`,
      );
  }
  checkChoice(flags, "log-format", ["text", "json"]);
  checkChoice(flags, "ssh-config", ["on", "off"]);
  return args;
}

function checkStartMode(command: string, mode: string): string {
  if (startModes.includes(mode)) return mode;
  if (referenceStartModes.includes(mode))
    throw usageError(
      `"tbot ${command} ${mode}" is not supported by this build; available: ${startModes.join(", ")}`,
    );
  throw usageError(`unknown mode "${mode}" for "tbot ${command}"; available: ${startModes.join(", ")}`);
}

function checkChoice(flags: TbotArgs["flags"], name: string, choices: string[]): void {
  const v = flags[name];
  if (typeof v === "string" && !choices.includes(v))
    throw usageError(`--${name} must be one of ${choices.join(", ")}, got "${v}"`);
}

export function usageError(message: string): UserError {
  return new UserError(`${message}; ${seeHelp}`, "bad_parameter", ExitCode.usage);
}

function describeParseError(e: Error & { code?: string }): string {
  const first = e.message.split("\n")[0] ?? e.message;
  const flag = /'(-{1,2}[^' ]+)/.exec(first)?.[1];
  switch (e.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return flag ? unknownFlag(flag, Object.keys(options)) : first;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/argument missing/.test(first)) return `flag ${flag} needs a value`;
      if (/does not take an argument/.test(first)) return `flag ${flag} does not take a value`;
      if (/ambiguous/.test(first))
        return `flag ${flag} needs a value; write ${flag}=<value> if it starts with "-"`;
      return first;
    default:
      return first;
  }
}

/** Each output mode's help section (but identity's, written out below), from its descriptor. */
const modeHelpTitle = (mode: string) => `start ${mode} / configure ${mode} flags`;
const modeHelpSections = outputRegistry
  .filter((d) => d.startMode && d.startMode.mode !== "identity" && d.startMode.help)
  .map((d) => {
    const m = d.startMode!;
    // A service without a destination (the Workload API) takes none of the destination flags.
    const also = d.noDestination ? "" : " (and --destination, --reader-user/--reader-group)";
    return `${modeHelpTitle(m.mode)}${also}:\n${m.help!.trimEnd()}`;
  });
const startHelpSections = [
  "start / configure flags",
  ...outputModes.map((m) => modeHelpTitle(m.mode)),
  "Global flags",
];

export const tbotUsage = `Usage: tbot <command> [flags]

Commands:
  start [${startModes.join("|")}]
                                 Run the bot (legacy: outputs from the config file or --destination-dir)
  configure [${startModes.slice(1).join("|")}]
                                 Print the config the same flags would run with (-o FILE to write it)
  version                        Print the version
  keypair create                 Pre-generate a bound-keypair key in storage
  tpm identify                   Print this machine's TPM EK identity (-d adds the PEM blocks)
                                 [TBOT_TPM_TCTI, default device:/dev/tpmrm0]
  install systemd                Print (or --write) a systemd unit that runs "tbot start -c <config>"
  wait                           Wait until a running bot's /readyz is healthy (exit 1 on timeout)
  migrate                        Print a v1 config file (-c) as version v2 (-o FILE to write it)
  ssh-proxy-command              OpenSSH ProxyCommand used by the ssh_config tbot writes
  help [command]                 Show this help, or one command's

Global flags:
  -c, --config PATH              tbot.yaml to use [TBOT_CONFIG_PATH]
      --config-string B64        the whole config, base64-encoded [TBOT_CONFIG]
  -d, --debug                    Verbose logs and stack traces [TBOT_DEBUG=1/true/yes/on]
      --log-format text|json     Log encoding (default text)
      --fips                     FIPS mode
      --insecure                 Skip TLS verification when joining (development only)

start / configure flags (they override the config file, with a warning):
      --proxy-server HOST:PORT   Proxy address (port 443 if omitted) [TELEPORT_PROXY]
  -a, --auth-server HOST:PORT    Auth service address (port 3025 if omitted) [TELEPORT_AUTH_SERVER]
      --join-uri URI             tbot+proxy+<method>://<token>[:<secret>]@<host>:<port>
      --token TOKEN|PATH         Join token, or a file holding it [TELEPORT_BOT_TOKEN]
      --join-method METHOD       token, bound_keypair or tpm
      --ca-pin sha256:HEX        Auth CA pin (repeatable); any of --token/--join-method/--ca-pin
                                 replaces the file's whole onboarding section
      --registration-secret S    Bound-keypair registration secret [TBOT_REGISTRATION_SECRET]
      --registration-secret-path PATH
      --static-key-path PATH     Static bound-keypair private key
      --certificate-ttl DURATION Credential lifetime (default 1h)
      --renewal-interval DURATION  How often to renew (default 20m)
      --oneshot                  Write outputs once and exit
      --diag-addr HOST:PORT      Diagnostics listener (/livez, /readyz, /metrics)
      --data-dir DIR             Storage directory (default /var/lib/teleport/bot)
      --storage URI              Storage as a URI: file:///abs/path, a path, or memory://
      --destination-dir DIR      Replace all outputs with one identity output in DIR
      --pid-file PATH            Write the process id to PATH (removed again at exit)
  -o, --output PATH              (configure) write the YAML to PATH instead of stdout

start identity / configure identity flags:
      --destination URI          Where to write (a path, file:///abs/path or memory://)
      --reader-user USER, --reader-group GROUP   Not supported yet (refused: they need POSIX ACLs)
      --ssh-config on|off        Write ssh_config (default on)
      --allow-reissue            Allow the certificate to be used to issue further certificates
      --cluster NAME             Route to a leaf cluster

${modeHelpSections.map((h) => `${h}\n\n`).join("")}install systemd flags (dry run unless --write; -c with an existing config file is required):
      --write                    Write <systemd-directory>/<name>.service (mode 0644)
      --force                    Replace an existing unit whose content differs
      --name NAME                Unit name (default tbot)
      --user USER, --group GROUP The service's user and group (default teleport, teleport)
      --pid-file PATH            PID file (default /run/<name>/<name>.pid, in a RuntimeDirectory=)
      --anonymous-telemetry      Set TELEPORT_ANONYMOUS_TELEMETRY=1 (default 0; this build sends nothing)
      --systemd-directory DIR    Where to write the unit (default /etc/systemd/system)
      --tbot-path PATH           tbot path for ExecStart (default: this executable; for packaging)

keypair create flags:
      --proxy-server HOST:PORT, -a/--auth-server HOST:PORT   The cluster (else -c's file)
      --ca-pin sha256:HEX        Pin(s) for an auth server (else -c's file)
      --storage URI, --data-dir DIR   Storage to write the key into (one of them; else -c's file)
      --overwrite                Replace an existing key (or --static-key-path file)
      --format text|json         Output format (default text)
      --static                   Make a static key (not stored, never rotated)
      --static-key-path PATH     With --static: also write the private key to PATH

wait flags:
      --diag-addr HOST:PORT      The running bot's diagnostics listener (required)
      --service NAME             Wait for /readyz/NAME instead of the whole bot
      --timeout DURATION         Give up after DURATION (default: no limit)

migrate flags:
  -c, --config PATH              The v1 file (required)
  -o, --output PATH              Write the v2 YAML to PATH (mode 0600) instead of stdout

ssh-proxy-command flags (written into ssh_config by identity outputs):
      --destination-dir DIR      The identity output to connect with (required)
      --proxy-server HOST:PORT   The auth service or proxy (required)
      --host HOST                <node> or <node>.<cluster> (required)
      --cluster, --user, --port, --[no-]tls-routing, --[no-]connection-upgrade, --[no-]resume
                                 Accepted; no effect in this build

Exit codes: 0 success, 1 error, 2 usage error, 3 no usable TPM.
`;

/** The sections of the usage text a command's own help shows, by their first words. */
const helpSections: Record<string, { usage: string; sections: string[] }> = {
  start: {
    usage: `Usage: tbot start [${startModes.join("|")}] [flags]`,
    sections: startHelpSections,
  },
  configure: {
    usage: `Usage: tbot configure [${startModes.slice(1).join("|")}] [flags] [-o FILE]`,
    sections: startHelpSections,
  },
  "install systemd": {
    usage: "Usage: tbot install systemd -c CONFIG [--write [--force]] [flags]",
    sections: ["install systemd flags", "Global flags"],
  },
  "keypair create": {
    usage: "Usage: tbot keypair create (--proxy-server ADDR | --auth-server ADDR) [flags]",
    sections: ["keypair create flags", "Global flags"],
  },
  wait: {
    usage: "Usage: tbot wait --diag-addr HOST:PORT [--service NAME] [--timeout DURATION]",
    sections: ["wait flags", "Global flags"],
  },
  migrate: {
    usage: "Usage: tbot migrate -c v1.yaml [-o v2.yaml]",
    sections: ["migrate flags", "Global flags"],
  },
  "ssh-proxy-command": {
    usage: "Usage: tbot ssh-proxy-command --destination-dir DIR --proxy-server HOST:PORT --host HOST",
    sections: ["ssh-proxy-command flags", "Global flags"],
  },
};

/**
 * `tbot <command> --help` (or `tbot help <command>`): that command's usage and flags, from the
 * same text as the full help; a command without a section of its own gets the full help.
 */
export function tbotHelp(positionals: string[]): string {
  const key = [positionals.slice(0, 2).join(" "), positionals[0] ?? ""].find((k) => helpSections[k]);
  const h = key ? helpSections[key] : undefined;
  if (!h) return tbotUsage;
  const blocks = tbotUsage.split("\n\n");
  const parts = h.sections.flatMap((name) => blocks.find((b) => b.startsWith(name)) ?? []);
  return `${h.usage}\n\n${parts.join("\n\n")}\n\nRun "tbot help" for every command.\n`;
}
