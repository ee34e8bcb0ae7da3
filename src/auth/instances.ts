// Bot instance records: created by a join, advanced by renewals and authenticated re-joins
// under the generation rules (src/auth/generations.ts). Every write is validate → issue →
// commit by compare-and-swap → respond: the certificates are made before anything is
// recorded, so a request that fails validation moves no counter, and a response lost after
// the commit is served again by the rules instead of locking the bot.

import { createHash, X509Certificate } from "node:crypto";
import type { TlsIdentity } from "../crypto/tls-identity.ts";
import type { Certificates, PublicKeys } from "../protocol/messages.ts";
import { accessDenied, isCode } from "../util/errors.ts";
import { jsonItem } from "./backend/backend.ts";
import {
  afterIssue,
  firstIssue,
  firstUseOfNewest,
  type GenerationState,
  judge,
  type Presented,
  type Verdict,
} from "./generations.ts";
import { issuedSerial, MAX_RENEWABLE_TTL_MS } from "./issuer.ts";
import type { AuthService } from "./service.ts";
import { type Authentication, type BotInstance, MAX_AUTHENTICATIONS } from "./store/types.ts";

export type IssuedCerts = Certificates & { expires: Date };

export const instanceKey = (bot: string, id: string) => `${bot}/${id}`;

/** Instances outlive their last certificate by a grace period, then the backend drops them. */
const INSTANCE_GRACE_MS = 24 * 3600_000;
const keepUntil = (certs: IssuedCerts) => new Date(certs.expires.getTime() + INSTANCE_GRACE_MS);

/** The TLS certificate's serial: known to the issuer when it made them, else read from the certificate. */
export const serialOf = (certs: Certificates) =>
  issuedSerial(certs) ?? new X509Certificate(certs.tls_cert).serialNumber;

/** What a redelivery is bound to: the public keys a request asks certificates for. */
export const keyHashOf = (k: PublicKeys) =>
  createHash("sha256").update(k.tls_public_key).update("\n").update(k.ssh_public_key).digest("hex");

/**
 * `inst` with `auth` recorded: a new object for every part that changes (the record, its
 * status, the list of authentications); the rest is shared with `inst`, which is a value
 * just parsed from the backend and never changed in place. (structuredClone of the whole
 * record was 3% of a renewal's JS time.)
 */
function withAuthentication(inst: BotInstance, auth: Authentication, g: GenerationState): BotInstance {
  return {
    ...inst,
    status: {
      ...inst.status,
      ...g,
      latest_authentications: [
        ...inst.status.latest_authentications,
        { ...auth, generation: g.generation },
      ].slice(-MAX_AUTHENTICATIONS),
    },
  };
}

function newInstance(bot: string, id: string, auth: Authentication, g: GenerationState): BotInstance {
  const first = { ...auth, generation: g.generation };
  return {
    kind: "bot_instance",
    version: "v1",
    metadata: { name: id },
    spec: { bot_name: bot, instance_id: id },
    status: { ...g, initial_authentication: first, latest_authentications: [first], latest_heartbeats: [] },
  };
}

export interface FirstIssue {
  bot: string;
  id: string;
  auth: Authentication;
  issue(generation: number): Promise<IssuedCerts>;
  /** The join method's own commit (a token consumed, a binding recorded), after issuing. */
  commit?(certs: IssuedCerts): Promise<void>;
  /**
   * A lost join response served again: the instance may exist already, and is given new
   * certificates of generation 1 only while it has never been used.
   */
  again?: boolean;
}

/** A new instance's first certificates (or, `again`, the same join's once more). */
export async function issueFirst(svc: AuthService, f: FirstIssue): Promise<IssuedCerts> {
  const key = instanceKey(f.bot, f.id);
  const used = () =>
    accessDenied("this join was completed and its identity has been used since; join with a new token");
  if (f.again && !(await isUnusedInstance(svc, f.bot, f.id))) throw used();
  const certs = await f.issue(1);
  await f.commit?.(certs);
  const g = firstIssue(serialOf(certs));
  for (;;) {
    const cur = f.again ? await svc.instances.get(key) : null;
    try {
      if (!cur) await svc.instances.create(key, newInstance(f.bot, f.id, f.auth, g), keepUntil(certs));
      else {
        if (!unused(cur.value)) throw used();
        const next = withAuthentication(cur.value, f.auth, g);
        await svc.instances.compareAndSwap(key, cur.revision, next, keepUntil(certs));
      }
      return certs;
    } catch (e) {
      if (!f.again || !(isCode(e, "already_exists") || isCode(e, "compare_failed"))) throw e;
    }
  }
}

const unused = (i: BotInstance) => i.status.generation === 1 && (i.status.presented_generation ?? 0) === 0;

/** Whether instance `id` exists and has never been used since its first certificates. */
export async function isUnusedInstance(svc: AuthService, bot: string, id: string): Promise<boolean> {
  const cur = await svc.instances.get(instanceKey(bot, id));
  return !cur || unused(cur.value);
}

