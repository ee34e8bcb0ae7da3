// The bot runtime: lock storage, get an identity, produce every output, then (daemon) renew
// on every renewal_interval and on SIGHUP/SIGUSR1, with capped jittered backoff on failure.
// The last good outputs are never removed when a renewal fails.

import { arch, hostname, platform } from "node:os";
import type { BotHeartbeat } from "../protocol/messages.ts";
import { paths } from "../protocol/messages.ts";
import { UserError } from "../util/errors.ts";
import { defaultAuthPort, defaultProxyPort, requireHostPort } from "../util/host-port.ts";
import { logger } from "../util/log.ts";
import { VERSION } from "../version.ts";
import { isTransient, retryDelay, Waiter } from "./backoff.ts";
import type { BotConfig } from "./config/index.ts";
import { isProxyAddress, serverAddress } from "./connect.ts";
import { Health } from "./health.ts";
import { IdentityManager } from "./identity/acquire.ts";
import { outputDescriptor } from "./services/registry.ts";
import type { OutputService, ServiceContext } from "./services/service.ts";
import { openStore } from "./storage/open.ts";

const log = logger("TBOT");
const HEARTBEAT_INTERVAL_MS = 30 * 60_000;
/** One-shot runs try this often (the reference's 7) before giving up on a transient failure. */
const ONESHOT_ATTEMPTS = 7;
const ONESHOT_BACKOFF_CAP_MS = 5_000;

function buildServices(cfg: BotConfig): Promise<OutputService[]> {
  return Promise.all(
    cfg.services.map((s, i) => {
      const d = outputDescriptor(s.type);
      if (!d) throw new UserError(`service type "${s.type}" is not supported by this build`);
      return d.create(s, i);
    }),
  );
}

export interface RunningBot {
  /** Resolves with the exit code. */
  done: Promise<number>;
  health: Health;
  reload(): void;
  stop(): void;
}

export async function startBot(cfg: BotConfig): Promise<RunningBot> {
  const storage = openStore(cfg.storage, "storage");
  await storage.init();
  const release = await storage.lock();
  const services = await buildServices(cfg);
  const health = new Health();
  health.register("identity");
  for (const s of services) {
    await s.init();
    health.register(s.name);
  }
  const ids = new IdentityManager(cfg, storage);
  const addr = requireHostPort(serverAddress(cfg), "server address", {
    defaultPort: isProxyAddress(cfg) ? defaultProxyPort : defaultAuthPort,
  });
  const startedAt = Date.now();
  const waiter = new Waiter();
  let stopping = false;
  let lastHeartbeat = 0;

  async function heartbeat(isStartup: boolean) {
    const hb: BotHeartbeat = {
      is_startup: isStartup,
      hostname: hostname(),
      version: VERSION,
      uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
      one_shot: cfg.oneshot,
      architecture: arch(),
      os: platform(),
    };
    lastHeartbeat = Date.now();
    try {
      await ids.api().post(paths.botHeartbeat, hb);
    } catch (e) {
      log.debug("Heartbeat failed (best effort)", { error: (e as Error).message });
    }
  }

  /** One full iteration: identity, then every output. Throws on the first failure. */
  async function iterate(): Promise<void> {
    try {
      await ids.refresh();
      health.set("identity", "healthy");
    } catch (e) {
      health.set("identity", "unhealthy", (e as Error).message);
      throw e;
    }
    const id = ids.current!;
    const ctx: ServiceContext = {
      api: ids.api(),
      identity: id,
      clusterName: id.tls.clusterName,
      serverHost: addr.host,
      serverPort: addr.port,
      credentialTtlMs: cfg.credentialTtlMs,
      renewalIntervalMs: cfg.renewalIntervalMs,
    };
    const failures: string[] = [];
    let allTransient = true;
    // The heartbeat is best effort and independent of the outputs: send it alongside them.
    const beat =
      lastHeartbeat === 0 || Date.now() - lastHeartbeat > HEARTBEAT_INTERVAL_MS
        ? heartbeat(lastHeartbeat === 0)
        : null;
    await Promise.all(
      services.map(async (s) => {
        try {
          await s.run(ctx);
          health.set(s.name, "healthy");
          log.info("Generated output", { service: s.name, type: s.type });
        } catch (e) {
          health.set(s.name, "unhealthy", (e as Error).message);
          failures.push(`${s.name}: ${(e as Error).message}`);
          allTransient &&= isTransient(e);
        }
      }),
    );
    await beat;
    if (failures.length)
      throw new UserError(
        `output failed: ${failures.join("; ")}`,
        allTransient ? "connection_problem" : "bad_parameter",
      );
  }

  /** One iteration, retried with capped backoff while the failure is transient. */
  async function oneShot(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await iterate();
      } catch (e) {
        if (attempt >= ONESHOT_ATTEMPTS || !isTransient(e) || stopping) throw e;
        const delay = retryDelay(e, attempt - 1, ONESHOT_BACKOFF_CAP_MS);
        log.warn("One-shot attempt failed; retrying", {
          error: (e as Error).message,
          attempt,
          of: ONESHOT_ATTEMPTS,
          retry_in_ms: delay,
        });
        await waiter.sleep(delay);
      }
    }
  }

  const done = (async (): Promise<number> => {
    try {
      if (cfg.oneshot) {
        await oneShot();
        // A bot with no outputs (the seed guides' `services: []`) has still joined and saved its identity.
        log.info(
          services.length
            ? "One-shot mode: outputs written, exiting"
            : "One-shot mode: identity saved; no outputs configured, exiting",
        );
        return 0;
      }
      let attempt = 0;
      const capMs = Math.max(1000, Math.min(60_000, cfg.renewalIntervalMs));
      while (!stopping) {
        try {
          await iterate();
          attempt = 0;
          // A long-running agent idles between renewals: give memory back now rather than at
          // the next allocation burst (keeps the daemon's RSS flat).
          Bun.gc(true);
          log.debug("Next renewal scheduled", { in_ms: cfg.renewalIntervalMs });
          await waiter.sleep(cfg.renewalIntervalMs);
        } catch (e) {
          const delay = retryDelay(e, attempt++, capMs);
          // Before the first success there are no outputs to keep: say what is happening.
          const what = ids.current
            ? "Renewal failed; keeping the last good outputs and retrying"
            : "Could not get an identity yet; waiting for the auth server and retrying";
          log.error(what, {
            error: (e as Error).message,
            retry_in_ms: delay,
            attempt,
          });
          await waiter.sleep(delay);
        }
      }
      return 0;
    } finally {
      release();
    }
  })();

  return {
    done,
    health,
    reload() {
      log.info("Reload requested: renewing now");
      waiter.wake();
    },
    stop() {
      stopping = true;
      waiter.wake();
    },
  };
}
