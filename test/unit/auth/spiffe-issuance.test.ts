// The SPIFFE CA (created once, also for an existing cluster) and SVID issuance through the
// service with a bot's internal identity: X.509 (URI SAN, CA false, key usage, chain) and JWT
// (verified with jose against the published JWKS), and the refusals.

import { describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { createLocalJWKSet, jwtVerify } from "jose";
import { Authorities } from "../../../src/auth/authorities.ts";
import { SqliteBackend } from "../../../src/auth/backend/sqlite.ts";
import { parseResources } from "../../../src/auth/resources/index.ts";
import { AuthService } from "../../../src/auth/service.ts";
import { issueJwtSvids, issueX509Svids } from "../../../src/auth/workload-identity-certs.ts";
import { generateKeyPair, publicKeyPem } from "../../../src/crypto/keys.ts";
import type { TlsIdentity } from "../../../src/crypto/tls-identity.ts";
import { cleanupAfterFile, tempDir } from "../../harness/proc.ts";

cleanupAfterFile();

const resources = `kind: role
version: v7
metadata: {name: wl}
spec:
  allow:
    workload_identity_labels: {env: prod}
---
kind: bot
version: v1
metadata: {name: ci}
spec: {roles: [wl]}
---
kind: workload_identity
version: v1
metadata: {name: by-uid, labels: {env: prod}}
spec:
  spiffe:
    id: /bots/{{ user.bot_name }}/uid/{{ workload.unix.uid }}
    hint: uid
    x509: {dns_sans: [svc.example.com], maximum_ttl: 10m}
    jwt: {extra_claims: {method: "{{ join.meta.join_method }}"}}
---
kind: workload_identity
version: v1
metadata: {name: dev-only, labels: {env: dev}}
spec: {spiffe: {id: /dev}}
---
kind: workload_identity
version: v1
metadata: {name: from-repo, labels: {env: prod}}
spec: {spiffe: {id: "/repo/{{ join.github.repository }}"}}
`;

async function cluster() {
  const svc = await AuthService.open({ dataDir: tempDir("spiffe-"), clusterName: "Spiffe.Test" });
  for (const r of parseResources(resources, "r.yaml"))
    await (r.kind === "bot" ? svc.bots : r.kind === "role" ? svc.roles : svc.workloadIdentities).put(
      r.metadata.name,
      r as never,
    );
  await svc.instances.put("ci/i1", {
    kind: "bot_instance",
    version: "v1",
    metadata: { name: "i1" },
    spec: { bot_name: "ci", instance_id: "i1" },
    status: {
      generation: 1,
      // As after more than 10 renewals: the join itself is only in initial_authentication.
      initial_authentication: {
        authenticated_at: "",
        join_method: "token",
        join_token: "t",
        generation: 1,
        public_key: "",
        join_attrs: { meta: { join_method: "token", join_token_name: "t" } },
      },
      latest_authentications: [
        { authenticated_at: "", join_method: "token", join_token: "", generation: 12, public_key: "" },
      ],
      latest_heartbeats: [],
    } as never,
  });
  const caller: TlsIdentity = {
    username: "bot-ci",
    roles: ["bot-ci"],
    clusterName: "Spiffe.Test",
    renewable: true,
    generation: 0,
    disallowReissue: false,
    botName: "ci",
    botInstanceId: "i1",
    notBefore: new Date(),
    notAfter: new Date(Date.now() + 3600_000),
    serial: "01",
  };
  return { svc, caller };
}

describe("SPIFFE CA", () => {
  test("made once (concurrent replicas agree), a CA with URI SAN spiffe://<trust domain> and a JWT key", async () => {
    const backend = new SqliteBackend(join(tempDir("cas-"), "t.db"));
    const [a, b] = await Promise.all([
      Authorities.init(backend, "Spiffe.Test"),
      Authorities.init(backend, "Spiffe.Test"),
    ]);
    expect(a.spiffe.tlsCert).toBe(b.spiffe.tlsCert);
    expect(a.trustDomain).toBe("spiffe.test");
    const ca = new X509Certificate(a.spiffe.tlsCert);
    expect(ca.ca).toBe(true);
    expect(ca.subjectAltName).toBe("URI:spiffe://spiffe.test");
    expect(a.jwks().keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", kid: a.spiffe.jwtKid });
    expect(a.jwks()).toEqual(b.jwks());
    // An existing cluster (no spiffe CA yet) gets it at its next start, the others kept.
    await backend.delete("/authorities/spiffe");
    const again = await Authorities.init(backend, "Spiffe.Test");
    expect(again.user.tlsCert).toBe(a.user.tlsCert);
    expect(again.spiffe.tlsCert).not.toBe(a.spiffe.tlsCert);
    await backend.close();
  });
});

describe("SVID issuance", () => {
  test("X.509: one URI SAN, CA false, digitalSignature, chains to the bundle, TTL capped", async () => {
    const { svc, caller } = await cluster();
    try {
      const key = await generateKeyPair("ecdsa-p256");
      const r = await issueX509Svids(svc, caller, {
        selector: { name: "by-uid" },
        public_key: await publicKeyPem(key.publicKey),
        ttl_seconds: 7200,
        workload: { unix: { uid: 1000 } },
      });
      expect(r.trust_domain).toBe("spiffe.test");
      expect(r.svids).toHaveLength(1);
      const s = r.svids[0]!;
      expect(s.spiffe_id).toBe("spiffe://spiffe.test/bots/ci/uid/1000");
      expect(s.hint).toBe("uid");
      const leaf = new X509Certificate(s.cert);
      expect(leaf.subjectAltName).toBe("URI:spiffe://spiffe.test/bots/ci/uid/1000, DNS:svc.example.com");
      expect(leaf.ca).toBe(false);
      expect(leaf.keyUsage ?? []).not.toContain("1.3.6.1.5.5.7.3.9");
      const ca = new X509Certificate(r.bundle[0]!);
      expect(leaf.checkIssued(ca)).toBe(true);
      expect(leaf.verify(ca.publicKey)).toBe(true);
      const ttl = new Date(leaf.validTo).getTime() - Date.now();
      expect(ttl).toBeLessThanOrEqual(10 * 60_000 + 1000); // maximum_ttl 10m beats 2h asked
      expect(ttl).toBeGreaterThan(8 * 60_000);
    } finally {
      await svc.close();
    }
  });

  test("JWT: verifies with jose against the JWKS; sub, aud, exp, iat, jti, extra claims", async () => {
    const { svc, caller } = await cluster();
    try {
      const r = await issueJwtSvids(svc, caller, {
        selector: { name: "by-uid" },
        audiences: ["https://api.example.com"],
        workload: { unix: { uid: 7 } },
      });
      const s = r.svids[0]!;
      const { payload, protectedHeader } = await jwtVerify(
        s.token,
        createLocalJWKSet(svc.authorities.jwks() as never),
        {
          audience: "https://api.example.com",
        },
      );
      expect(protectedHeader.alg).toBe("ES256");
      expect(protectedHeader.kid).toBe(svc.authorities.spiffe.jwtKid);
      expect(payload.sub).toBe("spiffe://spiffe.test/bots/ci/uid/7");
      expect(payload.jti).toBe(s.jti);
      expect(payload.method).toBe("token");
      expect(payload.exp! - payload.iat!).toBe(300);
    } finally {
      await svc.close();
    }
  });

  test("refusals: not granted, a missing attribute (workload and join), bad selector; labels selectors skip", async () => {
    const { svc, caller } = await cluster();
    try {
      const pk = await publicKeyPem((await generateKeyPair("ecdsa-p256")).publicKey);
      const x509 = (selector: object, workload?: object) =>
        issueX509Svids(svc, caller, { selector, public_key: pk, ...(workload ? { workload } : {}) } as never);
      await expect(x509({ name: "dev-only" })).rejects.toThrow(
        'bot "ci": no role grants workload_identity "dev-only" (labels {env: dev}): add workload_identity_labels that match it to one of the bot\'s roles',
      );
      await expect(x509({ name: "by-uid" })).rejects.toThrow(
        'bot "ci": workload identity "by-uid": template {{ workload.unix.uid }} needs attribute workload.unix.uid, which the workload did not provide',
      );
      await expect(x509({ name: "from-repo" })).rejects.toThrow(
        "needs attribute join.github.repository, which the bot's most recent join did not provide",
      );
      await expect(x509({ name: "nope" })).rejects.toThrow(/workload_identity "nope" not found/);
      await expect(x509({})).rejects.toThrow("selector must have exactly one of name or labels");
      // Labels: by-uid issues, from-repo is skipped with its reason, dev-only is not matched.
      const r = await x509({ labels: { env: ["prod", "dev"] } }, { unix: { uid: 1 } });
      expect(r.svids.map((s) => s.name)).toEqual(["by-uid"]);
      expect(r.skipped.map((s) => s.name).sort()).toEqual(["dev-only", "from-repo"]);
      await expect(x509({ labels: { env: "prod" } })).rejects.toThrow(
        /no workload identity issued: .*by-uid.*from-repo/,
      );
      const audit = await Bun.file(join(svc.dataDir, "audit.log")).text();
      expect(audit).toContain('"spiffe.svid.issued"');
      expect(audit).toContain('"spiffe.svid.denied"');
    } finally {
      await svc.close();
    }
  });

  test("an output (disallow-reissue) certificate may not ask", async () => {
    const { svc, caller } = await cluster();
    try {
      await expect(
        issueJwtSvids(
          svc,
          { ...caller, disallowReissue: true },
          { selector: { name: "by-uid" }, audiences: ["a"] },
        ),
      ).rejects.toThrow(/disallow-reissue/);
    } finally {
      await svc.close();
    }
  });
});

describe("request schemas", () => {
  test("workload attributes, audiences and selectors are bounded and typed", async () => {
    const { WorkloadJwtRequestSchema, WorkloadX509RequestSchema } = await import(
      "../../../src/protocol/messages.ts"
    );
    const ok = WorkloadX509RequestSchema.parse(
      {
        selector: { labels: { env: ["a", "b"] } },
        public_key: "x",
        workload: { unix: { attested: true, uid: 0, binary_hash: "ab12" }, extra: 1 },
      },
      "",
    );
    expect(ok.workload).toEqual({ unix: { attested: true, uid: 0, binary_hash: "ab12" } });
    expect(() =>
      WorkloadX509RequestSchema.parse({ selector: {}, public_key: "x", workload: { unix: { uid: -1 } } }, ""),
    ).toThrow("workload.unix.uid must be between 0 and 4294967295, got -1");
    expect(() =>
      WorkloadX509RequestSchema.parse(
        { selector: {}, public_key: "x", workload: { unix: { binary_hash: "XY" } } },
        "",
      ),
    ).toThrow("workload.unix.binary_hash must be lowercase hex");
    expect(() => WorkloadJwtRequestSchema.parse({ selector: { name: "a" }, audiences: [] }, "")).toThrow(
      /audiences/,
    );
  });
});
