// openStore: every `symlinks` mode and memory open; readers reach the store as an ACL policy
// (resolved to numeric IDs when the store is opened), never on storage; unknown names fail.

import { expect, test } from "bun:test";
import { directoryDestination } from "../../../src/agent/config/defaults.ts";
import { openStore } from "../../../src/agent/storage/open.ts";

test("the defaults (try-secure, acls try, no readers), every symlinks mode and memory open", () => {
  expect(openStore(directoryDestination("/tmp/x")).description).toBe("directory /tmp/x");
  for (const symlinks of ["secure", "try-secure", "insecure"] as const)
    expect(openStore({ ...directoryDestination("/tmp/x"), symlinks }).description).toBe("directory /tmp/x");
  expect(openStore({ type: "memory" }).description).toBe("memory");
});

test("readers and acls: required open; readers by name or number", () => {
  const base = directoryDestination("/tmp/never-created");
  expect(openStore({ ...base, acls: "required" }, "destination").description).toBe(
    "directory /tmp/never-created",
  );
  for (const acls of ["try", "required", "off"] as const)
    expect(() =>
      openStore(
        { ...base, acls, readers: [{ user: "root" }, { group: "root" }, { user: "4242" }] },
        "destination",
      ),
    ).not.toThrow();
});

test("an unknown reader name stops the start with one line naming it", () => {
  const base = directoryDestination("/tmp/never-created");
  const e = (() => {
    try {
      openStore({ ...base, readers: [{ user: "no-such-user-xyz" }] }, "destination");
    } catch (err) {
      return err as Error;
    }
  })();
  expect(e?.message).toContain(
    'destination /tmp/never-created: reader user "no-such-user-xyz" does not exist',
  );
  expect(e?.message.split("\n")).toHaveLength(1);
  expect(() => openStore({ ...base, readers: [{ group: "no-such-group-xyz" }] }, "destination")).toThrow(
    /reader group "no-such-group-xyz" does not exist/,
  );
  // acls: off never looks the readers up (they are ignored, with a warning).
  expect(() =>
    openStore({ ...base, acls: "off", readers: [{ user: "no-such-user-xyz" }] }, "destination"),
  ).not.toThrow();
});

test("storage never gets readers", () => {
  expect(() =>
    openStore({ ...directoryDestination("/tmp/x"), readers: [{ user: "root" }] }, "storage"),
  ).toThrow(/readers apply to service destinations, not to storage/);
});
