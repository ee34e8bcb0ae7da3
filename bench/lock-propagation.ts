// How long a lock created through one tauth replica takes to deny on another: two compiled
// replicas on one PostgreSQL database (started here, as the tests start theirs), a bot
// identity polling replica B over one kept-alive connection every POLL_MS, and locks created
// and removed through replica A's admin API. Prints p50/p90/p99/max of create → denied on B
// and of remove → allowed on B, measured on this one clock. Target: under 2 s.
//
//   bun bench/lock-propagation.ts [rounds=100]

import { readFileSync } from "node:fs";
import { freshKey } from "../src/agent/identity/bot-identity.ts";
import { parseIdentityFile } from "../src/crypto/identity-file.ts";
import { runJoin } from "../src/join/client.ts";
import { tokenJoinClient } from "../src/join/token/client.ts";
import { ApiClient } from "../src/protocol/client.ts";
import { paths } from "../src/protocol/messages.ts";
import { addBot } from "../test/harness/extra.ts";
import { startPostgres } from "../test/harness/postgres.ts";
import { type Replica, startReplica, tauthDatabase } from "../test/harness/tauth-replicas.ts";
import { ensureBuilt } from "./lib.ts";

const ROUNDS = Number(process.argv[2] ?? 100);
const POLL_MS = 2;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summary(name: string, ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const f = (x: number) => `${x.toFixed(1)} ms`;
  return `${name}: p50 ${f(pct(s, 50))}, p90 ${f(pct(s, 90))}, p99 ${f(pct(s, 99))}, max ${f(s[s.length - 1]!)} (${s.length} rounds)`;
}

/** Polls `denied()` until it returns `want`; the elapsed milliseconds. */
async function until(want: boolean, denied: () => Promise<boolean>, from: number): Promise<number> {
  for (;;) {
    if ((await denied()) === want) return performance.now() - from;
    if (performance.now() - from > 10_000) throw new Error(`not ${want ? "denied" : "allowed"} after 10 s`);
    await Bun.sleep(POLL_MS);
  }
}

ensureBuilt();
const pg = await startPostgres();
const replicas: Replica[] = [];
try {
  const url = tauthDatabase(pg, "bench-Pa55");
  const a = await startReplica({ connString: url, id: "a" });
  replicas.push(a);
  const b = await startReplica({ connString: url, id: "b" });
  replicas.push(b);
  const ca = [a.tctl(["auth", "export", "--type=tls-host"]).stdout];
  const admin = parseIdentityFile(readFileSync(a.identity, "utf8"));
  const adminApi = new ApiClient(a.addr, { ca, cert: admin.tlsCertPem, key: admin.privateKeyPem });

  const key = await freshKey();
  const joined = await runJoin(
    new ApiClient(a.addr, { ca }),
    { tokenName: addBot(a, "polled"), publicKeys: key.publicKeys, expires: new Date(Date.now() + 3600_000) },
    tokenJoinClient,
  );
  const botOnB = new ApiClient(b.addr, { ca, cert: joined.certificates.tls_cert, key: key.keyPem });
  const denied = () =>
    botOnB.get(paths.authorities).then(
      () => false,
      (e: Error) => {
        if (!/is locked/.test(e.message)) throw e;
        return true;
      },
    );

  const lockMs: number[] = [];
  const unlockMs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    const lock = await adminApi.post<{ metadata: { name: string } }>(`${paths.admin}/locks/create`, {
      bot: "polled",
      message: "bench",
    });
    lockMs.push(await until(true, denied, t0));
    const t1 = performance.now();
    await adminApi.post(`${paths.admin}/delete`, { kind: "lock", name: lock.metadata.name });
    unlockMs.push(await until(false, denied, t1));
  }
  console.log("Lock propagation between two tauth replicas on one PostgreSQL (loopback, compiled binary)");
  console.log(summary("lock created on A -> denied on B", lockMs));
  console.log(summary("lock removed on A -> allowed on B", unlockMs));
} finally {
  for (const r of replicas) await r.stop();
  await pg.stop();
}
