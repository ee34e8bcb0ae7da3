// Readers for the TPM conformance vectors in test/vectors (see its README.md).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { vectorsDir } from "../vectors.ts";

export const readVectorJson = (sub: string, file: string): any =>
  JSON.parse(readFileSync(join(vectorsDir(sub), file), "utf8"));

export const readVectorText = (sub: string, file: string): string =>
  readFileSync(join(vectorsDir(sub), file), "utf8");

export const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));
export const fromB64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64"));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
