// SVID issuance rate at tauth (Part 10, point 1): X.509 and JWT SVIDs per second from one
// compiled tauth (SQLite), N parallel clients, each a token-joined bot of its own asking with
// its internal identity through the product's protocol client (src/protocol/client.ts), for a
// name-selected workload identity with a template over user.* and workload.unix.uid. Two
// connection modes: "keep-alive" (each client reuses its connection: Bun fetch, HTTP/1.1 pooled) and "new
// connection" (each request its own TLS handshake, as a tbot output run after a renewal).
// Prints requests/s and p50/p99 latency per (kind, mode, clients). Not a test.
//   bun bench/spiffe-issuance.ts [--seconds 5] [--clients 1,8,32]

import { freshKey } from "../src/agent/identity/bot-identity.ts";
import { runJoin } from "../src/join/client.ts";
import { tokenJoinClient } from "../src/join/token/client.ts";
import { ApiClient } from "../src/protocol/client.ts";
import { paths } from "../src/protocol/messages.ts";
import { ensureBuilt, ms, startCluster, summary } from "./lib.ts";

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const seconds = Number(arg("seconds", "5"));
const clientCounts = arg("clients", "1,8,32").split(",").map(Number);

ensureBuilt();
const cluster = await startCluster();
try {
  cluster.tctl(["create", "-f", await writeResources(cluster.dir)]);
  const hostCa = cluster.tctl(["auth", "export", "--type=tls-host"]);
  const maxClients = Math.max(...clientCounts);
  const identities: { certPem: string; keyPem: string }[] = [];
  for (let i = 0; i < maxClients; i++) {
    const add = JSON.parse(cluster.tctl(["bots", "add", `b${i}`, "--roles=svid", "--format=json"]));
    const k = await freshKey();
    const r = await runJoin(
      new ApiClient(cluster.addr, { ca: [hostCa], keepAlive: false }),
      { tokenName: add.token_id, publicKeys: k.publicKeys, expires: new Date(Date.now() + 3600_000) },
      tokenJoinClient,
    );
    identities.push({ certPem: r.certificates.tls_cert, keyPem: k.keyPem });
  }
  const svidKey = await freshKey();
  const bodies = {
    x509: (uid: number) => ({
      selector: { name: "bench" },
      public_key: svidKey.publicKeys.tls_public_key,
      ttl_seconds: 3600,
      workload: { unix: { uid } },
    }),
    jwt: (uid: number) => ({
      selector: { name: "bench" },
      audiences: ["bench"],
      workload: { unix: { uid } },
    }),
  };
  console.log(`SVID issuance at one tauth (SQLite), ${seconds} s per row, loopback, this machine`);
  console.log("kind  connection       clients   SVIDs/s   p50        p99        errors");
  for (const kind of ["x509", "jwt"] as const)
    for (const keepAlive of [true, false])
      for (const n of clientCounts) {
        const clients = identities
          .slice(0, n)
          .map((id) =>
            new ApiClient(cluster.addr, { ca: [hostCa], keepAlive }).withIdentity(id.certPem, id.keyPem),
          );
        const path = kind === "x509" ? paths.workloadX509 : paths.workloadJwt;
        // Warm up: connections, JIT.
        await Promise.all(clients.map((c, i) => c.post(path, bodies[kind](i))));
        const lat: number[] = [];
        let errors = 0;
        const end = performance.now() + seconds * 1000;
        const t0 = performance.now();
        await Promise.all(
          clients.map(async (c, i) => {
            while (performance.now() < end) {
              const s = performance.now();
              try {
                await c.post(path, bodies[kind](i));
                lat.push(performance.now() - s);
              } catch {
                errors++;
              }
            }
          }),
        );
        const elapsed = (performance.now() - t0) / 1000;
        const st = summary(lat);
        console.log(
          `${kind.padEnd(5)} ${(keepAlive ? "keep-alive" : "new per request").padEnd(16)} ${String(n).padStart(7)} ${Math.round(
            lat.length / elapsed,
          )
            .toString()
            .padStart(9)}   ${ms(st.median).padEnd(10)} ${ms(st.p99).padEnd(10)} ${errors}`,
        );
      }
} finally {
  cluster.stop();
}

async function writeResources(dir: string): Promise<string> {
  const file = `${dir}/spiffe-bench.yaml`;
  await Bun.write(
    file,
    `kind: role
version: v7
metadata: {name: svid}
spec:
  allow:
    workload_identity_labels: {"*": "*"}
---
kind: workload_identity
version: v1
metadata: {name: bench, labels: {env: bench}}
spec:
  spiffe:
    id: /bots/{{ user.bot_name }}/uid/{{ workload.unix.uid }}
`,
  );
  return file;
}
