// Per-service health for /readyz and heartbeats (reference §11.1), and the counters /metrics
// shows beside it.

import type { ExecOutcome } from "./services/exec.ts";

export type Status = "initializing" | "healthy" | "unhealthy";

export class Health {
  private readonly services = new Map<string, { status: Status; reason?: string }>();
  /** Runs of each output's exec, by "<name>\0<outcome>". */
  private readonly execRuns = new Map<string, number>();
  register(name: string): void {
    this.services.set(name, { status: "initializing" });
  }
  set(name: string, status: Status, reason?: string): void {
    this.services.set(name, reason ? { status, reason: reason.slice(0, 256) } : { status });
  }
  overall(): Status {
    const all = [...this.services.values()].map((s) => s.status);
    if (all.includes("unhealthy")) return "unhealthy";
    if (all.includes("initializing")) return "initializing";
    return "healthy";
  }
  get(name: string) {
    return this.services.get(name);
  }
  snapshot() {
    return { status: this.overall(), services: Object.fromEntries(this.services) };
  }
  countExec(name: string, outcome: ExecOutcome): void {
    const k = `${name}\0${outcome}`;
    this.execRuns.set(k, (this.execRuns.get(k) ?? 0) + 1);
  }
  /** [output name, outcome, runs], for tbot_output_exec_total. */
  execCounts(): [string, ExecOutcome, number][] {
    return [...this.execRuns].map(([k, n]) => {
      const [name, outcome] = k.split("\0") as [string, ExecOutcome];
      return [name, outcome, n];
    });
  }
}
