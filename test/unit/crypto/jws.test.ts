// Challenge answers: signed by the agent's signChallengeJws (WebCrypto EdDSA, noble ES256), with
// @noble/curves (EdDSA, ES256) or by an RSA key (RS256), all verified by the server path
// (WebCrypto, key imported from its authorized_keys line).

import { afterAll, expect, test } from "bun:test";
import { createPrivateKey, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "bun";
import { b64url, JwsError, signChallengeJws, verifyJws } from "../../../src/crypto/jws.ts";
import { nobleKeyFromPem, signJwsNoble } from "../../../src/crypto/jws-noble.ts";
import { generateKeyPair, pkcs8Pem, privateKeyPem } from "../../../src/crypto/keys.ts";
import { importSshPublicKey, sshPublicKeyLine } from "../../../src/crypto/ssh/index.ts";

const dir = mkdtempSync(join(tmpdir(), "jws-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const challenge = JSON.stringify({ iss: "c", aud: "c", sub: "k", iat: 1, nbf: 0, exp: 61, nonce: "ab" });

for (const alg of ["ed25519", "ecdsa-p256"] as const) {
  test(`${alg}: a noble signature verifies against the key's authorized_keys line; another key does not`, async () => {
    const pair = await generateKeyPair(alg);
    const other = await generateKeyPair(alg);
    const jws = signJwsNoble(challenge, nobleKeyFromPem(await pkcs8Pem(pair.privateKey)));
    expect(JSON.parse(Buffer.from(jws.split(".")[0]!, "base64url").toString())).toEqual({
      alg: alg === "ed25519" ? "EdDSA" : "ES256",
      typ: "JWT",
    });
    const { payload } = await verifyJws(
      jws,
      await importSshPublicKey(await sshPublicKeyLine(pair.publicKey)),
    );
    expect(payload).toBe(challenge);
    await expect(
      verifyJws(jws, await importSshPublicKey(await sshPublicKeyLine(other.publicKey))),
    ).rejects.toThrow(JwsError);
  });
}

test("ed25519: signChallengeJws (WebCrypto) gives the same bytes as noble (RFC 8032 is deterministic) and verifies", async () => {
  for (let i = 0; i < 5; i++) {
    const pair = await generateKeyPair("ed25519");
    const pem = await pkcs8Pem(pair.privateKey);
    const payload = i === 0 ? challenge : JSON.stringify({ nonce: crypto.randomUUID(), i });
    const jws = await signChallengeJws(payload, pem);
    expect(jws).toBe(signJwsNoble(payload, nobleKeyFromPem(pem)));
    const pub = await importSshPublicKey(await sshPublicKeyLine(pair.publicKey));
    expect((await verifyJws(jws, pub)).payload).toBe(payload);
  }
});

test("ecdsa-p256: signChallengeJws signs with noble (deterministic), from a PKCS#8 or a SEC1 PEM", async () => {
  const pair = await generateKeyPair("ecdsa-p256");
  const pub = await importSshPublicKey(await sshPublicKeyLine(pair.publicKey));
  for (const pem of [await pkcs8Pem(pair.privateKey), await privateKeyPem(pair.privateKey)]) {
    const jws = await signChallengeJws(challenge, pem);
    expect(jws).toBe(signJwsNoble(challenge, nobleKeyFromPem(pem)));
    expect(JSON.parse(Buffer.from(jws.split(".")[0]!, "base64url").toString()).alg).toBe("ES256");
    expect((await verifyJws(jws, pub)).payload).toBe(challenge);
  }
});

test("signChallengeJws refuses a key it cannot answer with", async () => {
  const key = join(dir, "rsa-challenge");
  expect(
    spawnSync(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PKCS8", "-N", "", "-f", key]).exitCode,
  ).toBe(0);
  await expect(signChallengeJws(challenge, readFileSync(key, "utf8"))).rejects.toThrow(
    /unsupported key type/,
  );
});

test("RS256 by an ssh-keygen RSA key verifies via its ssh-rsa line; a tampered payload does not", async () => {
  const key = join(dir, "rsa");
  expect(
    spawnSync(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", key]).exitCode,
  ).toBe(0);
  const pub = await importSshPublicKey(readFileSync(`${key}.pub`, "utf8"));
  const input = `${b64url(JSON.stringify({ alg: "RS256", typ: "JWT" }))}.${b64url(challenge)}`;
  const sig = sign("sha256", Buffer.from(input), createPrivateKey(readFileSync(key, "utf8")));
  const jws = `${input}.${b64url(new Uint8Array(sig))}`;
  expect((await verifyJws(jws, pub)).payload).toBe(challenge);
  const tampered = `${input.slice(0, -2)}x${input.slice(-1)}.${b64url(new Uint8Array(sig))}`;
  await expect(verifyJws(tampered, pub)).rejects.toThrow(JwsError);
});

test("an alg that does not match the key, and non-JWS input, are refused", async () => {
  const ed = await generateKeyPair("ed25519");
  const p256 = await generateKeyPair("ecdsa-p256");
  const jws = signJwsNoble(challenge, nobleKeyFromPem(await pkcs8Pem(ed.privateKey)));
  await expect(
    verifyJws(jws, await importSshPublicKey(await sshPublicKeyLine(p256.publicKey))),
  ).rejects.toThrow(/does not match/);
  await expect(
    verifyJws("not-a-jws", await importSshPublicKey(await sshPublicKeyLine(ed.publicKey))),
  ).rejects.toThrow(/compact JWS/);
});
