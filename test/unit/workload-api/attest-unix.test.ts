// The unix attestor: SO_PEERCRED through bun:ffi on an accepted node:net Unix socket, the lazy
// binary path and SHA-256 from /proc/<pid>/exe, and the pid-reuse guard.

import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "bun";
import {
  attestCredentials,
  attestUnixSocket,
  attribute,
} from "../../../src/agent/workload-api/attest-unix.ts";
import { parseListen } from "../../../src/agent/workload-api/server.ts";

test("SO_PEERCRED of an accepted connection names this process", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wlapi-attest-"));
  const path = join(dir, "s.sock");
  try {
    const got = await new Promise<ReturnType<typeof attestUnixSocket>>((resolve, reject) => {
      const srv = net.createServer((s) => {
        try {
          resolve(attestUnixSocket(s));
        } catch (e) {
          reject(e);
        }
        s.destroy();
        srv.close();
      });
      srv.listen(path, () => net.connect(path).on("error", () => {}));
    });
    const u = got.attrs.unix;
    expect(u.pid).toBe(process.pid);
    expect(u.uid).toBe(process.getuid?.() ?? -1);
    expect(u.gid).toBe(process.getgid?.() ?? -1);
    expect(got.stillSameProcess()).toBe(true);
    expect(await attribute(got.attrs, "workload.unix.uid")).toBe(u.uid);
    expect(await attribute(got.attrs, "workload.unix.attested")).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("binary_path and binary_hash come from /proc/<pid>/exe, computed once", async () => {
  const p = attestCredentials({ pid: process.pid, uid: 0, gid: 0 });
  const exe = realpathSync(process.execPath);
  expect(await attribute(p.attrs, "workload.unix.binary_path")).toBe(exe);
  const want = createHash("sha256").update(readFileSync(exe)).digest("hex");
  const h1 = p.attrs.unix.binaryHash();
  expect(p.attrs.unix.binaryHash()).toBe(h1); // memoized
  expect(await h1).toBe(want);
  expect(await attribute(p.attrs, "workload.unknown")).toBeUndefined();
});

test("a process that exited is no longer the attested one", async () => {
  const child = spawn(["sleep", "30"]);
  const p = attestCredentials({ pid: child.pid, uid: 0, gid: 0 });
  expect(p.stillSameProcess()).toBe(true);
  child.kill();
  await child.exited;
  expect(p.stillSameProcess()).toBe(false);
  expect(await p.attrs.unix.binaryPath()).toBeUndefined();
});

test("listen: unix:///absolute/path only", () => {
  expect(parseListen("unix:///run/tbot/workload.sock")).toBe("/run/tbot/workload.sock");
  for (const bad of [
    "tcp://127.0.0.1:8000",
    "unix://relative.sock",
    "/run/x.sock",
    "unix:///",
    "unix:///run/",
  ]) {
    expect(() => parseListen(bad)).toThrow(/unix:\/\/\/absolute\/path/);
  }
});
