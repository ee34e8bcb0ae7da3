// Helpers for tests that use OpenSSH's ssh-keygen as the oracle for our codec.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const SSH_KEYGEN = "/usr/bin/ssh-keygen";

/** Run ssh-keygen in UTC (it prints and reads times in local time); throws with its stderr on failure. */
export function sshKeygen(...args: string[]): string {
  const run = Bun.spawnSync([SSH_KEYGEN, ...args], { env: { ...process.env, TZ: "UTC" } });
  if (run.exitCode !== 0) {
    throw new Error(`ssh-keygen ${args.join(" ")} failed (${run.exitCode}): ${run.stderr.toString()}`);
  }
  return run.stdout.toString();
}

/** A fresh temp dir for one test file; call `remove` in afterAll. */
export async function makeTempDir(
  prefix: string,
): Promise<{ path: (name: string) => string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `ssh-${prefix}-`));
  return { path: (name) => join(dir, name), remove: () => rm(dir, { recursive: true, force: true }) };
}

export async function writePrivate(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
}

/** The time format ssh-keygen -L prints (local time, here UTC, no zone). */
export function keygenTime(date: Date): string {
  return date.toISOString().slice(0, 19);
}

/** ssh-keygen's validity line for a window ("from X to Y", "after X", "forever"). */
export function keygenValidity(validAfter: Date, validBefore: Date | "forever"): string {
  const after = validAfter.getTime() === 0 ? undefined : keygenTime(validAfter);
  if (validBefore === "forever") return after ? `after ${after}` : "forever";
  return after ? `from ${after} to ${keygenTime(validBefore)}` : `before ${keygenTime(validBefore)}`;
}

export async function generateKeyPair(kind: "ed25519" | "p256", extractable = true): Promise<CryptoKeyPair> {
  const algorithm = kind === "ed25519" ? { name: "Ed25519" } : { name: "ECDSA", namedCurve: "P-256" };
  return (await crypto.subtle.generateKey(algorithm, extractable, ["sign", "verify"])) as CryptoKeyPair;
}

export interface KeygenCertListing {
  /** "Type", "Key ID", "Serial", "Valid", "Signing CA", "Public key" → text after the colon. */
  fields: Record<string, string>;
  /** "Principals", "Critical Options", "Extensions" → their indented entries ([] for "(none)"). */
  lists: Record<string, string[]>;
}

/** Run `ssh-keygen -L -f path` and split its listing into fields and lists. */
export function listCertificate(path: string): KeygenCertListing {
  const fields: Record<string, string> = {};
  const lists: Record<string, string[]> = {};
  let currentList: string[] | undefined;
  for (const line of sshKeygen("-L", "-f", path).split("\n").slice(1)) {
    const entry = /^ {16}(.*)$/.exec(line);
    if (entry && currentList) {
      currentList.push((entry[1] as string).trimEnd());
      continue;
    }
    const header = /^ {8}([^:]+):\s?(.*)$/.exec(line);
    if (!header) continue;
    const [, name, value] = header as unknown as [string, string, string];
    fields[name] = value.trim();
    currentList = lists[name] = [];
  }
  return { fields, lists };
}
