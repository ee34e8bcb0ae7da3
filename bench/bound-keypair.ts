// Figures for bound keypair joining:
//  1. join latency: compiled tbot one-shot, registration-secret join + identity output,
//     loopback, median of 20; and a refresh (re-join with a stored identity).
//  2. 1,000 bots joining at once against one tauth on SQLite: joins/s, p99, failures after
//     client retries. The clients run in this process with the real join client code.
//   bun bench/bound-keypair.ts [bots=1000]

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "bun";
import { backoffDelay } from "../src/agent/backoff.ts";
import { freshKey } from "../src/agent/identity/bot-identity.ts";
import { parseIdentityFile } from "../src/crypto/identity-file.ts";
import { type BoundKeypairState, boundKeypairClient } from "../src/join/bound-keypair/client.ts";
import { runJoin } from "../src/join/client.ts";
import { ApiClient } from "../src/protocol/client.ts";
import type { PingResponse } from "../src/protocol/messages.ts";
import { isCode } from "../src/util/errors.ts";
import { bin, ensureBuilt, ms, startCluster, summary } from "./lib.ts";

const bots = Number(process.argv[2] ?? 1000);
ensureBuilt();
const cluster = await startCluster();
const id = parseIdentityFile(readFileSync(cluster.identity, "utf8"));
const admin = new ApiClient(cluster.addr, { ca: id.tlsCaPems, cert: id.tlsCertPem, key: id.privateKeyPem });

async function boundBot(name: string): Promise<{ token: string; secret: string }> {
  const r = await admin.post<{ token_name: string; registration_secret: string }>("/v1/admin/bots/add", {
    name,
    roles: ["access"],
    logins: ["root"],
    join_method: "bound_keypair",
  });
  return { token: r.token_name, secret: r.registration_secret };
}

try {
  // 1. One-shot latency (compiled binary, whole process).
  const first: number[] = [];
  const refresh: number[] = [];
  for (let i = 0; i < 22; i++) {
    const { token, secret } = await boundBot(`lat-${i}`);
    const d = join(cluster.dir, `lat-${i}`);
    const argv = [
      bin("tbot"),
      "start",
      "--data-dir",
      join(d, "data"),
      "--destination-dir",
      join(d, "out"),
      "--join-uri",
      `tbot+auth+bound-keypair://${token}:${secret}@${cluster.addr}`,
      "--ca-pin",
      cluster.pin,
      "--oneshot",
    ];
    for (const into of [first, refresh]) {
      const t0 = performance.now();
      const r = spawnSync(argv, { stderr: "pipe" });
      if (r.exitCode !== 0) throw new Error(`one-shot failed: ${r.stderr}`);
      if (i >= 2) into.push(performance.now() - t0);
    }
  }
  const f = summary(first);
  const rf = summary(refresh);
  console.log(
    `bound-keypair one-shot, first join with registration secret (compiled, loopback, n=20): median ${ms(f.median)}, p90 ${ms(f.p90)}`,
  );
  console.log(
    `bound-keypair one-shot, refresh with stored identity (n=20): median ${ms(rf.median)}, p90 ${ms(rf.p90)}`,
  );

  // 2. Many bots at once.
  const creds: { token: string; secret: string }[] = [];
  for (let i = 0; i < bots; i += 50)
    creds.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(50, bots - i) }, (_, j) => boundBot(`many-${i + j}`)),
      )),
    );
  const ping = await new ApiClient(cluster.addr, { insecure: true }).get<PingResponse>("/v1/ping");
  const api = new ApiClient(cluster.addr, { ca: ping.host_ca_certs });
  const latencies: number[] = [];
  let failures = 0;
  let retries = 0;
  const t0 = performance.now();
  await Promise.all(
    creds.map(async ({ token, secret }) => {
      let state: BoundKeypairState = { history: [] };
      const store = {
        load: async () => state,
        save: async (s: BoundKeypairState) => {
          state = s;
        },
      };
      const key = await freshKey();
      const start = performance.now();
      for (let attempt = 0; attempt < 8; attempt++) {
        try {
          await runJoin(
            api,
            { tokenName: token, publicKeys: key.publicKeys, expires: new Date(Date.now() + 3600_000) },
            boundKeypairClient({ store, registrationSecret: secret }),
          );
          latencies.push(performance.now() - start);
          return;
        } catch (e) {
          if (!isCode(e, "connection_problem") && !isCode(e, "compare_failed") && !isCode(e, "internal")) {
            failures++;
            console.error(`join failed: ${(e as Error).message}`);
            return;
          }
          retries++;
          await Bun.sleep(backoffDelay(attempt, 5000, 200));
        }
      }
      failures++;
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const s = summary(latencies);
  console.log(
    `${bots} bound-keypair joins at once: ${(latencies.length / wall).toFixed(0)} joins/s over ${wall.toFixed(1)} s, latency p50 ${ms(s.median)}, p99 ${ms(s.p99)}, failures ${failures}, client retries ${retries}`,
  );
} finally {
  cluster.stop();
}
