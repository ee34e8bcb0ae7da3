// The bot runtime: lock storage, get an identity, produce every output, then (daemon) renew
// the identity on every renewal_interval and on SIGHUP/SIGUSR1, with capped jittered backoff
// on failure. Each output runs in its own loop: one without a renewal_interval of its own is
// produced after each renewal of the identity, one with its own on its own timer; a failing
// output retries with its own backoff and delays no other. The last good outputs are never
// removed when a renewal fails.

import { paths } from "../protocol/messages.ts";
import { UserError } from "../util/errors.ts";
import { defaultAuthPort, defaultProxyPort, requireHostPort } from "../util/host-port.ts";
import { logger } from "../util/log.ts";
import { isTransient, retryDelay, Waiter } from "./backoff.ts";
import type { BotConfig } from "./config/index.ts";
import { isProxyAddress, serverAddress } from "./connect.ts";
import { Health, type IterationObserver } from "./health.ts";
import { buildHeartbeat, heartbeatStatics } from "./heartbeat.ts";
import { IdentityManager } from "./identity/acquire.ts";
import { produceOutput, type ScheduledOutput, scheduleOutputs } from "./services/produce.ts";
import { outputDescriptor } from "./services/registry.ts";
import type { OutputService, ServiceContext } from "./services/service.ts";
import { releaseStartupPages } from "./startup-pages.ts";
import { openStore } from "./storage/open.ts";

const log = logger("TBOT");
/** After a renewal, the heartbeat waits at most this long for the outputs' pass. */
const HEARTBEAT_PASS_WAIT_MS = 30_000;
/** A change of an output's health between renewals sends a heartbeat, at most this often. */
const HEARTBEAT_CHANGE_GAP_MS = 30_000;
/** One-shot runs try this often (the reference's 7) before giving up on a transient failure. */
const ONESHOT_ATTEMPTS = 7;
const ONESHOT_BACKOFF_CAP_MS = 5_000;
/** The longest a timer may wait (setTimeout's limit): an output that follows the bot sleeps until woken. */
const UNTIL_WOKEN_MS = 2 ** 31 - 1;

function buildServices(cfg: BotConfig): Promise<OutputService[]> {
  return Promise.all(
    cfg.services.map((s, i) => {
      const d = outputDescriptor(s.type);
      if (!d) throw new UserError(`service type "${s.type}" is not supported by this build`);
      return d.create(s, i);
    }),
  );
}

/** An exec that failed after its output was written: the output is unhealthy, not retried early. */
class ExecFailed extends UserError {}

export interface RunningBot {
  /** Resolves with the exit code. */
  done: Promise<number>;
  health: Health;
  reload(): void;
  stop(): void;
}

