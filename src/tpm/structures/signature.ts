// TPMT_SIGNATURE (Part 2 §11.3.4): a signature the TPM made, tagged with its scheme and hash.
// RSA signatures are the raw signature block; ECC ones are r and s as TPM2B big-endian numbers
// (leading zeros may be dropped), not DER.

import { Alg, algName } from "./constants.ts";
import { TpmReader, TpmWireError } from "./wire.ts";

export type TpmSignature =
  | { sigAlg: typeof Alg.RSASSA | typeof Alg.RSAPSS; hashAlg: number; signature: Uint8Array }
  | { sigAlg: typeof Alg.ECDSA; hashAlg: number; r: Uint8Array; s: Uint8Array };

/** Parse a TPMT_SIGNATURE that fills `bytes` exactly. RSASSA, RSAPSS and ECDSA are supported. */
export function parseTpmtSignature(bytes: Uint8Array, what = "TPMT_SIGNATURE"): TpmSignature {
  const rd = new TpmReader(bytes, what);
  const sigAlg = rd.u16("sigAlg");
  if (sigAlg === Alg.RSASSA || sigAlg === Alg.RSAPSS) {
    const sig = { sigAlg, hashAlg: rd.u16("hash"), signature: rd.tpm2b("sig", 512) };
    rd.end();
    return sig;
  }
  if (sigAlg === Alg.ECDSA) {
    const sig = {
      sigAlg,
      hashAlg: rd.u16("hash"),
      r: rd.tpm2b("signatureR", 128),
      s: rd.tpm2b("signatureS", 128),
    };
    rd.end();
    return sig;
  }
  throw new TpmWireError(
    `${what}: signature scheme ${algName(sigAlg)} is not supported (RSASSA, RSAPSS, ECDSA)`,
  );
}
