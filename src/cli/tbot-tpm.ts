// `tbot tpm identify` (reference §2.4): the EK identity an operator puts into a tpm join
// token's allow rules. The output lines are the reference's, word for word, so its guides
// and scripts that grep them work unchanged.

import { ExitCode } from "../util/errors.ts";

export async function tpmIdentify(opts: { debug: boolean }): Promise<number> {
  // Lazy: loading the TPM modules opens libtss2, which machines without a TPM may not have.
  const { openTpm } = await import("../tpm/device/index.ts");
  const tpm = await openTpm({ debug: opts.debug });
  try {
    const ek = await tpm.ekInfo();
    for (const w of ek.warnings) process.stderr.write(`WARNING: ${w}\n`);
    const lines = [
      "TPM Information",
      `EKPub Hash: ${ek.ekPubHash}`,
      `EKCert Detected: ${ek.ekCertDer !== undefined}`,
      ...(ek.ekCertSerial !== undefined ? [`EKCert Serial: ${ek.ekCertSerial}`] : []),
    ];
    if (opts.debug) {
      lines.push("EKPub:", ek.ekPublicPem.trimEnd());
      if (ek.ekCertPem) lines.push("EKCert:", ek.ekCertPem.trimEnd());
    }
    process.stdout.write(`${lines.join("\n")}\n`);
    return ExitCode.ok;
  } finally {
    tpm.close();
  }
}
