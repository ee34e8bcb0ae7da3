// An unprivileged local user for tests that play another user on the machine (planting links
// in a directory tbot uses): created with useradd when absent; commands run as that user
// with setpriv (real and effective uid/gid, no supplementary groups). Needs root.

import { type RunResult, run } from "./proc.ts";

export interface Unprivileged {
  name: string;
  uid: number;
  gid: number;
  /** Run argv as the user. */
  run(cmd: string[]): RunResult;
  /** Run a sh script as the user; throws with its output unless it exits 0. */
  sh(script: string): RunResult;
}

export const canActAsOtherUser = () => process.geteuid?.() === 0;

export function unprivilegedUser(name = "tbot-attacker"): Unprivileged {
  if (run(["getent", "passwd", name]).code !== 0) {
    const r = run(["useradd", "--system", "--no-create-home", "--user-group", "--shell", "/bin/sh", name]);
    // 9: created meanwhile by a concurrent run.
    if (r.code !== 0 && r.code !== 9) throw new Error(`useradd ${name} failed: ${r.stderr}`);
  }
  const uid = Number(run(["id", "-u", name]).stdout.trim());
  const gid = Number(run(["id", "-g", name]).stdout.trim());
  if (!uid || !gid) throw new Error(`no uid/gid for ${name}`);
  const as = (cmd: string[]) =>
    run(["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--", ...cmd], {
      env: { HOME: "/", USER: name, LOGNAME: name },
    });
  return {
    name,
    uid,
    gid,
    run: as,
    sh(script: string) {
      const r = as(["/bin/sh", "-euc", script]);
      if (r.code !== 0) throw new Error(`as ${name}: ${script}\nexit ${r.code}: ${r.stderr}`);
      return r;
    },
  };
}
