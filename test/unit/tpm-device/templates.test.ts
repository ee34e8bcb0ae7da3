// The EK templates must be the TCG defaults bit for bit: any difference derives another key,
// one no vendor certificate covers. The expected bytes come from the collected TCG vectors.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  eccEkTemplate,
  rsaAkTemplate,
  rsaEkTemplate,
  rsaSrkTemplate,
  templateWire,
} from "../../../src/tpm/device/templates.ts";
import { encodeTpmtPublic } from "../../../src/tpm/structures/public.ts";
import { vectorsDir } from "../vectors.ts";

const vectors = JSON.parse(readFileSync(join(vectorsDir("tcg"), "ek-templates.json"), "utf8")) as {
  templates: Record<string, { templateHex: string; templateLength: number }>;
};
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("RSA EK template is TCG L-1 and ECC EK template is TCG L-2", () => {
  const l1 = vectors.templates["rsa2048-L1"]!;
  const l2 = vectors.templates["eccNistP256-L2"]!;
  expect(hex(encodeTpmtPublic(rsaEkTemplate))).toBe(l1.templateHex);
  expect(hex(encodeTpmtPublic(eccEkTemplate))).toBe(l2.templateHex);
  // As ESAPI takes them: TPM2B_PUBLIC, the uint16 size first.
  const wire = templateWire(rsaEkTemplate);
  expect((wire[0]! << 8) | wire[1]!).toBe(l1.templateLength);
  expect(hex(wire.subarray(2))).toBe(l1.templateHex);
});

test("SRK and AK attributes are the ones go-attestation uses (reference §6.3)", () => {
  expect(rsaSrkTemplate.objectAttributes).toBe(0x00030472);
  expect(rsaSrkTemplate.authPolicy.length).toBe(0);
  // sign | restricted | userWithAuth | sensitiveDataOrigin | fixedParent | fixedTPM | noDA
  expect(rsaAkTemplate.objectAttributes).toBe(0x00050472);
  expect(rsaAkTemplate.scheme).toEqual({ scheme: 0x0014, hashAlg: 0x000b }); // RSASSA, SHA-256
  expect(rsaAkTemplate.type === "rsa" && rsaAkTemplate.keyBits).toBe(2048);
});