/** `observer`: the metrics module, when diag_addr is set (it sees every iteration from the first). */
export async function startBot(cfg: BotConfig, observer?: IterationObserver): Promise<RunningBot> {
  const storage = openStore(cfg.storage, "storage");
  await storage.init();
  const release = await storage.lock();
  const services = await buildServices(cfg);
  const outputs = scheduleOutputs(services, cfg.services, cfg);
  const health = new Health();
  health.observer = observer;
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
  let heartbeats = 0;
  const statics = heartbeatStatics(cfg);
  const outputNames = services.map((s) => ({ name: s.name, type: s.type }));

  /** Best effort: a failure is logged (with -d) and the next renewal sends another. */
  async function heartbeat() {
    const hb = buildHeartbeat(statics, health, outputNames, heartbeats++ === 0, Date.now() - startedAt);
    try {
      await ids.api().post(paths.botHeartbeat, hb);
      log.debug("Heartbeat sent");
    } catch (e) {
      log.debug("Heartbeat failed (best effort)", { error: (e as Error).message });
    }
  }

  // Runs of each output (written or failed), so a heartbeat can wait for a renewal's pass.
  const runs = new Map<ScheduledOutput, number>(outputs.map((o) => [o, 0]));
  const runListeners = new Set<() => void>();
  function noteRun(o: ScheduledOutput, before: string | undefined) {
    runs.set(o, (runs.get(o) ?? 0) + 1);
    for (const l of [...runListeners]) l();
    // An output that turned healthy or unhealthy between renewals (one on its own schedule):
    // reported at once, at most every HEARTBEAT_CHANGE_GAP_MS (the next renewal's catches up).
    const now = health.get(o.service.name)?.status;
    if (before === "initializing" || before === now || Date.now() - lastChangeBeat < HEARTBEAT_CHANGE_GAP_MS)
      return;
    lastChangeBeat = Date.now();
    heartbeatChain = heartbeatChain.then(() => (stopping ? undefined : heartbeat()));
  }
  let lastChangeBeat = 0;
  /** Snapshot now; resolves once every output awaited has run since, or after `ms`. */
  function passAfter(ms: number): () => Promise<void> {
    // Those that follow the bot, and any yet to run at all (the first heartbeat waits for all).
    const following = outputs.filter((o) => o.followsBot || (runs.get(o) ?? 0) === 0);
    const before = new Map(following.map((o) => [o, runs.get(o) ?? 0]));
    return () =>
      new Promise<void>((resolve) => {
        const t = setTimeout(finish, ms);
        function finish() {
          clearTimeout(t);
          runListeners.delete(check);
          resolve();
        }
        function check() {
          if (stopping || following.every((o) => (runs.get(o) ?? 0) > before.get(o)!)) finish();
        }
        runListeners.add(check);
        check();
      });
  }
  let heartbeatChain: Promise<void> = Promise.resolve();
  let startupPagesReleased = false;
  /** Once, after the first renewal's outputs and heartbeat (see startup-pages.ts). */
  function releaseStartupPagesOnce(): void {
    if (startupPagesReleased || stopping) return;
    startupPagesReleased = true;
    try {
      const r = releaseStartupPages();
      log.debug("Released the start-up pages of the binary", {
        mappings: r.mappings,
        rss_before_kb: r.rssBeforeKb,
        rss_after_kb: r.rssAfterKb,
      });
    } catch (e) {
      log.debug("Start-up pages not released", { error: (e as Error).message });
    }
  }

  const identityIterations = health.iterations("bot-identity", "identity");
  const outputIterations = new Map(
    outputs.map((o) => [o, health.iterations(o.service.type, o.service.name)]),
  );

  /** Renews the bot's identity (health "identity"); throws when that fails. */
  async function refreshIdentity(): Promise<void> {
    identityIterations.attempt();
    try {
      await ids.refresh();
      health.set("identity", "healthy");
      health.identityExpiresAt = ids.current?.tls.notAfter.getTime();
      identityIterations.succeeded();
    } catch (e) {
      health.set("identity", "unhealthy", (e as Error).message);
      identityIterations.failed();
      throw e;
    }
  }

  function context(): ServiceContext {
    const id = ids.current!;
    return {
      api: ids.api(),
      identity: id,
      clusterName: id.tls.clusterName,
      serverHost: addr.host,
      serverPort: addr.port,
      credentialTtlMs: cfg.credentialTtlMs,
      renewalIntervalMs: cfg.renewalIntervalMs,
    };
  }

  /** One output once: its health follows the write, then the exec. Throws when either failed. */
  async function produceOnce(o: ScheduledOutput, nextRun: (() => Date) | undefined): Promise<void> {
    const name = o.service.name;
    const it = outputIterations.get(o)!;
    it.attempt();
    try {
      const execFailure = await produceOutput(o, context(), health, nextRun);
      if (execFailure !== undefined) {
        health.set(name, "unhealthy", execFailure);
        throw new ExecFailed(execFailure);
      }
      health.set(name, "healthy");
      it.succeeded();
    } catch (e) {
      if (!(e instanceof ExecFailed)) health.set(name, "unhealthy", (e as Error).message);
      // A failed exec is not retried before the next renewal: that iteration has failed.
      it.failed(e instanceof ExecFailed);
      throw e;
    }
  }

  /** One-shot: identity, then every output once (side by side). Throws if any failed. */
  async function iterate(): Promise<void> {
    await refreshIdentity();
    const failures: string[] = [];
    let allTransient = true;
    await Promise.all(
      outputs.map(async (o) => {
        try {
          await produceOnce(o, undefined);
        } catch (e) {
          failures.push(`${o.service.name}: ${(e as Error).message}`);
          allTransient &&= isTransient(e);
        }
      }),
    );
    // After the outputs, so it carries their health and expiry.
    await heartbeat();
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

  const outputWaiters = new Map<ScheduledOutput, Waiter>(outputs.map((o) => [o, new Waiter()]));
  let firstIdentity: () => void = () => {};
  const identityReady = new Promise<void>((r) => {
    firstIdentity = r;
  });
  let reloadPending = false;

  /** The bot's own identity, every renewal_interval; wakes the outputs that follow it. */
  async function identityLoop(): Promise<void> {
    let attempt = 0;
    const capMs = Math.max(1000, Math.min(60_000, cfg.renewalIntervalMs));
    while (!stopping) {
      const reload = reloadPending;
      reloadPending = false;
      try {
        await refreshIdentity();
        attempt = 0;
        firstIdentity();
        // After each renewal, once the outputs it wakes have run: their health and expiry.
        const pass = passAfter(HEARTBEAT_PASS_WAIT_MS);
        for (const [o, w] of outputWaiters) if (o.followsBot || reload) w.wake();
        heartbeatChain = heartbeatChain
          .then(pass)
          .then(() => (stopping ? undefined : heartbeat()))
          .then(releaseStartupPagesOnce);
        // A long-running agent idles between renewals: give memory back now rather than at
        // the next allocation burst (keeps the daemon's RSS flat).
        Bun.gc(true);
        log.debug("Next renewal scheduled", { in_ms: cfg.renewalIntervalMs });
        await waiter.sleep(cfg.renewalIntervalMs);
      } catch (e) {
        reloadPending ||= reload;
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
  }

  /**
   * One output on its own schedule: after the first identity, then every renewal_interval of
   * its own (or whenever the identity loop wakes it), retrying a failed write with capped,
   * jittered backoff. A failed exec is not retried before the next renewal: the files are
   * written.
   */
  async function outputLoop(o: ScheduledOutput): Promise<void> {
    const w = outputWaiters.get(o)!;
    await identityReady;
    // Woken for the first identity already; that wake is this run.
    if (!stopping) await w.sleep(0);
    let attempt = 0;
    const capMs = Math.max(1000, Math.min(60_000, o.intervalMs));
    while (!stopping) {
      // The next run is an interval after the files were written (an exec's time included).
      let next = 0;
      const nextRun = () => {
        next = Date.now() + o.intervalMs;
        return new Date(next);
      };
      const untilNext = () => (o.followsBot ? UNTIL_WOKEN_MS : Math.max(0, next - Date.now()));
      let wait: number;
      const before = health.get(o.service.name)?.status;
      try {
        await produceOnce(o, nextRun);
        attempt = 0;
        wait = untilNext();
        noteRun(o, before);
      } catch (e) {
        noteRun(o, before);
        if (e instanceof ExecFailed) {
          attempt = 0;
          wait = untilNext();
        } else {
          wait = retryDelay(e, attempt++, capMs);
          log.error("Renewal failed; keeping the last good outputs and retrying", {
            service: o.service.name,
            error: (e as Error).message,
            retry_in_ms: wait,
            attempt,
          });
        }
      }
      if (!stopping) await w.sleep(wait);
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
      const loops = outputs.map((o) => outputLoop(o));
      await identityLoop();
      await Promise.all(loops);
      // A heartbeat in flight may finish, but never holds up the exit for long.
      await Promise.race([heartbeatChain, new Promise<void>((r) => setTimeout(r, 2000).unref())]);
      // Services that hold something open (the Workload API's socket) release it.
      await Promise.all(services.map((s) => s.stop?.().catch(() => {})));
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
      reloadPending = true;
      waiter.wake();
    },
    stop() {
      stopping = true;
      firstIdentity();
      waiter.wake();
      for (const w of outputWaiters.values()) w.wake();
      for (const l of [...runListeners]) l();
    },
  };
}
