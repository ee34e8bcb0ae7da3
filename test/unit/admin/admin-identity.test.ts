// Admin identities in-process: the data directory's admin-identity is kept across starts while
// usable and replaced when it is missing, locked, from another cluster or from before IDs;
// the server refuses an admin certificate without an ID, without a record, or locked.

import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureAdminIdentity, issueAdminIdentity } from "../../../src/auth/admin-identity.ts";
import { assertNotLocked, createLock, lockTarget } from "../../../src/auth/locks.ts";
import { AuthService } from "../../../src/auth/service.ts";
import { parseIdentityFile, renderIdentityFile } from "../../../src/crypto/identity-file.ts";
import { generateKeyPair, privateKeyPem, publicKeyPem } from "../../../src/crypto/keys.ts";
import { sshPublicKeyLine } from "../../../src/crypto/ssh/index.ts";
import { parseTlsIdentity } from "../../../src/crypto/tls-identity.ts";

let base: string;
let svc: AuthService;
const callerOf = (path: string) => parseTlsIdentity(parseIdentityFile(readFileSync(path, "utf8")).tlsCertPem);
const refusal = async (path: string) =>
  assertNotLocked(svc, callerOf(path)).then(
    () => "",
    (e) => (e as Error).message,
  );

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), "admin-id-"));
  svc = await AuthService.open({ dataDir: join(base, "data"), clusterName: "unit.test" });
});
afterAll(async () => {
  await svc.close();
  rmSync(base, { recursive: true, force: true });
});

describe("the data directory's admin identity", () => {
  test("U5. written once, then kept; replaced when deleted or locked", async () => {
    const first = await ensureAdminIdentity(svc);
    expect(first.issued).toBe(true);
    expect(await refusal(first.path)).toBe("");
    const kept = await ensureAdminIdentity(svc);
    expect(kept).toEqual({ id: first.id, path: first.path, issued: false });
    expect(callerOf(first.path).adminIdentityId).toBe(first.id);

    rmSync(first.path);
    const again = await ensureAdminIdentity(svc);
    expect(again.issued).toBe(true);
    expect(again.id).not.toBe(first.id);

    await createLock(svc, { admin_identity: again.id }, "test", "unit");
    expect(await refusal(again.path)).toContain(`admin identity ${again.id} is locked: test`);
    const replaced = await ensureAdminIdentity(svc);
    expect(replaced.issued).toBe(true);
    expect(replaced.reason).toContain("is locked");
    expect(await refusal(replaced.path)).toBe("");
  });

  test("U6. an admin certificate from before IDs is refused, and replaced at start", async () => {
    const keys = await generateKeyPair("ecdsa-p256");
    const certs = await svc.issuer.issueIdentity({
      username: "admin",
      roles: ["admin"],
      publicKeys: {
        tls_public_key: await publicKeyPem(keys.publicKey),
        ssh_public_key: await sshPublicKeyLine(keys.publicKey),
      },
      requestedExpiry: new Date(Date.now() + 86_400_000),
      maxTtlMs: 86_400_000,
      ttlCapMs: 86_400_000,
      renewable: false,
      generation: 0,
      systemRole: "Admin",
      disallowReissue: true,
      logins: [],
    });
    const path = join(svc.dataDir, "admin-identity");
    writeFileSync(
      path,
      renderIdentityFile({
        privateKeyPem: await privateKeyPem(keys.privateKey),
        sshCert: certs.ssh_cert,
        tlsCertPem: certs.tls_cert,
        sshCaLines: [],
        tlsCaPems: certs.tls_ca_certs,
      }),
    );
    expect(await refusal(path)).toContain("has no ID");
    const replaced = await ensureAdminIdentity(svc);
    expect(replaced.issued).toBe(true);
    expect(replaced.reason).toContain("has no ID");
  });

  test("U7. another cluster's admin identity is replaced; an unknown ID is refused", async () => {
    const other = await AuthService.open({ dataDir: join(base, "other"), clusterName: "other.test" });
    const foreign = await ensureAdminIdentity(other);
    await other.close();
    copyFileSync(foreign.path, join(svc.dataDir, "admin-identity"));
    const replaced = await ensureAdminIdentity(svc);
    expect(replaced.reason).toContain("not issued by this cluster");
    // Its ID has no record here.
    expect((await assertNotLocked(svc, callerOf(foreign.path)).catch((e) => e)).message).toContain(
      "is not known to this cluster",
    );
  });

  test("U8. lock targets: exactly one; an admin identity must exist and may not be the caller's own", async () => {
    const extra = await issueAdminIdentity(svc, {
      ttlMs: 3600_000,
      path: join(base, "extra"),
      createdBy: "unit",
      exclusive: true,
    });
    const me = callerOf(join(svc.dataDir, "admin-identity"));
    const err = (p: Promise<unknown>) =>
      p.then(
        () => "",
        (e) => (e as Error).message,
      );
    expect(await lockTarget(svc, undefined, undefined, extra.id, me)).toEqual({ admin_identity: extra.id });
    expect(await err(lockTarget(svc, undefined, undefined, me.adminIdentityId, me))).toContain(
      "is the one this tctl uses",
    );
    expect(await err(lockTarget(svc, undefined, undefined, "nope", me))).toContain("not found");
    expect(await err(lockTarget(svc, "bot", undefined, extra.id, me))).toContain("exactly one target");
    expect(await err(lockTarget(svc, undefined, undefined, undefined, me))).toContain("exactly one target");
    expect(await lockTarget(svc, "bot", undefined, undefined, me)).toEqual({ bot: "bot" });
    await expect(
      issueAdminIdentity(svc, { ttlMs: 3600_000, path: extra.path, createdBy: "unit", exclusive: true }),
    ).rejects.toThrow("already exists");
  });
});
