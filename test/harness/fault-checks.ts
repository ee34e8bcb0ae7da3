// The invariants checked after every kill, each returning what it found wrong (empty: fine):
// outputs complete with the key matching the certificate, no token redeemed by two bot
// instances, no generation counter gone back, no lock, no generation-mismatch audit event,
// and (tauth stopped) an intact database. A Report counts kills and violations by kind.

import { createHash, createPublicKey, X509Certificate } from "node:crypto";
import {
  closeSync,
  existsSync,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  readSync,
} from "node:fs";
import { join } from "node:path";
import { backend, type Cluster } from "./fault.ts";

export type ViolationKind =
  | "torn" // an output or storage set incomplete, or its key does not match its certificate
  | "double-used" // one token gave two bot instances
  | "regressed" // a bot instance's generation went down
  | "locked" // a bot instance got a lock, or a generation mismatch was audited for it
  | "burnt" // a token could not be redeemed again after a kill
  | "not-recovered" // a bot did not get a fresh identity by itself (a renewal refused, a restart that fails)
  | "database" // integrity check failed
  | "crash"; // tauth exited by itself, or a tbot printed a stack trace

export class Report {
  readonly kills: Record<string, number> = {};
  readonly counts: Record<string, number> = {};
  readonly violations: { kind: ViolationKind; detail: string }[] = [];
  private seen = new Set<string>();
  constructor(readonly seed: number) {}

  kill(where: string): void {
    this.kills[where] = (this.kills[where] ?? 0) + 1;
  }
  count(what: string, n = 1): void {
    this.counts[what] = (this.counts[what] ?? 0) + n;
  }
  /** Records a violation once per (kind, subject): the subject is what is broken (a bot instance, a token…). */
  add(kind: ViolationKind, detail: string, subject = detail): void {
    const k = `${kind}|${subject}`;
    if (this.seen.has(k)) return;
    this.seen.add(k);
    this.violations.push({ kind, detail });
  }
  addAll(kind: ViolationKind, details: string[]): void {
    for (const d of details) this.add(kind, d);
  }
  byKind(): Record<ViolationKind, number> {
    const out = {} as Record<ViolationKind, number>;
    for (const v of this.violations) out[v.kind] = (out[v.kind] ?? 0) + 1;
    return out;
  }
  summary(): string {
    const lines = [
      `seed ${this.seed} (same random choices again: FAULT_SEED=${this.seed} for the tests, --seed ${this.seed} for bench/fault.ts; kill timing still varies)`,
      `kills: ${JSON.stringify(this.kills)}`,
      `counts: ${JSON.stringify(this.counts)}`,
      `violations: ${JSON.stringify(this.byKind())}`,
      ...this.violations.slice(0, 40).map((v) => `  ${v.kind}: ${v.detail}`),
    ];
    if (this.violations.length > 40) lines.push(`  … and ${this.violations.length - 40} more`);
    return lines.join("\n");
  }
}

// ---- Outputs: the visible set is complete and its key matches its certificates. ----

export const IDENTITY_FILES = [
  "identity",
  "key",
  "key-cert.pub",
  "key.pub",
  "known_hosts",
  "ssh_config",
  "teleport-database-ca.crt",
  "teleport-host-ca.crt",
  "teleport-user-ca.crt",
  "tlscert",
];
const PAIR = ["key", "tlscert", "key.pub", "key-cert.pub"];

/** The SSH wire strings of an authorized_keys line's blob. */
function sshStrings(line: string): Buffer[] {
  const b64 = line.trim().split(/\s+/)[1];
  if (!b64) throw new Error("not an authorized_keys line");
  const buf = Buffer.from(b64, "base64");
  const out: Buffer[] = [];
  for (let o = 0; o + 4 <= buf.length; ) {
    const n = buf.readUInt32BE(o);
    out.push(buf.subarray(o + 4, o + 4 + n));
    o += 4 + n;
  }
  return out;
}

