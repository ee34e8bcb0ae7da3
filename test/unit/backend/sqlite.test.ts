import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteBackend } from "../../../src/auth/backend/sqlite.ts";
import { backendContract } from "./contract.ts";

const dir = mkdtempSync(join(tmpdir(), "backend-"));
let n = 0;
backendContract("sqlite", async () => new SqliteBackend(join(dir, `db-${n++}.sqlite`)));

test("sqlite: the database file is private (0600)", async () => {
  const p = join(dir, "perm.sqlite");
  const b = new SqliteBackend(p);
  await b.close();
  expect(statSync(p).mode & 0o777).toBe(0o600);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));
