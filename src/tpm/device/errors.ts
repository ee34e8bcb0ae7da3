// What a failing TPM call means to the person running tbot, and what to do about it. libtss2
// gives the same TCTI code (0xa000a, I/O failure) for a missing device, a refused permission
// and a simulator that is down: the difference comes from the TCTI string and the file system.

import { accessSync, constants, existsSync } from "node:fs";
import { LibraryNotFound } from "../../../ffi/locate.ts";
import type { Tss2Error } from "../../../ffi/structs.ts";
import { LibraryLoadFailed, tss2Sonames } from "../../../ffi/tss2.ts";
import { type ErrorCode, ExitCode, UserError } from "../../util/errors.ts";
import { describeTcti } from "./tcti.ts";

/** A TPM problem: exit code 3 when this machine has no usable TPM, 1 when a command failed. */
export class TpmError extends UserError {
  constructor(
    message: string,
    code: ErrorCode,
    exitCode: number,
    /** The TSS2_RC, when a libtss2 call failed. */
    readonly rc?: number,
  ) {
    super(message, code, exitCode);
    this.name = "TpmError";
  }
}

const unavailable = (message: string, code: ErrorCode = "connection_problem", rc?: number) =>
  new TpmError(message, code, ExitCode.tpmUnavailable, rc);

/** Debian 12 / Ubuntu 22.04+ packages of each runtime soname (tpm2-tss 3.x). */
const debianPackages: Record<string, string> = {
  [tss2Sonames.esys]: "libtss2-esys-3.0.2-0",
  [tss2Sonames.tctildr]: "libtss2-tctildr0",
  [tss2Sonames.mu]: "libtss2-mu0",
  [tss2Sonames.rc]: "libtss2-rc0",
};
const allPackages = [...Object.values(debianPackages), "libtss2-tcti-device0"].join(" ");

/** LibraryNotFound / LibraryLoadFailed from ffi/ as the message tbot prints. */
export function libraryError(e: unknown): TpmError | undefined {
  if (e instanceof LibraryNotFound) {
    const pkg = debianPackages[e.soname] ?? "the tpm2-tss runtime";
    return unavailable(
      `TPM support needs the tpm2-tss libraries, and ${e.soname} is not installed ` +
        `(searched ${e.searched.join(":")}). Install package ${pkg} ` +
        `(Debian/Ubuntu: apt install ${allPackages}; Fedora/RHEL: dnf install tpm2-tss)` +
        (process.env.TSS2_LIBDIR ? ", or fix TSS2_LIBDIR, which limits the search to its directory" : ""),
      "not_found",
    );
  }
  if (e instanceof LibraryLoadFailed)
    return unavailable(`${e.message}; reinstall the tpm2-tss runtime (${allPackages})`, "internal");
  return undefined;
}

// TSS2_RC layout: bits 16..23 name the layer that failed; the TPM's own codes are layer 0.
const layerOf = (rc: number) => (rc >>> 16) & 0xff;
const TCTI_LAYER = 0x0a;
const TCTI_IO_ERROR = 0x0a000a;
const TCTI_NOT_SUPPORTED = 0x0a0015;
/** TCTIs that ship as libtss2-tcti-<name>0 packages. */
const knownTctis = ["device", "swtpm", "mssim", "tabrmd", "cmd"];

/** A TPM response code reduced to its base: format-1 codes lose their handle/parameter number. */
export function tpmBaseRc(rc: number): number {
  if (layerOf(rc) !== 0) return rc;
  return rc & 0x80 ? 0x80 | (rc & 0x3f) : rc & 0xfff;
}

export const TpmRc = {
  HIERARCHY: 0x085,
  AUTH_FAIL: 0x08e,
  INTEGRITY: 0x09f,
  BAD_AUTH: 0x0a2,
  FAILURE: 0x101,
  DISABLED: 0x120,
  OBJECT_MEMORY: 0x902,
  SESSION_MEMORY: 0x903,
  TESTING: 0x90a,
  /** 0x910..0x916: the Nth handle refers to an object or session that is not loaded. */
  REFERENCE_H0: 0x910,
  REFERENCE_H6: 0x916,
  LOCKOUT: 0x921,
  RETRY: 0x922,
} as const;