/** What is wrong with key / tlscert / key.pub / key-cert.pub in `dir`. */
function pairProblems(dir: string): string[] {
  const read = (f: string) => readFileSync(join(dir, f), "utf8");
  try {
    const spki = createPublicKey(read("key")).export({ type: "spki", format: "der" });
    const certKey = new X509Certificate(read("tlscert")).publicKey.export({ type: "spki", format: "der" });
    const problems: string[] = [];
    if (!spki.equals(certKey)) problems.push("key does not match tlscert");
    const pub = sshStrings(read("key.pub"));
    // The SSH key's last field is the public point (or raw key): SPKI ends with the same bytes.
    if (!spki.subarray(-pub.at(-1)!.length).equals(pub.at(-1)!)) problems.push("key.pub does not match key");
    const cert = sshStrings(read("key-cert.pub"));
    const certFields = cert.slice(2, 2 + pub.length - 1); // after type and nonce
    if (!certFields.every((f, i) => f.equals(pub[i + 1]!))) problems.push("key-cert.pub is not for key.pub");
    return problems;
  } catch (e) {
    return [`unreadable: ${(e as Error).message}`];
  }
}

/**
 * A directory store after a kill: absent (allowed only if `mayBeAbsent`), or a published set
 * ("..<set>" link) whose every visible name is there and whose key matches its certificates.
 * Other sets in storage (a key kept before a join) are not looked at.
 */
export function checkStore(dir: string, kind: "identity" | "storage", mayBeAbsent: boolean): string[] {
  // A live writer (a running daemon) may publish a new set, and remove the old one, while we
  // read it: then read again. A set that stays published while we read must be whole.
  const link = () => {
    try {
      return readlinkSync(join(dir, `..${kind}`));
    } catch {
      return null;
    }
  };
  for (let attempt = 0; ; attempt++) {
    const before = link();
    const problems = checkStoreOnce(dir, kind, mayBeAbsent);
    if (!problems.length || link() === before || attempt >= 5) return problems;
  }
}

function checkStoreOnce(dir: string, kind: "identity" | "storage", mayBeAbsent: boolean): string[] {
  let gen: string | null = null;
  try {
    gen = readlinkSync(join(dir, `..${kind}`));
  } catch {}
  const has = (f: string) => existsSync(join(dir, f));
  // Nothing published yet (a first join killed early): fine only where allowed.
  if (!gen && !has("tlscert")) return mayBeAbsent ? [] : [`${dir}: no ${kind} set`];
  const required = kind === "identity" ? IDENTITY_FILES : PAIR;
  const missing = required.filter((f) => !has(f));
  if (missing.length) return [`${dir}: ${kind} set incomplete, missing ${missing.join(", ")}`];
  // Read one published set as a whole: from its generation directory when there is one.
  const setDir = gen && existsSync(join(dir, gen)) ? join(dir, gen) : dir;
  try {
    const empty = required.filter((f) => readFileSync(join(setDir, f)).length === 0);
    if (empty.length) return [`${dir}: empty ${empty.join(", ")}`];
  } catch (e) {
    return [`${dir}: ${(e as Error).message}`];
  }
  return pairProblems(setDir).map((p) => `${dir} (${kind}): ${p}`);
}

export function checkRunOutputs(r: { data: string; dest: string }, mayBeAbsent: boolean): string[] {
  return [...checkStore(r.data, "storage", mayBeAbsent), ...checkStore(r.dest, "identity", mayBeAbsent)];
}

// ---- Server state: counters, tokens, locks (through tctl, so any backend). ----

interface Instance {
  spec: { bot_name: string; instance_id: string };
  status: { generation: number; initial_authentication?: { join_method?: string; join_token?: string } };
}
interface Lock {
  metadata: { name: string };
  spec: { target?: Record<string, string>; message?: string };
}

/** Generations seen so far; a later snapshot below an earlier one is a regressed counter. */
export class GenerationLedger {
  private readonly seen = new Map<string, number>();
  observe(instances: Instance[]): string[] {
    const out: string[] = [];
    for (const i of instances) {
      const id = `${i.spec.bot_name}/${i.spec.instance_id}`;
      const before = this.seen.get(id) ?? 0;
      if (i.status.generation < before) out.push(`${id}: generation ${before} → ${i.status.generation}`);
      this.seen.set(id, Math.max(before, i.status.generation));
    }
    return out;
  }
  get size() {
    return this.seen.size;
  }
}

/** One locked thing, however it was noticed (a lock, an audit event). */
const lockSubject = (t: Record<string, string>) =>
  t.bot_instance_id ? `instance ${t.bot_instance_id}` : JSON.stringify(t);

