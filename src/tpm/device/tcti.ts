// Which TPM to talk to: a TCTI configuration string as tpm2-tss understands it
// ("device:/dev/tpmrm0", "swtpm:host=127.0.0.1,port=2321"). Never the empty string: tctildr
// would then try a chain of defaults ending with a simulator on localhost:2321, so a machine
// without a TPM could silently attach to whatever listens there.

/** The kernel's resource manager: it flushes what a process leaves loaded, unlike /dev/tpm0. */
export const defaultTcti = "device:/dev/tpmrm0";

/** TBOT_TPM_TCTI when set and non-empty, else the kernel resource manager. */
export function tctiFromEnv(env: Record<string, string | undefined> = process.env): string {
  const v = env.TBOT_TPM_TCTI?.trim();
  return v ? v : defaultTcti;
}

/** What a TCTI string points at, for messages that say what to check. */
export type TctiTarget =
  | { kind: "device"; path: string }
  | { kind: "simulator"; name: string; host: string; port: number }
  | { kind: "other"; name: string };

export function describeTcti(conf: string): TctiTarget {
  const colon = conf.indexOf(":");
  const name = colon < 0 ? conf : conf.slice(0, colon);
  const rest = colon < 0 ? "" : conf.slice(colon + 1);
  if (name === "device") return { kind: "device", path: rest || "/dev/tpmrm0" };
  if (name === "swtpm" || name === "mssim") {
    const kv = new Map<string, string>();
    for (const part of rest.split(",")) {
      const eq = part.indexOf("=");
      if (eq > 0) kv.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    const port = Number(kv.get("port") ?? 2321);
    return { kind: "simulator", name, host: kv.get("host") ?? "localhost", port };
  }
  return { kind: "other", name };
}

/** A TCTI string is used as given, but an empty one (or one without a name) is refused. */
export function checkTcti(conf: string): string | undefined {
  if (conf.trim() === "") return "the TCTI configuration is empty";
  if (conf.startsWith(":")) return `the TCTI configuration "${conf}" has no TCTI name before ":"`;
  return undefined;
}
