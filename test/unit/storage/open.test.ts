// Options that promise protections this build does not implement are refused, never ignored.

import { expect, test } from "bun:test";
import { directoryDestination } from "../../../src/agent/config/defaults.ts";
import { openStore } from "../../../src/agent/storage/open.ts";

test("readers, acls: required and symlinks: secure are refused with a clear message", () => {
  const base = directoryDestination("/tmp/never-created");
  expect(() => openStore({ ...base, readers: [{ user: "jenkins" }] })).toThrow(/need POSIX ACLs/);
  expect(() => openStore({ ...base, acls: "required" })).toThrow(/need POSIX ACLs/);
  expect(() => openStore({ ...base, symlinks: "secure" })).toThrow(/symlinks: secure/);
});

test("the defaults (try-secure, acls try, no readers) and memory open", () => {
  expect(openStore(directoryDestination("/tmp/x")).description).toBe("directory /tmp/x");
  expect(openStore({ type: "memory" }).description).toBe("memory");
});
