// Where a tauth CPU profile's samples went, by kind of work: self time of each sampled
// function, put in a category by its name and file. For profiles written by
// `bun bench/renewal.ts --cpu-prof DIR` (Bun's .cpuprofile, Chrome's format).
//   bun bench/profile-summary.ts DIR/*.cpuprofile

import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
}

/** First match wins: [category, test on "function url"]. */
const categories: [string, RegExp][] = [
  [
    "backend: SQLite statements (bun:sqlite)",
    /^(run|get|all|execute|#run|#runNoArgs|#get|#all|transaction|immediate) /,
  ],
  ["backend: code (sqlite.ts, postgres*.ts, collection.ts)", /backend\/|store\/collection/],
  ["X.509 and SSH signing (WebCrypto sign)", /^sign /],
  ["key import/export (WebCrypto, node:crypto)", /^(importKey|exportKey|createPublicKey|createPrivateKey) /],
  [
    "client certificate (getPeerCertificate, X509Certificate, parseTlsIdentity)",
    /^(getPeerCertificate|getPeerX509Certificate|X509Certificate|toX509|parseTlsIdentity|fields) /,
  ],
  [
    "socket writes and closes (TLS socket wrapper)",
    /^(writeBuffered|_write|shutdown|close|end|destroy|writeOrBuffer|endNT|onconnection|Socket|Duplex|Readable|Writable) /,
  ],
  [
    "HTTP/1.1 server (node:http over the TLS socket)",
    /_http_|http1_server|internal:http|node:http|HTTPParser|parserOnHeaders|matchKnownFields|createHttp1/,
  ],
  ["streams and events", /internal:streams|node:events|nextTick|processTicksAndRejections/],
  ["DER / SSH encoding (ours)", /crypto\/(der|x509-leaf|ssh\/|pem|bytes)/],
  ["JSON (parse, stringify)", /^(parse|stringify|parseJsonBounded) /],
  ["audit (audit.ts, audit-store.ts, writeSync)", /audit|^writeSync /],
  ["module loading (startup)", /^(require|anonymous|node:fs|intern|link|evaluate) /],
  ["other tauth code (src/)", /\/src\//],
  [
    "built-ins (Buffer, DataView, strings, dates, hashes)",
    /^(get buffer|Buffer|DataView|concat|toString|decode|encode|set|map|Date|toISOString|digest|Hash|of|subarray|slice|from|defineProperties|setPrototypeDirect) /,
  ],
];

const files = process.argv.slice(2);
if (!files.length) {
  console.error("usage: bun bench/profile-summary.ts PROFILE.cpuprofile...");
  process.exit(2);
}
for (const f of files) {
  const p = JSON.parse(readFileSync(f, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const counts = new Map<string, number>();
  let total = 0;
  for (const id of p.samples) {
    const n = byId.get(id);
    if (!n) continue;
    const fn = n.callFrame.functionName || "(anonymous)";
    if (fn === "(idle)" || fn === "(program)" || fn === "(root)") continue;
    total++;
    const key = `${fn} ${n.callFrame.url || "[native code]"}`;
    const cat = categories.find(([, re]) => re.test(key))?.[0] ?? "other (runtime, GC, native)";
    counts.set(cat, (counts.get(cat) ?? 0) + 1);
  }
  console.log(`\n${f}: ${total} samples on the JS thread`);
  for (const [cat, n] of [...counts].sort((a, b) => b[1] - a[1]))
    console.log(`${((100 * n) / total).toFixed(1).padStart(5)}%  ${cat}`);
}
