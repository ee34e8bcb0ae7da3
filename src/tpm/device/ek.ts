// The endorsement key: which one, where it comes from, and its certificate. Selection follows
// go-attestation (reference §6.2): a provisioned persistent EK if there is one, otherwise the
// primary key the TCG default template derives under the endorsement hierarchy (the same key
// every time, so it still matches a certificate the vendor issued for it).

import { EsysTr } from "../../../ffi/esys-constants.ts";
import { pemEncode } from "../../crypto/pem.ts";
import { ExitCode } from "../../util/errors.ts";
import { ekIdentityFromCertificate, ekPublicHash } from "../server/ek-validation.ts";
import { parseTpm2bPublic, type TpmPublic } from "../structures/public.ts";
import { tpmPublicToSpki } from "../structures/spki.ts";
import { handleExists } from "./capabilities.ts";
import { flushQuietly } from "./cleanup.ts";
import { TpmError } from "./errors.ts";
import type { Esys } from "./esys.ts";
import { createPrimary } from "./esys-objects.ts";
import { readNvIndex } from "./nv.ts";
import { eccEkTemplate, rsaEkTemplate, templateWire } from "./templates.ts";

export type EkAlgorithm = "rsa" | "ecc";

interface EkKind {
  label: string;
  /** Where a provisioned EK of this kind is persisted (TCG Provisioning Guidance). */
  persistent: number;
  /** The NV index of its certificate (EK Credential Profile §2.2.1). */
  certIndex: number;
  /** The template tbot can create it from; absent for kinds we only use when provisioned. */
  template?: TpmPublic;
}

const kinds: Record<EkAlgorithm, readonly EkKind[]> = {
  rsa: [
    {
      label: "RSA-2048 (template L-1)",
      persistent: 0x81010001,
      certIndex: 0x01c00002,
      template: rsaEkTemplate,
    },
  ],
  ecc: [
    {
      label: "ECC P-256 (template L-2)",
      persistent: 0x81010002,
      certIndex: 0x01c0000a,
      template: eccEkTemplate,
    },
    // High range (Profile 2.3 §2.2.1.5): swtpm provisions its ECC EK as P-384, only here.
    { label: "ECC P-384 (high range)", persistent: 0x81010016, certIndex: 0x01c00016 },
  ],
};

export interface EkKey {
  kind: EkKind;
  /** ESYS_TR of the key for this use. */
  handle: number;
  /** TPM2B_PUBLIC wire bytes. */
  publicWire: Uint8Array;
  /** The persistent handle it was found at, or undefined when created for this use. */
  persistent?: number;
}

const hex8 = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;

/**
 * Run `use` with the EK of `algorithm` available, then release it: a persistent EK is only
 * forgotten, a created one is flushed (it would hold one of the TPM's few object slots).
 */
export function withEk<T>(esys: Esys, algorithm: EkAlgorithm, use: (ek: EkKey) => T): T {
  const options = kinds[algorithm];
  const provisioned = options.find((k) => handleExists(esys, k.persistent));
  if (provisioned) {
    const doing = `reading the EK at ${hex8(provisioned.persistent)}`;
    const handle = esys.lookUp(provisioned.persistent, doing);
    try {
      const publicWire = esys.readPublic(handle, doing);
      return use({ kind: provisioned, handle, publicWire, persistent: provisioned.persistent });
    } finally {
      esys.forget(handle);
    }
  }
  const kind = options.find((k) => k.template)!;
  const created = createPrimary(
    esys,
    EsysTr.RH_ENDORSEMENT,
    templateWire(kind.template!),
    `creating the ${kind.label} EK under the endorsement hierarchy`,
  );
  let failed = true;
  try {
    const result = use({ kind, handle: created.handle, publicWire: created.public });
    failed = false;
    return result;
  } finally {
    flushQuietly(esys, created.handle, failed);
  }
}

export interface EkInfo {
  algorithm: EkAlgorithm;
  /** "persistent 0x81010001", or "created from RSA-2048 (template L-1)". */
  source: string;
  /** The EK public area as the TPM reports it. */
  ekPublic: TpmPublic;
  /** PKIX SubjectPublicKeyInfo DER of the EK public key. */
  ekPublicDer: Uint8Array;
  ekPublicPem: string;
  /** Lowercase hex SHA-256 of ekPublicDer (reference §6.2). */
  ekPubHash: string;
  /** The EK certificate, when the TPM holds one for this key. */
  ekCertDer?: Uint8Array;
  ekCertPem?: string;
  /** Colon-separated lowercase hex (reference §6.2). */
  ekCertSerial?: string;
  /** NV index the certificate was read from. */
  ekCertIndex?: number;
  /** Things a person should know (a certificate that could not be used, and why). */
  warnings: string[];
}

/** The EK of `algorithm`, its hash, and its certificate if the TPM stores one for it. */
export function readEkInfo(esys: Esys, algorithm: EkAlgorithm): EkInfo {
  return withEk(esys, algorithm, (ek) => {
    const ekPublic = parseTpm2bPublic(ek.publicWire, "EK public area");
    const ekPublicDer = tpmPublicToSpki(ekPublic);
    const info: EkInfo = {
      algorithm,
      source:
        ek.persistent !== undefined ? `persistent ${hex8(ek.persistent)}` : `created from ${ek.kind.label}`,
      ekPublic,
      ekPublicDer,
      ekPublicPem: pemEncode("PUBLIC KEY", ekPublicDer),
      ekPubHash: ekPublicHash(ekPublicDer),
      warnings: [],
    };
    addCertificate(esys, ek.kind.certIndex, info);
    return info;
  });
}

function addCertificate(esys: Esys, index: number, info: EkInfo): void {
  if (!handleExists(esys, index)) return;
  let der: Uint8Array;
  try {
    // The same reading the auth service does (vendor header, NV padding, serial notation).
    const cert = ekIdentityFromCertificate(readNvIndex(esys, index));
    der = cert.certificate!.der;
    if (cert.ekPubHash !== info.ekPubHash) {
      info.warnings.push(
        `the EK certificate at NV ${hex8(index)} is for another key than the EK (${info.source}); ignoring it`,
      );
      return;
    }
    info.ekCertSerial = cert.ekCertSerial;
  } catch (e) {
    if (e instanceof TpmError && e.exitCode === ExitCode.tpmUnavailable) throw e;
    info.warnings.push(`the EK certificate at NV ${hex8(index)} cannot be read: ${(e as Error).message}`);
    return;
  }
  info.ekCertDer = der;
  info.ekCertPem = pemEncode("CERTIFICATE", der);
  info.ekCertIndex = index;
}
