import { describe, expect, test } from "bun:test";
import { authorizedKeyProblem, isValidResourceName } from "../../../src/auth/resources/index.ts";
import { rfc3339Problem } from "../../../src/resources/value-formats.ts";
import {
  ecdsaP256PublicKey,
  ecdsaP521PublicKey,
  ed25519CertificateLine,
  ed25519PublicKey,
  rsa2048PublicKey,
} from "./fixtures.ts";

describe("authorizedKeyProblem", () => {
  test("accepts OpenSSH's own ed25519, ECDSA and RSA public keys", () => {
    for (const key of [ed25519PublicKey, ecdsaP256PublicKey, ecdsaP521PublicKey, rsa2048PublicKey])
      expect(authorizedKeyProblem(key)).toBeUndefined();
    expect(authorizedKeyProblem(ed25519PublicKey.split(" ").slice(0, 2).join(" "))).toBeUndefined();
  });

  test("names what is wrong", () => {
    const [type, data] = ed25519PublicKey.split(" ") as [string, string];
    expect(authorizedKeyProblem(type)).toStartWith("expected");
    expect(authorizedKeyProblem(`ssh-dss ${data}`)).toContain('key type "ssh-dss"');
    // The wording is crypto/ssh's (the one SSH codec), which also says where the data ends.
    expect(authorizedKeyProblem(`${type} ${data.slice(0, -4)}`)).toStartWith(
      "ssh-ed25519 public key is truncated",
    );
    expect(authorizedKeyProblem(`${type} !!!!`)).toContain("is not valid base64");
    expect(authorizedKeyProblem(`ecdsa-sha2-nistp256 ${data}`)).toContain('its data holds "ssh-ed25519"');
    expect(authorizedKeyProblem(ed25519CertificateLine)).toContain("is not one of");
  });
});

describe("rfc3339Problem and names", () => {
  test("RFC 3339 as Go parses it", () => {
    for (const ok of ["2025-12-01T00:00:00Z", "2025-12-01T10:20:30.123+02:00", "2024-02-29T23:59:59Z"])
      expect(rfc3339Problem(ok)).toBeUndefined();
    for (const bad of [
      "2025-12-01",
      "2025-12-01 00:00:00Z",
      "2025-02-30T00:00:00Z",
      "2025-12-01T24:00:00Z",
      "now",
    ])
      expect(rfc3339Problem(bad)).toBeDefined();
  });

  test("resource names: printable, no whitespace", () => {
    expect(isValidResourceName("a1b2-c3_d.e")).toBe(true);
    expect(isValidResourceName("")).toBe(false);
    expect(isValidResourceName("has space")).toBe(false);
    expect(isValidResourceName("tab\t")).toBe(false);
  });
});
