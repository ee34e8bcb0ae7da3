// The three kill scenarios, sized by their callers (a short form in test/e2e, the long form
// in bench/fault.ts). Each records kills and violations in a Report and never throws for a
// violation, so a long run counts them all.
//
// 1. tbot one-shot: kill -9 at a random moment of a first join, then of a renewal on the same
//    storage; after each kill the outputs are absent or whole, and rerunning the same command
//    (same token, same storage) must succeed within a few tries ("no burnt token", "no lock").
// 2. tbot daemon: kill -9 at a random moment (half of them right after SIGUSR1 starts a
//    renewal); the outputs are whole, and the daemon restarted on the same storage renews.
// 3. tauth: kill -9 under a stream of one-shot joins/renewals and daemons renewing; the
//    stopped database passes its integrity check; after a restart every daemon renews by
//    itself and every interrupted one-shot completes with its own token.

import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  type BotRun,
  type Cluster,
  daemonArgs,
  JOINED_OR_RENEWED,
  makeRuns,
  oneShotArgs,
  Proc,
  RENEWED,
  type Rng,
  runCmd,
} from "./fault.ts";
import {
  auditSince,
  auditSize,
  checkAudit,
  checkDatabase,
  checkNoStack,
  checkRunOutputs,
  checkServerState,
  GenerationLedger,
  lostAnswerProbe,
  type Report,
} from "./fault-checks.ts";

/** A renewal refused for good (the daemon would retry forever): no need to wait it out. */
const REFUSED = /ERROR[^\n]*(is locked|generation mismatch|no longer exists)/;

const lastError = (text: string) =>
  text
    .split("\n")
    .filter((l) => /ERROR/.test(l))
    .at(-1) ??
  text.trim().split("\n").at(-1) ??
  "";

/** Polls `cond` every millisecond, up to `ms`. */
async function until(cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await Bun.sleep(1);
}

/** Reruns a one-shot until it exits 0; the last result when it never does. */
async function rerun(c: Cluster, r: BotRun, tries: number, report: Report, pauseMs = 100) {
  let last = await runCmd(oneShotArgs(c, r));
  for (let i = 1; i < tries && last.code !== 0; i++) {
    await Bun.sleep(pauseMs);
    last = await runCmd(oneShotArgs(c, r));
  }
  report.count("one-shot reruns");
  checkNoStack(`tbot one-shot (${r.bot})`, last.stderr, report);
  return last;
}

/** A moving estimate of how long an uninterrupted one-shot takes, to aim kills inside it. */
class Window {
  constructor(private ms: number) {}
  observe(ms: number) {
    this.ms = 0.8 * this.ms + 0.2 * ms;
  }
  pick(rng: Rng) {
    return rng.int(0, Math.round(this.ms * 1.1));
  }
}

export async function oneShotKills(c: Cluster, rng: Rng, kills: number, report: Report): Promise<void> {
  const ledger = new GenerationLedger();
  const windows = { join: new Window(150), renew: new Window(150) };
  let pool: BotRun[] = [];
  let done = 0;
  let iter = 0;
  while (done < kills) {
    if (!pool.length) pool = makeRuns(c, Math.min(50, kills - done), { prefix: "os" });
    const r = pool.pop()!;
    for (const phase of ["join", "renew"] as const) {
      const probe = lostAnswerProbe(c, r);
      // Most kills come at a random moment; some right after the server's commit shows in the
      // audit log, some right after a set's "..<set>" link appears (a first write publishing).
      const aim = rng.pick(["time", "time", "time", "server", "publish"] as const);
      const published = rng.chance(0.5) ? join(r.dest, "..identity") : join(r.data, "..storage");
      const killed = await runCmd(
        oneShotArgs(c, r),
        aim === "time"
          ? { killAfterMs: windows[phase].pick(rng) }
          : { killWhen: aim === "server" ? probe.acted : () => existsSync(published) },
      );
      if (killed.signal === "SIGKILL") {
        report.kill(`tbot one-shot ${phase}`);
        if (probe.lost())
          report.count(`one-shot ${phase} kills after the server answered, before tbot saved`);
        done++;
      } else if (killed.code === 0) windows[phase].observe(killed.ms);
      report.addAll("torn", checkRunOutputs(r, phase === "join"));
      const again = await rerun(c, r, 5, report);
      if (again.code !== 0) {
        const kind = phase === "join" ? "burnt" : "not-recovered";
        report.add(kind, `${r.bot} one-shot ${phase} after a kill: ${lastError(again.stderr)}`, r.bot);
        break; // this bot is out; the next iteration takes a fresh one
      }
      report.addAll("torn", checkRunOutputs(r, false));
    }
    if (++iter % 20 === 0) checkServerState(c, ledger, report);
  }
  checkServerState(c, ledger, report);
  checkAudit(c, report);
}

