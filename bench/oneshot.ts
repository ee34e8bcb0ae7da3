// Figures for issue "the spine": one-shot token join + identity output (compiled, loopback,
// median of 20), tauth renewal latency p50/p99, daemon RSS after 10 renewals, binary size,
// cold `tbot version`.
//   bun bench/oneshot.ts [runs]

import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawn, spawnSync } from "bun";
import { freshKey, loadIdentity } from "../src/agent/identity/bot-identity.ts";
import { DirectoryStore } from "../src/agent/storage/directory.ts";
import { ApiClient } from "../src/protocol/client.ts";
import { type JoinResult, paths } from "../src/protocol/messages.ts";
import { bin, ensureBuilt, ms, startCluster, summary } from "./lib.ts";

const runs = Number(process.argv[2] ?? 20);
ensureBuilt();
const cluster = await startCluster({ ownBinary: true });
/** tbot start with the guide's legacy flags: storage and output under `dir`, a token join. */
const tbotStart = (dir: string, token: string) => [
  bin("tbot"),
  "start",
  "--data-dir",
  join(dir, "data"),
  "--destination-dir",
  join(dir, "out"),
  "--token",
  token,
  "--join-method",
  "token",
  "--auth-server",
  cluster.addr,
  "--ca-pin",
  cluster.pin,
];
const tokenFor = (name: string) =>
  JSON.parse(cluster.tctl(["bots", "add", name, "--roles=access", "--logins=root", "--format=json"]))
    .token_id as string;
try {
  // 1. One-shot join + identity output, wall time of the whole process.
  const oneshot: number[] = [];
  for (let i = 0; i < runs + 2; i++) {
    const token = tokenFor(`oneshot-${i}`);
    const d = join(cluster.dir, `os-${i}`);
    const t0 = performance.now();
    const r = spawnSync([...tbotStart(d, token), "--oneshot"], { stderr: "pipe" });
    const t = performance.now() - t0;
    if (r.exitCode !== 0) throw new Error(`one-shot failed: ${r.stderr}`);
    if (i >= 2) oneshot.push(t); // two warm-up runs (page cache)
  }
  const os = summary(oneshot);
  console.log(
    `one-shot token join + identity output (compiled, loopback, n=${runs}): median ${ms(os.median)}, p90 ${ms(os.p90)}, min ${ms(os.min)}, max ${ms(os.max)}`,
  );

  // 2. Renewal latency as a client sees it (mTLS POST /v1/certs/renew), sequential.
  const store = new DirectoryStore(join(cluster.dir, "os-2", "data"));
  let id = (await loadIdentity(store))!.identity;
  const lat: number[] = [];
  for (let i = 0; i < 200; i++) {
    const key = await freshKey();
    const api = new ApiClient(cluster.addr, { ca: id.tlsCaPems, cert: id.tlsCertPem, key: id.keyPem });
    const t0 = performance.now();
    const res = await api.post<JoinResult>(paths.renew, {
      public_keys: key.publicKeys,
      expires: new Date(Date.now() + 3600_000).toISOString(),
    });
    lat.push(performance.now() - t0);
    const { identityFrom } = await import("../src/agent/identity/bot-identity.ts");
    id = identityFrom(key, res.certificates);
  }
  const rl = summary(lat);
  console.log(
    `tauth renewal latency (client-side, new TLS connection each, n=200): p50 ${ms(rl.median)}, p99 ${ms(rl.p99)}`,
  );

  // 3. Daemon RSS after 10 renewals.
  const token = tokenFor("daemon");
  const d = join(cluster.dir, "daemon");
  const daemon = spawn([...tbotStart(d, token), "--renewal-interval", "1s", "--certificate-ttl", "1m"], {
    stderr: "pipe",
  });
  let log = "";
  const dec = new TextDecoder();
  for await (const c of daemon.stderr as ReadableStream<Uint8Array>) {
    log += dec.decode(c);
    if ((log.match(/Renewed bot identity/g) ?? []).length >= 10) break;
  }
  const status = readFileSync(`/proc/${daemon.pid}/status`, "utf8");
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024;
  daemon.kill("SIGTERM");
  await daemon.exited;
  console.log(`tbot daemon RSS after 10 renewals: ${rss.toFixed(1)} MB (peak ${hwm.toFixed(1)} MB)`);

  // 4. Size and cold start.
  console.log(
    `dist/tbot size: ${statSync(bin("tbot")).size} bytes (${(statSync(bin("tbot")).size / 1048576).toFixed(1)} MiB)`,
  );
  const ver: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    spawnSync([bin("tbot"), "version"]);
    ver.push(performance.now() - t0);
  }
  console.log(`tbot version (cold path, n=20): median ${ms(summary(ver).median)}`);
} finally {
  cluster.stop();
}
