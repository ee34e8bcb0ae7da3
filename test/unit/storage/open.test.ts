// Options that promise protections this build does not implement are refused, never ignored;
// the `symlinks` modes are all implemented and reach the directory store.

import { expect, test } from "bun:test";
import { directoryDestination } from "../../../src/agent/config/defaults.ts";
import { openStore } from "../../../src/agent/storage/open.ts";

test("readers and acls: required are refused with a clear message", () => {
  const base = directoryDestination("/tmp/never-created");
  expect(() => openStore({ ...base, readers: [{ user: "jenkins" }] })).toThrow(/need POSIX ACLs/);
  expect(() => openStore({ ...base, acls: "required" })).toThrow(/need POSIX ACLs/);
});

test("the defaults (try-secure, acls try, no readers), every symlinks mode and memory open", () => {
  expect(openStore(directoryDestination("/tmp/x")).description).toBe("directory /tmp/x");
  for (const symlinks of ["secure", "try-secure", "insecure"] as const)
    expect(openStore({ ...directoryDestination("/tmp/x"), symlinks }).description).toBe("directory /tmp/x");
  expect(openStore({ type: "memory" }).description).toBe("memory");
});