export interface NextIssue {
  bot: string;
  id: string;
  presented: Presented;
  auth: Authentication;
  issue(generation: number): Promise<IssuedCerts>;
  commit?(certs: IssuedCerts): Promise<void>;
  /** Runs on a mismatch, before the denial: lock and audit. */
  onMismatch(stored: number): Promise<never>;
  onRollback?(v: Verdict): void;
}

/** Certificates for an existing instance under the generation rules; commits by CAS. */
export async function issueNext(
  svc: AuthService,
  n: NextIssue,
): Promise<IssuedCerts & { generation: number }> {
  const key = instanceKey(n.bot, n.id);
  let committed = false;
  // The instance's newest serial when this request first read it. If it differs after a lost
  // compare-and-swap, another request was issued a certificate for this instance while this
  // one was in flight: two presenters at once, which one bot never is (its renewals are
  // sequential), so a copy. Judged afresh instead, the later of the two would pass as the
  // redelivery of a lost response (generations.ts), and N parallel renewals would all win.
  let seen: { serial: string | undefined } | undefined;
  for (;;) {
    const cur = await svc.instances.get(key);
    const serial = cur?.value.status.current_serial;
    if (cur && seen && seen.serial !== serial) return n.onMismatch(cur.value.status.generation);
    seen ??= { serial };
    if (!cur) {
      // A valid certificate of ours for an instance we do not know: removed by an operator
      // (a tombstone says so), or made after the backup this database was restored from.
      if (await wasRemoved(svc, n.bot, n.id))
        throw accessDenied(`bot instance ${n.id} was removed; the bot must join again with a new token`);
      const v: Verdict = { kind: "rollback", next: n.presented.generation + 1 };
      const certs = await n.issue(v.next);
      if (!committed) await n.commit?.(certs);
      committed = true;
      const g = afterIssue({ generation: 0 }, v, n.presented, serialOf(certs));
      try {
        await svc.instances.create(key, newInstance(n.bot, n.id, n.auth, g), keepUntil(certs));
        n.onRollback?.(v);
        return { ...certs, generation: v.next };
      } catch (e) {
        if (!isCode(e, "already_exists")) throw e;
        continue;
      }
    }
    const v = judge(cur.value.status, n.presented);
    if (v.kind === "mismatch") return n.onMismatch(v.stored);
    const certs = await n.issue(v.next);
    if (!committed) await n.commit?.(certs);
    committed = true;
    const g = afterIssue(cur.value.status, v, n.presented, serialOf(certs));
    try {
      await svc.instances.compareAndSwap(
        key,
        cur.revision,
        withAuthentication(cur.value, n.auth, g),
        keepUntil(certs),
      );
      if (v.kind === "rollback") n.onRollback?.(v);
      return { ...certs, generation: v.next };
    } catch (e) {
      // Changed in between: a heartbeat (judged again on fresh data), or a concurrent
      // renewal (caught at the top of the loop).
      if (!isCode(e, "compare_failed")) throw e;
    }
  }
}

/**
 * Record that the newest certificate of the caller's instance is in use: from then on the one
 * before it is stale for good. Best effort — a call is never failed for it.
 */
export async function notePresented(svc: AuthService, caller: TlsIdentity): Promise<void> {
  if (!caller.botName || !caller.botInstanceId || !caller.generation) return;
  const key = instanceKey(caller.botName, caller.botInstanceId);
  const p = { generation: caller.generation, serial: caller.serial };
  for (let i = 0; i < 3; i++) {
    const cur = await svc.instances.get(key);
    if (!cur || !firstUseOfNewest(cur.value.status, p)) return;
    const next = structuredClone(cur.value);
    next.status.presented_generation = p.generation;
    try {
      await svc.instances.compareAndSwap(key, cur.revision, next, cur.expires);
      return;
    } catch (e) {
      if (!isCode(e, "compare_failed")) throw e;
    }
  }
}

/**
 * Remove an instance for good (an operator's `tctl rm`, a deleted bot): a tombstone outlives
 * every certificate the instance holds, so a restored-backup rule never brings it back.
 */
export async function forgetInstance(svc: AuthService, bot: string, id: string): Promise<void> {
  const until = new Date(Date.now() + 2 * (MAX_RENEWABLE_TTL_MS + INSTANCE_GRACE_MS));
  await svc.backend.put(jsonItem(removedKey(bot, id), { removed_at: new Date().toISOString() }, until));
  await svc.instances.delete(instanceKey(bot, id));
}

const removedKey = (bot: string, id: string) => `/bot_instances_removed/${bot}/${id}`;

async function wasRemoved(svc: AuthService, bot: string, id: string): Promise<boolean> {
  return (await svc.backend.get(removedKey(bot, id))) !== null;
}