/** A daemon that replaces its bot (a fresh bot and token) when the old one cannot recover. */
class Daemon {
  proc: Proc | null = null;
  constructor(
    readonly c: Cluster,
    public run: BotRun,
  ) {}
  /** Starts it on its storage; true once it has a fresh identity and outputs, false if refused. */
  async start(): Promise<boolean> {
    this.proc = new Proc(daemonArgs(this.c, this.run));
    await this.proc.waitFor(new RegExp(`${JOINED_OR_RENEWED.source}|${REFUSED.source}`), 0, 15_000);
    return JOINED_OR_RENEWED.test(this.proc.since(0));
  }
  fresh() {
    this.run = makeRuns(this.c, 1, { prefix: "dm" })[0]!;
  }
}

export async function daemonKills(
  c: Cluster,
  rng: Rng,
  kills: number,
  report: Report,
  parallel = 3,
): Promise<void> {
  const ledger = new GenerationLedger();
  let done = 0;
  const worker = async (d: Daemon) => {
    if (!(await d.start())) throw new Error(`daemon did not start: ${d.proc!.since(0)}`);
    while (done < kills) {
      await Bun.sleep(rng.int(0, 250));
      const probe = lostAnswerProbe(c, d.run);
      const mode = rng.int(0, 2);
      if (mode > 0) d.proc!.signal("SIGUSR1"); // renew now, and be killed inside that renewal:
      if (mode === 1) await Bun.sleep(rng.int(0, 30)); // somewhere,
      if (mode === 2) await until(probe.acted, 2000); // or right after the server committed it.
      await d.proc!.kill9();
      done++;
      report.kill("tbot daemon");
      if (probe.lost()) report.count("daemon kills after the server renewed, before tbot saved");
      report.addAll("torn", checkRunOutputs(d.run, false));
      if (!(await d.start())) {
        const out = d.proc!.since(0);
        report.add("not-recovered", `${d.run.bot} restarted after a kill: ${lastError(out)}`, d.run.bot);
        checkNoStack(`tbot daemon (${d.run.bot})`, out, report);
        await d.proc!.kill9();
        d.fresh();
        if (!(await d.start())) throw new Error(`fresh daemon did not start: ${d.proc!.since(0)}`);
      }
      report.addAll("torn", checkRunOutputs(d.run, false));
    }
    await d.proc!.kill9();
  };
  const runs = makeRuns(c, parallel, { prefix: "dm" });
  await Promise.all(runs.map((r) => worker(new Daemon(c, r))));
  checkServerState(c, ledger, report);
  checkAudit(c, report);
}

