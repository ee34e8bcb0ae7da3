// The db, db_client and app CAs: created once, race-safe, also for a cluster made before they
// existed; server certificates from `tctl auth sign` (admin-sign.ts) and leaves (issueLeaf).

import { describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { signServerCert } from "../../../src/auth/api/admin-sign.ts";
import { Authorities, caTypes } from "../../../src/auth/authorities.ts";
import { SqliteBackend } from "../../../src/auth/backend/sqlite.ts";
import { AuthService } from "../../../src/auth/service.ts";
import { generateKeyPair, publicKeyPem } from "../../../src/crypto/keys.ts";
import { cleanupAfterFile, tempDir } from "../../harness/proc.ts";

cleanupAfterFile();

const ouOf = (pem: string) => /OU=([^\n]+)/.exec(new X509Certificate(pem).subject)?.[1];

describe("database and application CAs", () => {
  test("every type is made once; two replicas starting together agree", async () => {
    const backend = new SqliteBackend(join(tempDir("cas-"), "t.db"));
    const [a, b] = await Promise.all([
      Authorities.init(backend, "c.test"),
      Authorities.init(backend, "c.test"),
    ]);
    for (const t of caTypes) expect(await backend.get(`/authorities/${t}`)).not.toBeNull();
    expect(a.dbClient.tlsCert).toBe(b.dbClient.tlsCert);
    expect(a.app.tlsCert).toBe(b.app.tlsCert);
    expect(ouOf(a.db.tlsCert)).toBe("db");
    expect(ouOf(a.dbClient.tlsCert)).toBe("db_client");
    expect(ouOf(a.app.tlsCert)).toBe("app");
    expect(a.dbClient.sshKey).toBeUndefined();
    expect(new Set([a.db, a.dbClient, a.app, a.user, a.host].map((c) => c.tlsCert)).size).toBe(5);
    await backend.close();
  });

  test("a cluster made before db_client and app existed gets them at its next start, the others kept", async () => {
    const backend = new SqliteBackend(join(tempDir("cas-"), "t.db"));
    const first = await Authorities.init(backend, "c.test");
    await backend.delete("/authorities/db_client");
    await backend.delete("/authorities/app");
    const again = await Authorities.init(backend, "c.test");
    expect(again.user.tlsCert).toBe(first.user.tlsCert);
    expect(again.db.tlsCert).toBe(first.db.tlsCert);
    expect(again.dbClient.tlsCert).not.toBe(first.dbClient.tlsCert);
    expect(await backend.get("/authorities/app")).not.toBeNull();
    await backend.close();
  });
});

describe("tctl auth sign (admin-sign.ts)", () => {
  test("--format=db: a server certificate from the db CA; .cas is the db_client CA", async () => {
    const svc = await AuthService.open({ dataDir: tempDir("sign-"), clusterName: "c.test" });
    try {
      const keys = await generateKeyPair("ecdsa-p256");
      const r = await signServerCert(
        svc,
        {
          format: "db",
          hosts: ["db.example.com", "127.0.0.1"],
          public_key: await publicKeyPem(keys.publicKey),
          ttl: "2190h",
        },
        "admin:x",
      );
      const cert = new X509Certificate(r.cert);
      expect(cert.checkIssued(new X509Certificate(svc.authorities.db.tlsCert))).toBe(true);
      expect(cert.subject).toContain("CN=db.example.com");
      expect(cert.subjectAltName).toContain("DNS:db.example.com");
      expect(cert.subjectAltName).toContain("IP Address:127.0.0.1");
      expect(r.cas).toBe(svc.authorities.dbClient.tlsCert);
      expect(r.server_ca).toBe(svc.authorities.db.tlsCert);
      const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(91);
      expect(days).toBeLessThan(92);
      const app = await signServerCert(
        svc,
        { format: "app", hosts: ["localhost"], public_key: await publicKeyPem(keys.publicKey) },
        "admin:x",
      );
      expect(
        new X509Certificate(app.cert).checkIssued(new X509Certificate(svc.authorities.app.tlsCert)),
      ).toBe(true);
      expect(app.cas).toBe(svc.authorities.app.tlsCert);
    } finally {
      await svc.close();
    }
  });

  test("refusals: format, hosts, ttl", async () => {
    const svc = await AuthService.open({ dataDir: tempDir("sign-"), clusterName: "c.test" });
    try {
      const pk = await publicKeyPem((await generateKeyPair("ecdsa-p256")).publicKey);
      await expect(
        signServerCert(svc, { format: "x509", hosts: ["a"], public_key: pk }, "a"),
      ).rejects.toThrow("--format must be db or app");
      await expect(signServerCert(svc, { format: "db", hosts: [], public_key: pk }, "a")).rejects.toThrow(
        "--host is required",
      );
      await expect(
        signServerCert(svc, { format: "db", hosts: ["a b"], public_key: pk }, "a"),
      ).rejects.toThrow("neither a DNS name nor an IP address");
      await expect(
        signServerCert(svc, { format: "db", hosts: ["a"], public_key: pk, ttl: "100000h" }, "a"),
      ).rejects.toThrow("--ttl must be at most");
    } finally {
      await svc.close();
    }
  });
});
