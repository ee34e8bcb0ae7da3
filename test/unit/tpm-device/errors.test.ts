// How tbot finds libtss2 and what it says when something is missing or a TPM command fails:
// pure checks of the resolver and of the messages, no TPM needed.

import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { LibraryNotFound, libraryDirs, locateLibrary } from "../../../ffi/locate.ts";
import { Tss2Error } from "../../../ffi/structs.ts";
import { libraryError, TpmError, tpmBaseRc, tss2Failure } from "../../../src/tpm/device/errors.ts";
import { describeTcti, tctiFromEnv } from "../../../src/tpm/device/tcti.ts";
import { ExitCode } from "../../../src/util/errors.ts";
import { cleanupAfterFile, tempDir } from "../../harness/proc.ts";

cleanupAfterFile();

test("TSS2_LIBDIR is the only directory searched when set; relative LD_LIBRARY_PATH entries never are", () => {
  expect(libraryDirs({ TSS2_LIBDIR: "/opt/tss/lib" })).toEqual(["/opt/tss/lib"]);
  const dirs = libraryDirs({ LD_LIBRARY_PATH: "/custom:relative/dir::." });
  expect(dirs[0]).toBe("/custom");
  expect(dirs.every((d) => d.startsWith("/"))).toBe(true);
  expect(dirs).toContain("/usr/lib");
});

test("a library is found by absolute path, or reported with the directories searched", () => {
  const dir = tempDir("libdir-");
  writeFileSync(join(dir, "libtss2-rc.so.0"), "");
  expect(locateLibrary("libtss2-rc.so.0", [dir])).toBe(join(dir, "libtss2-rc.so.0"));
  let err: unknown;
  try {
    locateLibrary("libtss2-esys.so.0", [dir]);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(LibraryNotFound);
  const message = libraryError(err)!;
  expect(message.exitCode).toBe(ExitCode.tpmUnavailable);
  expect(message.message).toContain("libtss2-esys.so.0 is not installed");
  expect(message.message).toContain("Install package libtss2-esys-3.0.2-0");
  expect(message.message).toContain(dir);
});

test("TBOT_TPM_TCTI: empty means the kernel resource manager, never the empty TCTI string", () => {
  expect(tctiFromEnv({})).toBe("device:/dev/tpmrm0");
  expect(tctiFromEnv({ TBOT_TPM_TCTI: "  " })).toBe("device:/dev/tpmrm0");
  expect(tctiFromEnv({ TBOT_TPM_TCTI: "swtpm:port=2321" })).toBe("swtpm:port=2321");
  expect(describeTcti("swtpm:host=127.0.0.1,port=2400")).toEqual({
    kind: "simulator",
    name: "swtpm",
    host: "127.0.0.1",
    port: 2400,
  });
  expect(describeTcti("device")).toEqual({ kind: "device", path: "/dev/tpmrm0" });
});

const failure = (rc: number, tcti = "device:/dev/tpmrm0") =>
  tss2Failure(new Tss2Error("Esys_Something", rc, "decoded"), tcti, "doing a thing");

test("TPM response codes: format-1 codes lose their parameter number", () => {
  expect(tpmBaseRc(0x1df)).toBe(0x09f); // integrity, parameter 1
  expect(tpmBaseRc(0x902)).toBe(0x902); // object memory (a warning, format 0)
  expect(tpmBaseRc(0x0a000a)).toBe(0x0a000a); // TCTI layer: unchanged
});

test("no usable TPM is exit 3 with advice; a credential for another TPM is exit 1", () => {
  const slots = failure(0x902);
  expect(slots).toBeInstanceOf(TpmError);
  expect(slots.exitCode).toBe(ExitCode.tpmUnavailable);
  expect(slots.message).toContain("tpm2_flushcontext");
  expect(failure(0x921).message).toContain("lockout");
  expect(failure(0x9a2).message).toContain("endorsement hierarchy has a password");
  const integrity = failure(0x1df);
  expect(integrity.exitCode).toBe(ExitCode.error);
  expect(integrity.rc).toBe(0x1df);
  expect(integrity.message).toContain("not made for this TPM's EK");
});

test("TCTI failures name what to check: device path, simulator address, unknown TCTI", () => {
  expect(failure(0x0a000a, "device:/nonexistent/tpmrm0").message).toMatch(
    /^no TPM device at \/nonexistent\/tpmrm0/,
  );
  const sim = failure(0x0a000a, "swtpm:host=127.0.0.1,port=2999");
  expect(sim.exitCode).toBe(ExitCode.tpmUnavailable);
  expect(sim.message).toContain("cannot reach the TPM simulator at 127.0.0.1:2999");
  expect(failure(0x0a0015, "swtpm:port=1").message).toContain("install libtss2-tcti-swtpm0");
  expect(failure(0x0a0015, "bogus:x").message).toContain("not a TCTI tpm2-tss knows");
});

test("the simulator hint is a command that works as printed: swtpm listens where the message says", async () => {
  // swtpm serves on port and port+1 (control): both must be free, or it exits at once.
  const { freePortPair } = await import("../../harness/swtpm.ts");
  const port = await freePortPair();
  const sim = failure(0x0a000a, `swtpm:host=127.0.0.1,port=${port}`);
  const command = /Start it \(e\.g\. "([^"]+)"\)/.exec(sim.message)?.[1];
  expect(command).toBeDefined();
  // Only the state directory is this test's own; the rest runs exactly as printed.
  const state = tempDir("swtpm-hint-");
  // Its own process group, so that the shell and the swtpm it starts are stopped together.
  const { spawn } = await import("node:child_process");
  const proc = spawn("sh", ["-c", command!.replaceAll("/tmp/tbot-swtpm", state)], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  proc.stdout!.on("data", (d) => (output += d));
  proc.stderr!.on("data", (d) => (output += d));
  let exitCode: number | null = null;
  const exited = new Promise((resolve) =>
    proc.once("exit", (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  try {
    const deadline = Date.now() + 10_000;
    let up = false;
    while (!up && exitCode === null && Date.now() < deadline) {
      up = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
        (s) => {
          s.end();
          return true;
        },
        () => false,
      );
      if (!up) await Bun.sleep(100);
    }
    // On failure, say what the printed command itself said.
    expect({ up, exitCode, output }).toMatchObject({ up: true });
  } finally {
    if (exitCode === null) process.kill(-proc.pid!, "SIGKILL");
    await exited;
  }
});
