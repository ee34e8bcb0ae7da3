// tbot: the agent's command line. Arguments are parsed before anything heavy is imported so
// that `tbot version` and the one-shot path start fast.

import { chmodSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolveConfigPaths } from "../agent/config/resolve-paths.ts";
import { envBool } from "../util/env-bool.ts";
import { ExitCode, reportError, UserError } from "../util/errors.ts";
import { VERSION } from "../version.ts";
import { parseTbotArgs, tbotHelp, tbotUsage, usageError } from "./tbot-args.ts";
import { buildStartConfig } from "./tbot-start-config.ts";

export async function main(argv: string[]): Promise<number> {
  // One reading of TBOT_DEBUG for every command (util/env-bool.ts); a value that is not a
  // boolean is false with a warning, which start and configure give with their other warnings.
  const envDebug = envBool(process.env, "TBOT_DEBUG");
  let debug = argv.includes("-d") || argv.includes("--debug") || envDebug.value;
  let jsonLogs = false;
  try {
    const args = parseTbotArgs(argv);
    if (envDebug.warning && args.command !== "start" && args.command !== "configure")
      process.stderr.write(`WARNING: ${envDebug.warning}\n`);
    switch (args.command) {
      case "":
        // As kingpin does: no command is a usage error, with the usage, on stderr.
        process.stderr.write(tbotUsage);
        process.stderr.write('ERROR: expected a command; run "tbot help" for usage\n');
        return ExitCode.usage;
      case "version":
        process.stdout.write(`tbot v${VERSION}\n`);
        return ExitCode.ok;
      case "help":
        process.stdout.write(tbotHelp(args.positionals));
        return ExitCode.ok;
      case "configure": {
        const { renderConfigYaml } = await import("../agent/config/index.ts");
        const { config, warnings } = await buildStartConfig(args, process.env);
        for (const w of warnings) process.stderr.write(`WARNING: ${w}\n`);
        const yaml = renderConfigYaml(config);
        const out = args.flags.output as string | undefined;
        if (out) {
          writeFileSync(out, yaml, { mode: 0o600 });
          // The YAML holds the join token; mode only applies to new files, so tighten an old one.
          chmodSync(out, 0o600);
          process.stderr.write(`Wrote config to ${out}\n`);
        } else process.stdout.write(yaml);
        return ExitCode.ok;
      }
      case "start":
        return await start(args);
      case "keypair": {
        const { keypairCreateOptions } = await import("./tbot-keypair.ts");
        const { keypairCreate } = await import("../agent/keypair-create.ts");
        process.stdout.write(await keypairCreate(await keypairCreateOptions(args, process.env)));
        return ExitCode.ok;
      }
      case "tpm": {
        const { tpmIdentify } = await import("./tbot-tpm.ts");
        return await tpmIdentify({ debug });
      }
      case "install": {
        const { tbotInstallSystemd } = await import("./tbot-install.ts");
        return tbotInstallSystemd(args, process.env);
      }
      case "migrate": {
        const { tbotMigrate } = await import("./tbot-migrate.ts");
        return await tbotMigrate(args, process.env);
      }
      case "wait":
        return await wait(args);
      case "ssh-proxy-command": {
        const dir = args.flags["destination-dir"] as string | undefined;
        const proxy = args.flags["proxy-server"] as string | undefined;
        const host = args.flags.host as string | undefined;
        if (!dir || !proxy || !host)
          throw usageError("ssh-proxy-command needs --destination-dir, --proxy-server and --host");
        const { sshProxyCommand } = await import("../agent/ssh-proxy-command.ts");
        return await sshProxyCommand({ destinationDir: dir, proxyServer: proxy, host });
      }
      default:
        throw usageError(`unknown command "${args.command}"`);
    }
  } catch (e) {
    // With --log-format json even the last line is JSON (every line parses with jq).
    if (jsonLogs) return (await import("../util/log.ts")).reportErrorJson(e, debug);
    return reportError(e, debug);
  }

  async function start(args: ReturnType<typeof parseTbotArgs>): Promise<number> {
    // The same build and validation as `configure`, so both refuse a config alike; only then
    // are relative paths made absolute, once, against the directory tbot was started in.
    const built = await buildStartConfig(args, process.env);
    const config = resolveConfigPaths(built.config, process.cwd());
    const warnings = built.warnings;
    debug = debug || config.debug;
    const { configureLogging, logger } = await import("../util/log.ts");
    const fmt = (args.flags["log-format"] as string | undefined) ?? "text";
    configureLogging({ debug, format: fmt === "json" ? "json" : "text" });
    jsonLogs = fmt === "json";
    const log = logger("TBOT");
    for (const w of warnings) log.warn(w);
    const telemetry = (await import("../agent/telemetry.ts")).telemetryNotice(process.env);
    if (telemetry.warning) log.warn(telemetry.warning);
    if (telemetry.info) log.info(telemetry.info);
    const pidFile = args.flags["pid-file"] as string | undefined;
    if (pidFile) writePidFile(pidFile);
    try {
      // prom-client is loaded only with a diagnostics listener: the one-shot path stays lean.
      const metrics = config.diagAddr ? (await import("../agent/metrics.ts")).createMetrics() : undefined;
      const { startBot } = await import("../agent/bot.ts");
      const bot = await startBot(config, metrics);
      const onStop = () => bot.stop();
      const onReload = () => bot.reload();
      process.on("SIGINT", onStop);
      process.on("SIGTERM", onStop);
      process.on("SIGHUP", onReload);
      process.on("SIGUSR1", onReload);
      let diag: { stop(): void } | undefined;
      if (config.diagAddr) {
        const { startDiagServer } = await import("../agent/diag.ts");
        diag = startDiagServer(config.diagAddr, bot.health, metrics!, debug);
      }
      try {
        return await bot.done;
      } finally {
        diag?.stop();
      }
    } finally {
      if (pidFile) removePidFile(pidFile);
    }
  }
}

/** `tbot wait --diag-addr HOST:PORT [--service NAME] [--timeout D]`. */
async function wait(args: ReturnType<typeof parseTbotArgs>): Promise<number> {
  const diagAddr = args.flags["diag-addr"] as string | undefined;
  if (!diagAddr) throw usageError('"tbot wait" needs --diag-addr HOST:PORT (the bot\'s diag_addr)');
  let timeoutMs = 0;
  const t = args.flags.timeout as string | undefined;
  if (t !== undefined) {
    const { parseDuration } = await import("../util/duration.ts");
    const ms = parseDuration(t);
    if (typeof ms === "string") throw usageError(`--timeout: ${ms}`);
    timeoutMs = ms;
  }
  const { waitReady } = await import("../agent/wait.ts");
  const service = args.flags.service as string | undefined;
  const said = await waitReady({ diagAddr, timeoutMs, ...(service !== undefined ? { service } : {}) });
  process.stderr.write(`${said}\n`);
  return ExitCode.ok;
}

/** Remove the PID file at exit, unless another process has written its own PID there since. */
function removePidFile(path: string): void {
  try {
    if (readFileSync(path, "utf8").trim() === String(process.pid)) rmSync(path, { force: true });
  } catch {}
}

/** A unit's PID file is often in /run, which only root can write: say so instead of a bare EACCES. */
function writePidFile(path: string): void {
  try {
    writeFileSync(path, `${process.pid}\n`);
  } catch (e) {
    throw new UserError(
      `cannot write the PID file ${path}: ${(e as Error).message}; ` +
        `the user running tbot must be able to write it (or choose another --pid-file)`,
    );
  }
}