/** Why the TPM named by `tcti` cannot be reached, from the file system or the address. */
export function unreachable(tcti: string, rc?: number): TpmError {
  const target = describeTcti(tcti);
  if (target.kind === "device") {
    const p = target.path;
    if (!existsSync(p))
      return unavailable(
        `no TPM device at ${p}: this machine has no TPM 2.0, it is disabled in the firmware, or its ` +
          `driver is not loaded (check "ls /dev/tpm*" and "dmesg | grep -i tpm"); ` +
          `to use another TPM set TBOT_TPM_TCTI (now "${tcti}")`,
        "not_found",
        rc,
      );
    try {
      accessSync(p, constants.R_OK | constants.W_OK);
    } catch {
      return unavailable(
        `permission denied opening ${p}: run tbot as a user in the "tss" group ` +
          `("usermod -aG tss <user>", then log in again), and make sure the tpm-udev rules give ` +
          `that group read/write access to ${p}`,
        "access_denied",
        rc,
      );
    }
    return unavailable(
      `cannot talk to the TPM at ${p} (I/O error); check "dmesg | grep -i tpm"`,
      undefined,
      rc,
    );
  }
  if (target.kind === "simulator")
    return unavailable(
      `cannot reach the TPM simulator at ${target.host}:${target.port} (TBOT_TPM_TCTI "${tcti}"): ` +
        `the connection was refused or closed. Start it (e.g. "mkdir -p /tmp/tbot-swtpm && swtpm socket ` +
        `--tpm2 --tpmstate dir=/tmp/tbot-swtpm --server type=tcp,port=${target.port} ` +
        `--ctrl type=tcp,port=${target.port + 1} --flags startup-clear") or fix TBOT_TPM_TCTI`,
      undefined,
      rc,
    );
  return unavailable(
    `cannot open the TPM through TCTI "${tcti}" (I/O error); check TBOT_TPM_TCTI`,
    undefined,
    rc,
  );
}

/** A failed libtss2 call as tbot explains it; `doing` says what tbot was doing ("reading the EK"). */
export function tss2Failure(e: Tss2Error, tcti: string, doing: string): TpmError {
  const rc = e.rc;
  if (rc === TCTI_IO_ERROR) return unreachable(tcti, rc);
  if (rc === TCTI_NOT_SUPPORTED) {
    const name = tcti.split(":")[0] ?? tcti;
    const fix = knownTctis.includes(name)
      ? `its library is not installed: install libtss2-tcti-${name}0`
      : `it is not a TCTI tpm2-tss knows (${knownTctis.join(", ")})`;
    return unavailable(
      `cannot use TCTI "${name}" (TBOT_TPM_TCTI "${tcti}"): ${fix}; the default is "device:/dev/tpmrm0"`,
      "not_found",
      rc,
    );
  }
  if (layerOf(rc) === TCTI_LAYER)
    return unavailable(
      `the TPM connection failed while ${doing}: ${e.message} (TCTI "${tcti}")`,
      undefined,
      rc,
    );
  const what = `${doing} failed: ${e.message}`;
  const base = tpmBaseRc(rc);
  if (base >= TpmRc.REFERENCE_H0 && base <= TpmRc.REFERENCE_H6)
    return unavailable(
      `${what}. An object tbot had loaded is gone: without a resource manager (/dev/tpm0, a ` +
        `simulator) every program shares the TPM's objects, and another one flushed it; use /dev/tpmrm0`,
      "compare_failed",
      rc,
    );
  switch (base) {
    case TpmRc.OBJECT_MEMORY:
    case TpmRc.SESSION_MEMORY:
      return unavailable(
        `${what}. The TPM has no free object or session slots; without a resource manager ` +
          `(/dev/tpm0, a simulator) objects other processes left loaded stay there: use ` +
          `/dev/tpmrm0, or flush them with "tpm2_flushcontext -t" and "tpm2_flushcontext -s"`,
        "limit_exceeded",
        rc,
      );
    case TpmRc.LOCKOUT:
      return unavailable(
        `${what}. The TPM is in dictionary-attack lockout; wait for it to recover or reset it ` +
          `("tpm2_dictionarylockout --clear-lockout")`,
        "access_denied",
        rc,
      );
    case TpmRc.HIERARCHY:
    case TpmRc.DISABLED:
      return unavailable(
        `${what}. The endorsement hierarchy is disabled; enable it in the firmware`,
        "access_denied",
        rc,
      );
    case TpmRc.BAD_AUTH:
    case TpmRc.AUTH_FAIL:
      return unavailable(
        `${what}. The endorsement hierarchy has a password that tbot does not know (it uses the ` +
          `empty one); clear it or provision a persistent EK at 0x81010001`,
        "access_denied",
        rc,
      );
    case TpmRc.RETRY:
    case TpmRc.TESTING:
      return unavailable(`${what}. The TPM is busy; try again`, undefined, rc);
    case TpmRc.FAILURE:
      return unavailable(
        `${what}. The TPM is in failure mode; it needs a reboot or a firmware fix`,
        "internal",
        rc,
      );
    case TpmRc.INTEGRITY:
      return new TpmError(
        `${what}. The credential was not made for this TPM's EK and this attestation key ` +
          `(a different EK, or a wrong AK name)`,
        "access_denied",
        ExitCode.error,
        rc,
      );
    default:
      return new TpmError(what, "internal", ExitCode.error, rc);
  }
}
