// A tbot daemon serving the Workload API for the benches (tbot-workload-api.ts,
// workload-processes.ts): on a bench cluster, a role granting workload identities labelled
// env: bench, the identity per-uid (SPIFFE ID templated on workload.unix.uid only), a bot with
// that role, and a compiled tbot started with a `workload-identity-api` service on a socket in
// the cluster's directory; resolved once it logs that it is listening.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Subprocess, spawn } from "bun";
import { Lines } from "../test/harness/workload-api.ts";
import { bin, type Cluster } from "./lib.ts";

export interface WorkloadBot {
  proc: Subprocess<"ignore", "ignore", "pipe">;
  socket: string;
  /** The tbot process's VmRSS, MiB. */
  rss(): number;
}

export async function startWorkloadBot(cluster: Cluster, botName: string): Promise<WorkloadBot> {
  writeFileSync(
    join(cluster.dir, "wi.yaml"),
    `kind: role
version: v7
metadata: {name: svid-issuer}
spec: {allow: {workload_identity_labels: {env: bench}}}
---
kind: workload_identity
version: v1
metadata: {name: per-uid, labels: {env: bench}}
spec: {spiffe: {id: "/svc/uid-{{ workload.unix.uid }}"}}
`,
  );
  cluster.tctl(["create", "-f", join(cluster.dir, "wi.yaml")]);
  const token = JSON.parse(cluster.tctl(["bots", "add", botName, "--roles=svid-issuer", "--format=json"]))
    .token_id as string;
  const socket = join(cluster.dir, "workload.sock");
  const cfg = join(cluster.dir, "tbot.yaml");
  writeFileSync(
    cfg,
    `version: v2
auth_server: ${cluster.addr}
onboarding: {join_method: token, token: ${token}, ca_pins: [${cluster.pin}]}
storage: {type: memory}
renewal_interval: 1h
services:
  - type: workload-identity-api
    listen: unix://${socket}
    selector: {name: per-uid}
`,
  );
  const proc = spawn([bin("tbot"), "start", "-c", cfg], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  await new Lines(proc.stderr).waitFor((l) => l.includes("Workload API listening"), 30_000);
  const rss = () => {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"));
    return Number(m![1]) / 1024;
  };
  return { proc, socket, rss };
}
