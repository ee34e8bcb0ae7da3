// Capped, jittered exponential backoff: 1s, 2s, 4s… up to the cap, each scaled by a random
// factor in [0.5, 1] so that many bots recovering together do not stampede the server.

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
