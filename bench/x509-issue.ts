// Leaf certificate issuance, certificates per second: the old @peculiar/x509 path (kept in
// test/unit/crypto/peculiar-leaf.ts) against the DER + WebCrypto issuer in x509-leaf.ts, for
// both CA key types, with a spec shaped like a bot identity. Not a test: prints and exits.
//   bun bench/x509-issue.ts [milliseconds per measurement]

import { generateKeyPair, type KeyAlgorithm } from "../src/crypto/keys.ts";
import { createCACertificate, identityOids, issueCertificate, type LeafSpec } from "../src/crypto/x509.ts";
import { issueCertificateWithPeculiar } from "../test/unit/crypto/peculiar-leaf.ts";

const budgetMs = Number(process.argv[2] ?? 2000);

async function rate(issue: () => Promise<string>): Promise<number> {
  for (let i = 0; i < 50; i++) await issue(); // warm up (JIT, CA cache)
  let n = 0;
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < budgetMs) {
    for (let i = 0; i < 20; i++) await issue();
    n += 20;
    elapsed = performance.now() - t0;
  }
  return (n * 1000) / elapsed;
}

const fmt = (x: number) => `${Math.round(x).toLocaleString("en-US")}/s`.padStart(10);

console.log(`leaf issuance, ${budgetMs} ms per measurement (sequential, one core)`);
console.log("CA key       old (@peculiar)   new (DER)   speed-up");
for (const alg of ["ecdsa-p256", "ed25519"] as KeyAlgorithm[]) {
  const ca = await generateKeyPair(alg);
  const caCertPem = await createCACertificate({ clusterName: "bench", type: "user", keys: ca });
  const leaf = await generateKeyPair("ecdsa-p256");
  const now = Date.now();
  const spec: LeafSpec = {
    caCertPem,
    caKey: ca.privateKey,
    publicKey: leaf.publicKey,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3_600_000),
    commonName: "bot-bench",
    organizations: ["bot-bench"],
    attributes: {
      [identityOids.generation]: "1",
      [identityOids.renewable]: "true",
      [identityOids.botName]: "bench",
      [identityOids.botInstanceId]: crypto.randomUUID(),
    },
    usage: "client",
  };
  const old = await rate(() => issueCertificateWithPeculiar(spec));
  const neu = await rate(() => issueCertificate(spec));
  console.log(`${alg.padEnd(10)} ${fmt(old)}      ${fmt(neu)}     ${(neu / old).toFixed(1)}x`);
}
