// A software TPM per test file: swtpm provisioned by swtpm_setup in a temp dir, with EK
// certificates signed by a private local CA (root + intermediate, created in that dir — never
// /var/lib/swtpm-localca), served on a free pair of loopback ports (the swtpm TCTI talks to
// port and port+1), run in the foreground and stopped by PID like every other test process.
// There is no resource manager in front of it: a test that leaks handles fills its 3 slots.

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { freePort, type Proc, run, startProcess, tempDir } from "./proc.ts";

/** A local CA for swtpm_localca: created on first use, may sign the EKs of several swtpms. */
export interface SwtpmCa {
  dir: string;
  /** swtpm_setup --config file that points at this CA. */
  setupConfig: string;
  /** Root CA certificate (PEM); exists once a TPM has been provisioned with this CA. */
  rootPem: string;
  /** Intermediate CA (PEM) that signs the EK certificates. */
  intermediatePem: string;
}

export interface SwtpmHandle {
  /** For TBOT_TPM_TCTI / TPM2TOOLS_TCTI. */
  tcti: string;
  port: number;
  dir: string;
  ca: SwtpmCa;
  /** DER EK certificates swtpm_setup wrote (also stored in the TPM's NV); absent without certs. */
  ekCertFiles: { rsa?: string; ecc?: string };
  /** Environment for tpm2-tools against this TPM. */
  toolsEnv: Record<string, string>;
  proc: Proc;
  /** Start swtpm again on the same state and ports after stop(). */
  restart(): Promise<void>;
  stop(): Promise<number>;
}

export function createSwtpmCa(): SwtpmCa {
  const dir = tempDir("swtpm-ca-");
  const conf = join(dir, "swtpm-localca.conf");
  writeFileSync(
    conf,
    [
      `statedir = ${dir}`,
      `signingkey = ${join(dir, "signkey.pem")}`,
      `issuercert = ${join(dir, "issuercert.pem")}`,
      `certserial = ${join(dir, "certserial")}`,
      "",
    ].join("\n"),
  );
  const options = join(dir, "swtpm-localca.options");
  writeFileSync(
    options,
    "--platform-manufacturer TbotTest\n--platform-version 2.1\n--platform-model swtpm\n",
  );
  const setupConfig = join(dir, "swtpm_setup.conf");
  writeFileSync(
    setupConfig,
    [
      "create_certs_tool = /usr/bin/swtpm_localca",
      `create_certs_tool_config = ${conf}`,
      `create_certs_tool_options = ${options}`,
      "active_pcr_banks = sha256",
      "",
    ].join("\n"),
  );
  return {
    dir,
    setupConfig,
    rootPem: join(dir, "swtpm-localca-rootca-cert.pem"),
    intermediatePem: join(dir, "issuercert.pem"),
  };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** Whether `port` and port+1 are both free on loopback right now. */
export async function portPairFree(port: number): Promise<boolean> {
  return (await portFree(port)) && (await portFree(port + 1));
}

/** A port p such that p and p+1 are both free on loopback right now. */
export async function freePortPair(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const p = await freePort();
    if (p < 65535 && (await portFree(p + 1))) return p;
  }
  throw new Error("no free pair of loopback ports");
}

async function accepts(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * Provision and start a swtpm. `ekCerts: false` provisions no EK at all (as a bare TPM that
 * only has its endorsement seed: the EK is then derived from the template). Pass `ca` to share
 * one CA between several TPMs, `port` to serve on that port (and port+1) instead of a free pair.
 */
export async function startSwtpm(
  opts: { ekCerts?: boolean; ca?: SwtpmCa; port?: number } = {},
): Promise<SwtpmHandle> {
  const ekCerts = opts.ekCerts ?? true;
  const ca = opts.ca ?? createSwtpmCa();
  const dir = tempDir("swtpm-");
  const state = join(dir, "state");
  const certDir = join(dir, "ekcerts");
  mkdirSync(state);
  mkdirSync(certDir);
  const setup = run([
    "swtpm_setup",
    "--tpm2",
    "--tpmstate",
    state,
    ...(ekCerts ? ["--create-ek-cert", "--create-platform-cert", "--lock-nvram"] : []),
    "--overwrite",
    "--config",
    ca.setupConfig,
    "--write-ek-cert-files",
    certDir,
  ]);
  if (setup.code !== 0) throw new Error(`swtpm_setup failed:\n${setup.stdout}${setup.stderr}`);

  let port = opts.port ?? 0;
  let proc!: Proc;
  /** Start swtpm on `port`; a new pair is picked only when `port` was ours to choose. */
  const launch = async (mayMove: boolean): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      port ||= await freePortPair();
      proc = startProcess([
        "swtpm",
        "socket",
        "--tpm2",
        "--tpmstate",
        `dir=${state}`,
        "--server",
        `type=tcp,port=${port},bindaddr=127.0.0.1`,
        "--ctrl",
        `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
        "--flags",
        "not-need-init,startup-clear",
        "--log",
        `file=${join(dir, "swtpm.log")},level=1`,
      ]);
      let ready = false;
      for (const deadline = Date.now() + 10_000; !ready && Date.now() < deadline; ) {
        if (proc.proc.exitCode !== null) break;
        ready = await accepts(port);
        if (!ready) await Bun.sleep(10);
      }
      if (ready) return;
      await proc.stop("SIGKILL");
      if (attempt >= 3 || !mayMove) throw new Error(`swtpm did not start on port ${port}:\n${proc.output()}`);
      port = 0; // someone took a port between the check and the bind: pick another pair
    }
  };
  await launch(opts.port === undefined);

  const cert = (name: string) => (existsSync(join(certDir, name)) ? join(certDir, name) : undefined);
  const tcti = `swtpm:host=127.0.0.1,port=${port}`;
  const handle: SwtpmHandle = {
    tcti,
    port,
    dir,
    ca,
    ekCertFiles: { rsa: cert("ek-rsa2048.crt"), ecc: cert("ek-secp384r1.crt") },
    toolsEnv: { TPM2TOOLS_TCTI: tcti },
    get proc() {
      return proc;
    },
    restart: () => launch(false),
    stop: () => proc.stop(),
  };
  return handle;
}
