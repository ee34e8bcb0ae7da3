// Capped, jittered exponential backoff: 1s, 2s, 4s… up to the cap, each scaled by a random
// factor in [0.5, 1] so that many bots recovering together do not stampede the server.

import { UserError } from "../util/errors.ts";

export function backoffDelay(attempt: number, capMs: number, baseMs = 1000, rand = Math.random): number {
  const raw = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(raw * (0.5 + rand() * 0.5));
}

/** Sleep that a wake() or stop() cuts short. */
export class Waiter {
  private wakeFn: (() => void) | null = null;
  private woken = false;
  sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(t);
        self.wakeFn = null;
        resolve();
      }
      this.wakeFn = done;
    });
  }
  wake(): void {
    if (this.wakeFn) this.wakeFn();
    else this.woken = true;
  }
}

/**
 * Whether a failure may pass by itself: the server unreachable, reset or overloaded (5xx,
 * 429), or a join that raced another change ("join again"). A denial or a bad request never
 * passes by itself and is never retried.
 */
export function isTransient(e: unknown): boolean {
  if (!(e instanceof UserError)) return false;
  return ["connection_problem", "internal", "limit_exceeded", "compare_failed"].includes(e.code);
}

/** The wait before retrying after `e`: the backoff, or longer if the server said so (429). */
export function retryDelay(e: unknown, attempt: number, capMs: number): number {
  const asked = (e as { retryAfterMs?: number })?.retryAfterMs;
  const backoff = backoffDelay(attempt, capMs);
  return typeof asked === "number" && asked > backoff ? Math.min(asked, 60_000) : backoff;
}
