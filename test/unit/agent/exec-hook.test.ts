// An output's exec hook: argv without a shell, a minimal environment, output kept and cut,
// exit status reported, a hang killed with its process group at the timeout.

import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  describeExec,
  execEnvironment,
  forLog,
  LOG_CHARS,
  runExec,
} from "../../../src/agent/services/exec.ts";

/** Whether a process runs (a zombie that no init has reaped yet does not). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

const env = execEnvironment({ name: "web", type: "identity", dir: "/opt/out" });

test("the environment is PATH and the output's name, type and directory only", () => {
  expect(Object.keys(env).sort()).toEqual([
    "PATH",
    "TBOT_OUTPUT_DIR",
    "TBOT_OUTPUT_NAME",
    "TBOT_OUTPUT_TYPE",
  ]);
  expect(env).toMatchObject({
    TBOT_OUTPUT_NAME: "web",
    TBOT_OUTPUT_TYPE: "identity",
    TBOT_OUTPUT_DIR: "/opt/out",
  });
  expect(execEnvironment({ name: "m", type: "identity" }).TBOT_OUTPUT_DIR).toBeUndefined();
});

test("success: status 0, stdout kept; arguments are not split by a shell", async () => {
  const r = await runExec(["/bin/echo", "a b; $HOME"], { timeoutMs: 5000, env });
  expect(r).toMatchObject({ outcome: "ok", code: 0, signal: null });
  expect(r.stdout).toBe("a b; $HOME\n");
  expect(describeExec(["/bin/echo"], r, 5000)).toBe("exec /bin/echo exited with status 0");
});

test("failure: the exit status and stderr", async () => {
  const r = await runExec(["/bin/sh", "-c", "echo oops >&2; exit 3"], { timeoutMs: 5000, env });
  expect(r).toMatchObject({ outcome: "failed", code: 3 });
  expect(r.stderr).toBe("oops\n");
  expect(describeExec(["/bin/sh"], r, 5000)).toBe("exec /bin/sh exited with status 3");
});

test("a program that does not exist is a failure that says so", async () => {
  const r = await runExec(["/nonexistent/reload"], { timeoutMs: 5000, env });
  expect(r.outcome).toBe("failed");
  expect(describeExec(["/nonexistent/reload"], r, 5000)).toStartWith(
    "exec /nonexistent/reload could not start: ",
  );
});

test("a hang is killed at the timeout, with what it started", async () => {
  const dir = mkdtempSync(join(tmpdir(), "exec-"));
  try {
    const pidFile = join(dir, "child.pid");
    const started = Date.now();
    const r = await runExec(["/bin/sh", "-c", `sleep 60 & echo $! > ${pidFile}; wait`], {
      timeoutMs: 300,
      env,
    });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(r.outcome).toBe("timeout");
    expect(describeExec(["/bin/sh"], r, 300)).toBe("exec /bin/sh timed out after 300ms and was killed");
    const child = Number(readFileSync(pidFile, "utf8").trim());
    await Bun.sleep(100);
    expect(running(child)).toBe(false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a chatty program's output is kept to 4 KiB and cut further for the log", async () => {
  const r = await runExec(["/bin/sh", "-c", "head -c 10000 /dev/zero | tr '\\0' x"], {
    timeoutMs: 5000,
    env,
  });
  expect(r.outcome).toBe("ok");
  expect(r.stdout).toStartWith("x".repeat(4096));
  expect(r.stdout).toEndWith("…[5904 more bytes]");
  expect(forLog(r.stdout)).toHaveLength(LOG_CHARS + 1);
  expect(forLog("  \n")).toBeUndefined();
});
