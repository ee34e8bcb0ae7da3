// The `symlinks` modes against the kernel's openat2 (reference §1.4, §8.6): `secure` opens every
// path component with openat2 and RESOLVE_NO_SYMLINKS and fails clearly where there is none;
// `try-secure` uses it where it is and otherwise refuses links by an O_NOFOLLOW walk; `insecure`
// follows links. "No openat2" is simulated with the probe's test switch (this kernel has it).

import { afterEach, expect, test } from "bun:test";
import { mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { DirectoryStore } from "../../../src/agent/storage/directory.ts";
import {
  AT_FDCWD,
  hasOpenat2,
  O_DIRECTORY,
  O_RDONLY,
  openat2,
  RESOLVE_NO_SYMLINKS,
  setOpenat2ForTest,
} from "../../../src/agent/storage/fsat.ts";
import { cleanupAfterFile, tempDir } from "../../harness/proc.ts";

cleanupAfterFile();

afterEach(() => setOpenat2ForTest(null));

function linked() {
  const root = tempDir("symlinks-");
  const real = join(root, "real");
  mkdirSync(real, { mode: 0o700 });
  const link = join(root, "link");
  symlinkSync(real, link);
  return { root, real, link };
}

test("openat2 with RESOLVE_NO_SYMLINKS refuses a link anywhere in the path (ELOOP)", () => {
  if (!hasOpenat2()) return; // kernels < 5.6: covered by the cases below
  const { link } = linked();
  expect(() => openat2(AT_FDCWD, join(link, "."), O_RDONLY | O_DIRECTORY, RESOLVE_NO_SYMLINKS)).toThrow(
    /ELOOP/,
  );
});

test("secure and try-secure refuse a link in the path, with openat2 or without it", async () => {
  for (const have of [true, false])
    for (const symlinks of ["secure", "try-secure"] as const) {
      if (have && !hasOpenat2()) continue;
      if (!have && symlinks === "secure") continue;
      setOpenat2ForTest(have);
      const { link, real } = linked();
      await expect(new DirectoryStore(join(link), { symlinks, label: "destination" }).init()).rejects.toThrow(
        `destination ${link} is a symbolic link (to ${real})`,
      );
      const s = new DirectoryStore(join(real, "out"), { symlinks, label: "destination" });
      await s.writeSet("identity", { key: "K" });
      expect(readFileSync(join(real, "out", "key"), "utf8")).toBe("K");
    }
});

test("secure without openat2 fails with one line naming the mode and the way out", async () => {
  setOpenat2ForTest(false);
  const { real } = linked();
  const err = await new DirectoryStore(join(real, "out"), { symlinks: "secure", label: "destination" })
    .init()
    .catch((e) => e as Error);
  expect((err as Error).message).toBe(
    `destination ${join(real, "out")}: symlinks: secure needs openat2(2) with RESOLVE_NO_SYMLINKS (Linux 5.6 or later), which this system does not provide; set "symlinks: try-secure" (links are then refused by an O_NOFOLLOW walk) or "symlinks: insecure"`,
  );
});

test("insecure follows the link, with or without openat2", async () => {
  for (const have of [true, false]) {
    setOpenat2ForTest(have);
    const { link, real } = linked();
    const s = new DirectoryStore(link, { symlinks: "insecure" });
    await s.writeSet("identity", { key: "K" });
    expect(readFileSync(join(real, "key"), "utf8")).toBe("K");
  }
});
