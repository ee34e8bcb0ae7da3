// spec.tpm.allow matching (reference §6.1).
import { describe, expect, test } from "bun:test";
import { matchAllowRules, type TpmAllowRule } from "../../../src/tpm/server/index.ts";
import { isCode } from "../../../src/util/errors.ts";

const hash = "d4b45864d9d6fabfc568d74f26c35ababde2105337d7af9a6605e1c56c891aa6";
const otherHash = "0".repeat(64);
const serial = "73:df:dc:bd:af:ef:8a:d8:15:2e:96:71:7a:3e:7f:a4";

function refused(rules: TpmAllowRule[], tpm: { ekPubHash: string; ekCertSerial?: string }): void {
  try {
    matchAllowRules(rules, tpm);
  } catch (e) {
    expect(isCode(e, "access_denied")).toBe(true);
    expect((e as Error).message).toBe("validated tpm attributes did not match any allow rules");
    return;
  }
  throw new Error("expected no rule to match");
}

describe("matchAllowRules", () => {
  test("hash rule: matches regardless of case", () => {
    const rule = { description: "build server 1", ek_public_hash: hash.toUpperCase() };
    expect(matchAllowRules([rule], { ekPubHash: hash })).toBe(rule);
    refused([rule], { ekPubHash: otherHash });
  });

  test("serial rule: needs an EK certificate", () => {
    const rule = { ek_certificate_serial: serial };
    expect(matchAllowRules([rule], { ekPubHash: otherHash, ekCertSerial: serial })).toBe(rule);
    refused([rule], { ekPubHash: otherHash });
  });

  test("serial compared as a number: case, separators and leading zero bytes do not matter", () => {
    for (const written of [serial.toUpperCase(), serial.replaceAll(":", ""), `00:${serial}`, ` ${serial} `])
      expect(
        matchAllowRules([{ ek_certificate_serial: written }], { ekPubHash: hash, ekCertSerial: serial }),
      ).toBeDefined();
    refused([{ ek_certificate_serial: "73:df" }], { ekPubHash: hash, ekCertSerial: serial });
    refused([{ ek_certificate_serial: `${serial}:00` }], { ekPubHash: hash, ekCertSerial: serial });
    refused([{ ek_certificate_serial: "not hex" }], { ekPubHash: hash, ekCertSerial: serial });
  });

  test("a rule with both fields needs both to match", () => {
    const rule = { ek_public_hash: hash, ek_certificate_serial: serial };
    expect(matchAllowRules([rule], { ekPubHash: hash, ekCertSerial: serial })).toBe(rule);
    refused([rule], { ekPubHash: hash, ekCertSerial: "01" });
    refused([rule], { ekPubHash: otherHash, ekCertSerial: serial });
    refused([rule], { ekPubHash: hash });
  });

  test("any rule suffices; the first matching one is returned", () => {
    const rules = [
      { ek_public_hash: otherHash },
      { ek_certificate_serial: serial },
      { ek_public_hash: hash },
    ];
    expect(matchAllowRules(rules, { ekPubHash: hash, ekCertSerial: serial })).toBe(rules[1]!);
  });

  test("no rules, or a rule naming nothing, admits no one", () => {
    refused([], { ekPubHash: hash });
    refused([{ description: "empty" }, { ek_public_hash: "" }], { ekPubHash: hash, ekCertSerial: serial });
  });
});
