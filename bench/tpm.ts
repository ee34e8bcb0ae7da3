// Figures for TPM joining against swtpm: the compiled tbot one-shot TPM join + identity output
// (median of 20), and the time of each TPM operation inside a join, measured through the same
// device API the join client uses.
//   bun bench/tpm.ts

import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "bun";
import { openTpm } from "../src/tpm/device/index.ts";
import { makeCredential } from "../src/tpm/server/index.ts";
import { startSwtpm } from "../test/harness/swtpm.ts";
import { bin, ensureBuilt, ms, startCluster, summary } from "./lib.ts";

ensureBuilt();
const cluster = await startCluster();
const tpm = await startSwtpm();
try {
  const id = spawnSync([bin("tbot"), "tpm", "identify"], {
    env: { ...process.env, TBOT_TPM_TCTI: tpm.tcti },
  });
  const hash = /EKPub Hash: ([0-9a-f]{64})/.exec(id.stdout.toString())![1]!;
  const cas = [readFileSync(tpm.ca.rootPem, "utf8"), readFileSync(tpm.ca.intermediatePem, "utf8")];
  const tokenFile = join(cluster.dir, "token.yaml");
  writeFileSync(
    join(cluster.dir, "bot.yaml"),
    "kind: bot\nversion: v1\nmetadata:\n  name: tpm\nspec:\n  roles: [access]\n",
  );
  writeFileSync(
    tokenFile,
    `kind: token\nversion: v2\nmetadata:\n  name: tpm\nspec:\n  roles: [Bot]\n  join_method: tpm\n  bot_name: tpm\n  tpm:\n    ekcert_allowed_cas:\n${cas
      .map(
        (c) =>
          `      - |\n${c
            .trim()
            .split("\n")
            .map((l) => `        ${l}`)
            .join("\n")}`,
      )
      .join("\n")}\n    allow:\n      - ek_public_hash: "${hash}"\n`,
  );
  cluster.tctl(["create", join(cluster.dir, "bot.yaml")]);
  cluster.tctl(["create", tokenFile]);

  const wall: number[] = [];
  for (let i = 0; i < 22; i++) {
    const d = join(cluster.dir, `run-${i}`);
    const t0 = performance.now();
    const r = spawnSync(
      [
        bin("tbot"),
        "start",
        "--auth-server",
        cluster.addr,
        "--ca-pin",
        cluster.pin,
        "--join-method",
        "tpm",
        "--token",
        "tpm",
        "--data-dir",
        join(d, "data"),
        "--destination-dir",
        join(d, "out"),
        "--oneshot",
      ],
      { env: { ...process.env, TBOT_TPM_TCTI: tpm.tcti }, stderr: "pipe" },
    );
    if (r.exitCode !== 0) throw new Error(`tpm one-shot failed: ${r.stderr}`);
    if (i >= 2) wall.push(performance.now() - t0);
  }
  const w = summary(wall);
  console.log(
    `TPM join + identity output, compiled tbot one-shot against swtpm (n=20): median ${ms(w.median)}, p90 ${ms(w.p90)}, min ${ms(w.min)}, max ${ms(w.max)}`,
  );

  // The TPM operations of one join, 20 times each.
  const t: Record<string, number[]> = {
    open: [],
    ekInfo: [],
    createAk: [],
    makeCredential: [],
    activate: [],
    close: [],
  };
  const time = async <T>(k: string, f: () => Promise<T> | T): Promise<T> => {
    const t0 = performance.now();
    const v = await f();
    t[k]!.push(performance.now() - t0);
    return v;
  };
  for (let i = 0; i < 20; i++) {
    const dev = await time("open", () => openTpm({ tcti: tpm.tcti }));
    const ek = await time("ekInfo", () => dev.ekInfo("rsa"));
    const ak = await time("createAk", () => dev.createAk());
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const cred = await time("makeCredential", () =>
      makeCredential({ ek: { spki: ek.ekPublicDer }, akName: ak.name, secret }),
    );
    const out = await time("activate", () => ak.activate(cred.credentialBlob, cred.encryptedSecret));
    if (Buffer.compare(Buffer.from(out), Buffer.from(secret)) !== 0)
      throw new Error("activation returned another secret");
    await time("close", () => {
      ak.close();
      dev.close();
    });
  }
  for (const [k, v] of Object.entries(t)) {
    const s = summary(v);
    console.log(
      `  ${k.padEnd(15)} median ${ms(s.median)}  (min ${ms(s.min)}, max ${ms(s.max)})${k === "makeCredential" ? "  [server side, pure TypeScript]" : ""}`,
    );
  }
} finally {
  await tpm.stop();
  for (const d of [tpm.dir, tpm.ca.dir]) rmSync(d, { recursive: true, force: true });
  cluster.stop();
}
