// spec.tpm.allow (reference §6.1): a rule matches when every field set in it matches the TPM
// that proved its EK; any matching rule admits it.
//
// Comparison: the EKPub hash ignores case (and surrounding spaces), the hex digits are the
// identity. The certificate serial is compared as the number it is: case, ":" separators and
// leading zero bytes do not matter ("00:ab:cd" = "AB:CD" = "abcd"), because operators copy
// serials from tools that disagree on all three (openssl prints "4CBD0F…", tbot prints
// "4c:bd:0f:…", some add a sign byte 00) while an X.509 serial is a single integer.

import { accessDenied } from "../../util/errors.ts";

export interface TpmAllowRule {
  description?: string;
  ek_public_hash?: string;
  ek_certificate_serial?: string;
}

/** What was verified about the joining TPM: its EK, and the certificate serial when one came with it. */
export interface ValidatedTpm {
  ekPubHash: string;
  ekCertSerial?: string;
}

const normalizeHash = (h: string) => h.trim().toLowerCase();

/** The serial's value as lowercase hex without separators or leading zeros ("" for 0). */
function normalizeSerial(s: string): string | undefined {
  const digits = s.trim().toLowerCase().replace(/[:\s]/g, "");
  if (!/^[0-9a-f]+$/.test(digits)) return undefined;
  return digits.replace(/^0+/, "");
}

function ruleMatches(rule: TpmAllowRule, tpm: ValidatedTpm): boolean {
  const hashSet = rule.ek_public_hash !== undefined && rule.ek_public_hash !== "";
  const serialSet = rule.ek_certificate_serial !== undefined && rule.ek_certificate_serial !== "";
  if (!hashSet && !serialSet) return false; // a rule that names nothing must not admit everything
  if (hashSet && normalizeHash(rule.ek_public_hash!) !== normalizeHash(tpm.ekPubHash)) return false;
  if (serialSet) {
    const want = normalizeSerial(rule.ek_certificate_serial!);
    const got = tpm.ekCertSerial === undefined ? undefined : normalizeSerial(tpm.ekCertSerial);
    if (want === undefined || got === undefined || want !== got) return false;
  }
  return true;
}

/** The first rule the TPM matches; an access-denied error when none does. */
export function matchAllowRules(rules: readonly TpmAllowRule[], tpm: ValidatedTpm): TpmAllowRule {
  const rule = rules.find((r) => ruleMatches(r, tpm));
  if (!rule) throw accessDenied("validated tpm attributes did not match any allow rules");
  return rule;
}
