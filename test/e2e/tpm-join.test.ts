// TPM joining end to end on the compiled binary against swtpm (provisioned with EK
// certificates from a private root + intermediate CA): the seed's bot-token.yaml form joins
// and renews by re-joining; the wrong TPM, the wrong CA, a missing EK certificate, an answer
// for another AK and a replayed answer are each denied clearly.

import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freshKey } from "../../src/agent/identity/bot-identity.ts";
import { runJoin } from "../../src/join/client.ts";
import { tpmJoinClient } from "../../src/join/tpm/client.ts";
import { ApiClient } from "../../src/protocol/client.ts";
import type { JoinResponse, PingResponse } from "../../src/protocol/messages.ts";
import { tbotBin } from "../harness/binary.ts";
import { expectOneErrorLine } from "../harness/extra.ts";
import { cleanupAfterFile, run, startProcess, tempDir } from "../harness/proc.ts";
import { createSwtpmCa, type SwtpmHandle, startSwtpm } from "../harness/swtpm.ts";
import { startTauth, type TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();
setDefaultTimeout(60_000);

let auth: TauthHandle;
let tpm: SwtpmHandle;
let work: string;
let identify: { hash: string; serial: string };

function identifyOf(t: SwtpmHandle) {
  const r = run([tbotBin, "tpm", "identify"], { env: { TBOT_TPM_TCTI: t.tcti } });
  expect(r.code).toBe(0);
  return {
    hash: /EKPub Hash: ([0-9a-f]{64})/.exec(r.stdout)![1]!,
    serial: /EKCert Serial: (\S+)/.exec(r.stdout)?.[1] ?? "",
  };
}

const indent = (pem: string) =>
  pem
    .trim()
    .split("\n")
    .map((l) => `        ${l}`)
    .join("\n");

/** The seed's bot-token.yaml form. */
function tpmToken(name: string, bot: string, rules: string[], cas: string[]): string {
  return `kind: token
version: v2
metadata:
  name: ${name}
spec:
  roles: [Bot]
  join_method: tpm
  bot_name: ${bot}
  tpm:
${cas.length ? `    ekcert_allowed_cas:\n${cas.map((c) => `      - |\n${indent(c)}`).join("\n")}\n` : ""}    allow:
${rules.map((r) => `      - ${r}`).join("\n")}
`;
}

function create(name: string, text: string) {
  const p = join(work, name);
  writeFileSync(p, text);
  const r = auth.tctl(["create", "-f", p]);
  if (r.code !== 0) throw new Error(`tctl create ${name}: ${r.stderr}`);
}

function tbotYaml(token: string, dir: string, extra = ""): string {
  const p = join(dir, "tbot.yaml");
  writeFileSync(
    p,
    `version: v2
auth_server: ${auth.addr}
onboarding:
  join_method: tpm
  token: ${token}
  ca_pins: [${auth.pin}]
storage:
  type: directory
  path: ${join(dir, "data")}
services:
  - type: identity
    destination:
      type: directory
      path: ${join(dir, "out")}
${extra}`,
  );
  return p;
}

beforeAll(async () => {
  work = tempDir("tpm-join-");
  auth = await startTauth();
  tpm = await startSwtpm({ ca: createSwtpmCa() });
  identify = identifyOf(tpm);
  create("bot.yaml", "kind: bot\nversion: v1\nmetadata:\n  name: tpm-bot\nspec:\n  roles: [access]\n");
});

describe("tpm joining", () => {
  test("the seed's bot-token.yaml (hash rule + root and intermediate CAs) joins, writes identity, and renews by re-joining", async () => {
    const ca = tpm.ca;
    create(
      "bot-token.yaml",
      tpmToken(
        "tpm-token",
        "tpm-bot",
        [`description: "server-01"\n        ek_public_hash: "${identify.hash}"`],
        [readFileSync(ca.rootPem, "utf8"), readFileSync(ca.intermediatePem, "utf8")],
      ),
    );
    const dir = tempDir("tpm-bot-");
    const cfg = tbotYaml("tpm-token", dir);
    const one = run([tbotBin, "start", "-c", cfg, "--oneshot"], { env: { TBOT_TPM_TCTI: tpm.tcti } });
    expect(one.stderr).not.toContain("ERROR");
    expect(one.code).toBe(0);
    const verify = run([
      "openssl",
      "verify",
      "-CAfile",
      join(dir, "out", "teleport-user-ca.crt"),
      join(dir, "out", "tlscert"),
    ]);
    expect(verify.stdout).toContain("OK");
    const joins = auth.auditLog().filter((e) => e.event === "tpm.join");
    expect(joins.at(-1)?.ek_pub_hash).toBe(identify.hash);
    expect(joins.at(-1)?.ek_cert_verified).toBe(true);
    expect(joins.at(-1)?.ek_cert_serial).toBe(identify.serial);

    const daemon = startProcess(
      [tbotBin, "start", "-c", cfg, "--certificate-ttl", "1m", "--renewal-interval", "1s"],
      {
        env: { TBOT_TPM_TCTI: tpm.tcti },
      },
    );
    await daemon.waitFor(/Renewed bot identity[\s\S]*Renewed bot identity/, 30_000);
    const instances = [...daemon.output().matchAll(/Renewed bot identity .*instance:(\S+)/g)].map(
      (m) => m[1],
    );
    expect(new Set(instances).size).toBe(1);
    expect(await daemon.stop()).toBe(0);
    // Each renewal was a full TPM join (a new challenge answered by the TPM).
    expect(auth.auditLog().filter((e) => e.event === "tpm.join").length).toBeGreaterThanOrEqual(3);
  });

  test("a serial rule alone is enough (any matching rule suffices)", () => {
    create(
      "serial-token.yaml",
      tpmToken("tpm-serial", "tpm-bot", [`ek_certificate_serial: "${identify.serial}"`], []),
    );
    const dir = tempDir("tpm-serial-");
    const r = run([tbotBin, "start", "-c", tbotYaml("tpm-serial", dir), "--oneshot"], {
      env: { TBOT_TPM_TCTI: tpm.tcti },
    });
    expect(r.stderr).not.toContain("ERROR");
    expect(r.code).toBe(0);
  });

  test("denied: a second TPM whose hash is not allowed", async () => {
    const other = await startSwtpm({ ca: tpm.ca });
    create(
      "only-first.yaml",
      tpmToken("tpm-only-first", "tpm-bot", [`ek_public_hash: "${identify.hash}"`], []),
    );
    const dir = tempDir("tpm-other-");
    const r = run([tbotBin, "start", "-c", tbotYaml("tpm-only-first", dir), "--oneshot"], {
      env: { TBOT_TPM_TCTI: other.tcti },
    });
    expect(expectOneErrorLine(r)).toContain("did not match any allow rules");
    await other.stop();
  });

  test("denied: an EK certificate from a CA that is not listed", async () => {
    const stranger = await startSwtpm({ ca: createSwtpmCa() });
    const id = identifyOf(stranger);
    create(
      "wrong-ca.yaml",
      tpmToken(
        "tpm-wrong-ca",
        "tpm-bot",
        [`ek_public_hash: "${id.hash}"`],
        [readFileSync(tpm.ca.rootPem, "utf8"), readFileSync(tpm.ca.intermediatePem, "utf8")],
      ),
    );
    const dir = tempDir("tpm-wrong-ca-");
    const r = run([tbotBin, "start", "-c", tbotYaml("tpm-wrong-ca", dir), "--oneshot"], {
      env: { TBOT_TPM_TCTI: stranger.tcti },
    });
    expect(expectOneErrorLine(r)).toContain("EK certificate verification failed");
    await stranger.stop();
  });

  test("denied: ekcert_allowed_cas set and no EK certificate presented", async () => {
    const bare = await startSwtpm({ ekCerts: false });
    const id = identifyOf(bare);
    expect(id.serial).toBe("");
    create(
      "needs-cert.yaml",
      tpmToken(
        "tpm-needs-cert",
        "tpm-bot",
        [`ek_public_hash: "${id.hash}"`],
        [readFileSync(tpm.ca.rootPem, "utf8")],
      ),
    );
    const dir = tempDir("tpm-bare-");
    const r = run([tbotBin, "start", "-c", tbotYaml("tpm-needs-cert", dir), "--oneshot"], {
      env: { TBOT_TPM_TCTI: bare.tcti },
    });
    expect(expectOneErrorLine(r)).toContain("requires an EK certificate");
    await bare.stop();
  });

  test("denied: an answer for a different AK, and a replayed answer", async () => {
    create("drive.yaml", tpmToken("tpm-drive", "tpm-bot", [`ek_public_hash: "${identify.hash}"`], []));
    const ping = await new ApiClient(auth.addr, { insecure: true }).get<PingResponse>("/v1/ping");
    const api = new ApiClient(auth.addr, { ca: ping.host_ca_certs });
    const key = await freshKey();
    const base = {
      client_init: { join_method: "tpm", token_name: "tpm-drive", system_role: "Bot" as const },
      bot_params: { public_keys: key.publicKeys, expires: new Date(Date.now() + 3600_000).toISOString() },
    };
    // Two AKs on the same TPM: attest with the first, answer with the second.
    const first = tpmJoinClient({ tcti: tpm.tcti });
    const second = tpmJoinClient({ tcti: tpm.tcti });
    try {
      const init1 = await first.init();
      await second.init();
      const res = await api.post<JoinResponse>("/v1/join", { ...base, method_init: init1 });
      expect(res.type).toBe("challenge");
      if (res.type !== "challenge") return;
      let wrongAk = "";
      try {
        const sol = await second.solve!(res.challenge);
        await api.post("/v1/join", { ...base, continuation: res.continuation, solution: sol });
        wrongAk = "accepted";
      } catch (e) {
        wrongAk = (e as Error).message;
      }
      // The TPM refuses to release a credential made for another AK (TPM_RC_INTEGRITY).
      expect(wrongAk).not.toBe("accepted");
      expect(wrongAk).toContain("integrity check failed");
      expect(wrongAk).toContain("not made for this TPM's EK and this attestation key");
      // The right AK answers; the same answer sent again is a replay.
      const res2 = await api.post<JoinResponse>("/v1/join", { ...base, method_init: init1 });
      if (res2.type !== "challenge") throw new Error("expected a challenge");
      const good = await first.solve!(res2.challenge);
      const ok = await api.post<JoinResponse>("/v1/join", {
        ...base,
        continuation: res2.continuation,
        solution: good,
      });
      expect(ok.type).toBe("result");
      const replay = await api
        .post("/v1/join", { ...base, continuation: res2.continuation, solution: good })
        .then(() => "accepted")
        .catch((e: Error) => e.message);
      expect(replay).toContain("already answered");
      // A made-up answer is refused by the server itself.
      const res3 = await api.post<JoinResponse>("/v1/join", { ...base, method_init: init1 });
      if (res3.type !== "challenge") throw new Error("expected a challenge");
      const forged = await api
        .post("/v1/join", {
          ...base,
          continuation: res3.continuation,
          solution: { type: "tpm_solution", solution: Buffer.alloc(32).toString("base64") },
        })
        .then(() => "accepted")
        .catch((e: Error) => e.message);
      expect(forged).toContain("does not match the challenge");
    } finally {
      await first.close!();
      await second.close!();
    }
  });

  test("the join client runs in-process too (the API the bench uses)", async () => {
    const ping = await new ApiClient(auth.addr, { insecure: true }).get<PingResponse>("/v1/ping");
    const key = await freshKey();
    const r = await runJoin(
      new ApiClient(auth.addr, { ca: ping.host_ca_certs }),
      { tokenName: "tpm-token", publicKeys: key.publicKeys, expires: new Date(Date.now() + 3600_000) },
      tpmJoinClient({ tcti: tpm.tcti }),
    );
    expect(r.bot_name).toBe("tpm-bot");
    expect((r.method_result as { ek_pub_hash: string }).ek_pub_hash).toBe(identify.hash);
  });
});
