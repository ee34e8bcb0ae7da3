// `tbot keypair create`'s storage flags: --storage and --data-dir together are refused, as
// `tbot start` refuses them; each alone names the storage.

import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { parseTbotArgs } from "../../../src/cli/tbot-args.ts";
import { keypairCreateOptions } from "../../../src/cli/tbot-keypair.ts";
import { UserError } from "../../../src/util/errors.ts";

const opts = (argv: string[]) => keypairCreateOptions(parseTbotArgs(["keypair", "create", ...argv]), {});

test("--storage and --data-dir together are refused with start's message", async () => {
  const e = await opts(["--proxy-server", "p:443", "--storage", "/a", "--data-dir", "/b"]).catch((x) => x);
  expect(e).toBeInstanceOf(UserError);
  expect(e.message).toBe("--data-dir and --storage both set the storage; use only one");
});

test("either one alone names the storage; --data-dir is always a directory", async () => {
  expect((await opts(["--storage", "memory://"])).storage).toEqual({ type: "memory" });
  expect((await opts(["--data-dir", "rel/dir"])).storage).toMatchObject({
    type: "directory",
    path: resolve("rel/dir"),
  });
  expect((await opts(["--storage", "/abs/s"])).storage).toMatchObject({ type: "directory", path: "/abs/s" });
});