/** Reads instances and locks with tctl; records regressions, locks and tokens redeemed twice. */
export function checkServerState(c: Cluster, ledger: GenerationLedger, report: Report): void {
  const instances = c.tctlJson<Instance[]>(["get", "bot_instances"]);
  report.addAll("regressed", ledger.observe(instances));
  const byToken = new Map<string, string[]>();
  for (const i of instances) {
    const a = i.status.initial_authentication;
    if (a?.join_method !== "token" || !a.join_token) continue;
    byToken.set(a.join_token, [...(byToken.get(a.join_token) ?? []), i.spec.instance_id]);
  }
  for (const [tok, ids] of byToken)
    if (ids.length > 1)
      report.add("double-used", `token ${tok} started ${ids.length} instances: ${ids.join(", ")}`, tok);
  for (const l of c.tctlJson<Lock[]>(["get", "locks"]))
    report.add(
      "locked",
      `lock ${l.metadata.name} on ${JSON.stringify(l.spec.target)}: ${l.spec.message}`,
      lockSubject(l.spec.target ?? {}),
    );
}

/** The audit log: a token whose joins name two instances; generation mismatches; torn lines. */
export function checkAudit(c: Cluster, report: Report): void {
  if (!existsSync(c.auditPath)) return;
  const byToken = new Map<string, Set<string>>();
  let torn = 0;
  for (const line of readFileSync(c.auditPath, "utf8").split("\n")) {
    if (!line) continue;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line);
    } catch {
      torn++;
      continue;
    }
    if (e.event === "bot.join" && e.join_method === "token" && typeof e.token === "string") {
      const s = byToken.get(e.token) ?? new Set<string>();
      s.add(String(e.bot_instance_id));
      byToken.set(e.token, s);
    }
    if (e.event === "renewable_certificate_generation_mismatch")
      report.add(
        "locked",
        `audit: renewable_certificate_generation_mismatch bot ${e.bot} instance ${e.bot_instance_id} presented ${e.presented_generation}, expected ${e.expected_generation}`,
        lockSubject({ bot_instance_id: String(e.bot_instance_id) }),
      );
  }
  for (const [tok, ids] of byToken)
    if (ids.size > 1) report.add("double-used", `audit: token ${tok} joined as ${[...ids].join(", ")}`, tok);
  report.counts["torn audit lines (not an invariant)"] = torn;
}

// ---- Where a kill landed: after the server acted on a request, before tbot saved the answer. ----

/** How the audit log names a `token`-method token: the start of its SHA-256. */
export const maskedToken = (token: string) =>
  `sha256:${createHash("sha256").update(token).digest("hex").slice(0, 16)}`;

export function auditSize(c: Cluster): number {
  return existsSync(c.auditPath) ? lstatSync(c.auditPath).size : 0;
}

/** Audit events written after byte `offset`. */
export function auditSince(c: Cluster, offset: number): Record<string, unknown>[] {
  if (!existsSync(c.auditPath)) return [];
  const fd = openSync(c.auditPath, "r");
  try {
    const len = fstatSync(fd).size - offset;
    if (len <= 0) return [];
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, offset);
    return buf
      .toString("utf8")
      .split("\n")
      .flatMap((l) => {
        try {
          return l ? [JSON.parse(l)] : [];
        } catch {
          return [];
        }
      });
  } finally {
    closeSync(fd);
  }
}

const readOrNull = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : null);

/**
 * Call before a kill. `acted()` says whether the server has since committed a join (of this
 * token) or a renewal (of this bot); `lost()`, after the kill, whether that happened while
 * tbot's storage still holds what it held before: the kill fell between the server's commit
 * and tbot's save, the window where a token can be burnt or a counter left behind.
 */
export function lostAnswerProbe(c: Cluster, r: { bot: string; token: string; data: string }) {
  const offset = auditSize(c);
  const before = readOrNull(join(r.data, "tlscert"));
  const mask = maskedToken(r.token);
  const acted = () =>
    auditSince(c, offset).some(
      (e) => (e.event === "bot.join" && e.token === mask) || (e.event === "cert.renew" && e.bot === r.bot),
    );
  return { acted, lost: () => acted() && readOrNull(join(r.data, "tlscert")) === before };
}

/** The database of a stopped tauth. */
export function checkDatabase(c: Cluster, report: Report, when: string): void {
  const r = backend.integrity(c.dataDir);
  report.count("integrity checks");
  if (r !== "ok") report.add("database", `${when}: ${r}`);
}

const STACK = /\n\s+at /;
export function checkNoStack(what: string, text: string, report: Report): void {
  if (STACK.test(text)) report.add("crash", `${what} printed a stack trace: ${text.slice(0, 500)}`);
}