export async function tauthKills(
  c: Cluster,
  rng: Rng,
  kills: number,
  report: Report,
  o: { daemons?: number; joiners?: number } = {},
): Promise<void> {
  const ledger = new GenerationLedger();
  const daemons = makeRuns(c, o.daemons ?? 3, { prefix: "td" }).map((r) => new Daemon(c, r));
  for (const d of daemons)
    if (!(await d.start())) throw new Error(`daemon did not start: ${d.proc!.since(0)}`);
  // One-shot joins (fresh tokens) and renewals (their storage again), retried through outages.
  const pool = makeRuns(c, Math.max(6, kills * 3), { prefix: "tj" });
  const joined: BotRun[] = [];
  let stop = false;
  const killedAt: number[] = [];
  const joiner = async () => {
    while (!stop) {
      const renewal = joined.length > 0 && (pool.length === 0 || rng.chance(0.4));
      const r = renewal ? rng.pick(joined) : pool.pop();
      if (!r) {
        await Bun.sleep(100);
        continue;
      }
      const started = Date.now();
      const deadline = started + 30_000;
      let res = await runCmd(oneShotArgs(c, r));
      if (res.code !== 0) report.count("one-shots that failed and were run again");
      while (res.code !== 0 && Date.now() < deadline) {
        await Bun.sleep(150);
        res = await runCmd(oneShotArgs(c, r));
      }
      report.count(renewal ? "one-shot renewals" : "one-shot joins");
      if (killedAt.some((t) => t >= started)) report.count("one-shots that lived through a tauth kill");
      checkNoStack(`tbot one-shot (${r.bot})`, res.stderr, report);
      if (res.code !== 0) {
        const what = `${r.bot} one-shot ${renewal ? "renewal" : "join"} through tauth kills`;
        report.add(renewal ? "not-recovered" : "burnt", `${what}: ${lastError(res.stderr)}`, r.bot);
        if (renewal) joined.splice(joined.indexOf(r), 1);
        continue;
      }
      if (!renewal) joined.push(r);
      report.addAll("torn", checkRunOutputs(r, false));
      await Bun.sleep(rng.int(0, 200));
    }
  };
  const joiners = Array.from({ length: o.joiners ?? 2 }, joiner);

  for (let k = 0; k < kills; k++) {
    await Bun.sleep(rng.int(50, 1200));
    if (rng.chance(1 / 3)) {
      // Right after a commit shows in the audit log: its answer may still be on the wire.
      const offset = auditSize(c);
      const committed = () =>
        auditSince(c, offset).some((e) => e.event === "cert.renew" || e.event === "bot.join");
      await until(committed, 2000);
      if (committed()) report.count("tauth kills right after a commit");
    }
    if (!c.proc.running) report.add("crash", `tauth exited by itself: ${lastError(c.proc.since(0))}`);
    await c.kill9();
    killedAt.push(Date.now());
    report.kill("tauth");
    checkDatabase(c, report, `after tauth kill ${k + 1}`);
    await Bun.sleep(rng.int(0, 300));
    const marks = daemons.map((d) => d.proc!.mark());
    await c.restart();
    // Every daemon renews by itself (backoff ≤ its 200 ms interval, capped at 1 s).
    await Promise.all(
      daemons.map(async (d, i) => {
        const either = new RegExp(`${RENEWED.source}|${REFUSED.source}`);
        await d.proc!.waitFor(either, marks[i], 20_000);
        const out = d.proc!.since(marks[i]!);
        if (RENEWED.test(out)) return;
        report.add(
          "not-recovered",
          `daemon ${d.run.bot} after tauth kill ${k + 1}: ${lastError(out)}`,
          d.run.bot,
        );
        checkNoStack(`tbot daemon (${d.run.bot})`, out, report);
        await d.proc!.kill9();
        d.fresh();
        await d.start();
      }),
    );
    checkServerState(c, ledger, report);
    checkAudit(c, report);
  }
  stop = true;
  await Promise.all(joiners);
  const failures = daemons.map((d) => (d.proc!.since(0).match(/Renewal failed/g) ?? []).length);
  report.count(
    "daemon renewals failed by a tauth kill, then retried",
    failures.reduce((a, b) => a + b, 0),
  );
  for (const d of daemons) {
    report.addAll("torn", checkRunOutputs(d.run, false));
    await d.proc!.kill9();
  }
  await c.stop();
  checkDatabase(c, report, "after the last stop");
  await c.restart();
}
