// Unit checks for the secrets half of "never locked out, never exploited": how join tokens are
// stored (no clear secret name in any value, the name restored for a lookup by name, old rows
// masked at open) and the --packages-dir / data directory check.

import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteBackend } from "../../../src/auth/backend/sqlite.ts";
import { checkPackagesDirOutside } from "../../../src/auth/packages.ts";
import type { TokenResource } from "../../../src/auth/resources/index.ts";
import type { StoredToken } from "../../../src/auth/service.ts";
import { Collection, sha256Hex } from "../../../src/auth/store/collection.ts";
import { maskStoredTokenNames, tokenStoredForm } from "../../../src/auth/store/tokens.ts";

const mask = (name: string) => `sha256:${sha256Hex(name).slice(0, 16)}`;

function token(name: string, join_method: string): StoredToken {
  const t: TokenResource = {
    kind: "token",
    version: "v2",
    metadata: { name },
    spec: { roles: ["Bot"], join_method, bot_name: "robot" },
  } as TokenResource;
  return { token: t };
}

async function rawValues(b: SqliteBackend): Promise<string> {
  return (await b.list("/tokens/")).map((i) => i.value).join("\n");
}

describe("token storage", () => {
  test("U1. a secret name is stored as its mask; get(name) gives it back; CAS and tombstones keep it out", async () => {
    const b = new SqliteBackend(":memory:");
    const tokens = new Collection<StoredToken>(b, "/tokens/", sha256Hex, tokenStoredForm);
    const secret = "0123456789abcdef0123456789abcdef";
    await tokens.create(secret, token(secret, "token"));
    expect(await rawValues(b)).not.toContain(secret);
    const got = (await tokens.get(secret))!;
    expect(got.value.token.metadata.name).toBe(secret);
    expect((await tokens.getBySuffix(sha256Hex(secret)))!.value.token.metadata.name).toBe(mask(secret));
    expect((await tokens.list())[0]!.value.token.metadata.name).toBe(mask(secret));
    // As the join code uses it: the value it read (real name) written back as a tombstone.
    await tokens.compareAndSwap(secret, got.revision, {
      ...got.value,
      consumed_at: new Date().toISOString(),
    });
    expect(await rawValues(b)).not.toContain(secret);
    expect((await tokens.get(secret))!.value.token.metadata.name).toBe(secret);
    // An empty join_method is the token method too.
    await tokens.put("other-secret-name", token("other-secret-name", ""));
    expect(await rawValues(b)).not.toContain("other-secret-name");
    await b.close();
  });

  test("U2. names that are not secrets (bound_keypair, tpm) stay as they are", async () => {
    const b = new SqliteBackend(":memory:");
    const tokens = new Collection<StoredToken>(b, "/tokens/", sha256Hex, tokenStoredForm);
    await tokens.put("bk-robot", token("bk-robot", "bound_keypair"));
    await tokens.put("tpm-robot", token("tpm-robot", "tpm"));
    const names = (await tokens.list()).map((t) => t.value.token.metadata.name).sort();
    expect(names).toEqual(["bk-robot", "tpm-robot"]);
    await b.close();
  });

  test("U3. rows written in clear before are masked when the service opens the database", async () => {
    const b = new SqliteBackend(":memory:");
    const secret = "clear-secret-from-an-older-version";
    await b.put({ key: `/tokens/${sha256Hex(secret)}`, value: JSON.stringify(token(secret, "token")) });
    await b.put({ key: `/tokens/${sha256Hex("bk")}`, value: JSON.stringify(token("bk", "bound_keypair")) });
    expect(await maskStoredTokenNames(b)).toBe(1);
    expect(await rawValues(b)).not.toContain(secret);
    expect(await rawValues(b)).toContain('"name":"bk"');
    expect(await maskStoredTokenNames(b)).toBe(0);
    const tokens = new Collection<StoredToken>(b, "/tokens/", sha256Hex, tokenStoredForm);
    expect((await tokens.get(secret))!.value.token.metadata.name).toBe(secret);
    await b.close();
  });
});

describe("--packages-dir and the data directory", () => {
  test("U4. refused inside, equal, containing, through symlinks, with a data directory not created yet", () => {
    const base = mkdtempSync(join(tmpdir(), "pkgcheck-"));
    try {
      const data = join(base, "data");
      mkdirSync(join(data, "pkgs"), { recursive: true });
      mkdirSync(join(base, "packages"));
      mkdirSync(join(base, "data-other"));
      symlinkSync(data, join(base, "alias"));
      const err = (p: string, d: string) => {
        try {
          checkPackagesDirOutside(p, d);
          return "";
        } catch (e) {
          return (e as Error).message;
        }
      };
      expect(err(join(data, "pkgs"), data)).toContain("is inside the data directory");
      expect(err(data, data)).toContain("is inside");
      expect(err(`${data}/`, data)).toContain("is inside");
      expect(err(join(base, "alias", "pkgs"), data)).toContain("is inside");
      expect(err(join(data, "pkgs"), join(base, "alias"))).toContain("is inside");
      expect(err(base, data)).toContain("contains the data directory");
      expect(err("/", data)).toContain("contains");
      expect(err(base, join(base, "not", "yet", "created"))).toContain("contains");
      expect(err(join(base, "alias", "pkgs"), join(base, "alias", "x", "y"))).toBe("");
      // Outside, and a sibling that only shares a name prefix: accepted.
      expect(err(join(base, "packages"), data)).toBe("");
      expect(err(join(base, "data-other"), data)).toBe("");
      expect(err(join(base, "packages"), join(base, "new-data"))).toBe("");
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
