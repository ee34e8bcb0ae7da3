// Locks: a lock on a bot, a bot instance, a join token or an admin identity denies every
// request and join made by what it targets. Checked on every authenticated call and every
// join, against the in-memory index every replica keeps current (lock-index.ts): a lock
// created through one replica denies on the others as soon as the database's notification
// arrives.

import type { TlsIdentity } from "../crypto/tls-identity.ts";
import { accessDenied, badParameter, notFound } from "../util/errors.ts";
import type { Who } from "./lock-index.ts";
import { denial } from "./metrics/observer.ts";
import type { AuthService } from "./service.ts";
import type { Lock, LockTarget } from "./store/types.ts";

export async function createLock(
  svc: AuthService,
  target: LockTarget,
  message: string,
  createdBy: string,
): Promise<Lock> {
  const id = crypto.randomUUID();
  const lock: Lock = {
    kind: "lock",
    version: "v2",
    metadata: { name: id },
    spec: { target, message, created_at: new Date().toISOString(), created_by: createdBy },
  };
  await svc.locks.create(id, lock);
  svc.audit.emit("lock.create", { lock: id, target, message, created_by: createdBy });
  return lock;
}

/** The lock that denies `who`: a lookup in the index by each thing `who` names. */
export async function findLock(svc: AuthService, who: Who): Promise<Lock | null> {
  return svc.lockIndex.find(who);
}

/** What an administrator locked out of tctl can always do (it needs the auth host's data directory). */
export const NEW_ADMIN_IDENTITY_HINT =
  'issue a new one on the auth server with "tauth admin-identity --data-dir DIR --out FILE"';

/**
 * Why the admin identity with this ID may not be used, or null when it may: it must have a
 * record in the backend (issued by this cluster since IDs exist, not expired) and no lock.
 */
export async function adminIdentityRefusal(svc: AuthService, id: string | undefined): Promise<string | null> {
  if (!id)
    return "this admin identity has no ID (it was issued before admin identities could be revoked) and is no longer accepted";
  if (!(await svc.adminIdentities.get(id)))
    return `admin identity ${id} is not known to this cluster (expired or removed)`;
  const lock = await findLock(svc, { adminIdentity: id });
  if (lock)
    return `admin identity ${id} is locked: ${lock.spec.message} (lock ${lock.metadata.name}; another admin identity can remove it with "tctl rm lock/${lock.metadata.name}")`;
  return null;
}

/**
 * Refuses a call whose caller is locked. A locked bot's refusal is reported to `onLocked`
 * (the server audits it as `request.locked`, aggregated per bot instance: audit-aggregate.ts).
 */
export async function assertNotLocked(
  svc: AuthService,
  caller: TlsIdentity,
  onLocked?: (lock: Lock) => void,
): Promise<void> {
  if (caller.systemRole === "Admin") {
    const refusal = await adminIdentityRefusal(svc, caller.adminIdentityId);
    if (refusal) throw accessDenied(`${refusal}; ${NEW_ADMIN_IDENTITY_HINT}`);
    return;
  }
  if (!caller.botName) return;
  const lock = await findLock(svc, { bot: caller.botName, instance: caller.botInstanceId });
  if (lock) {
    onLocked?.(lock);
    throw denial(
      accessDenied(
        `this bot ${lock.spec.target.bot_instance_id ? "instance " : ""}is locked: ${lock.spec.message} (lock ${lock.metadata.name}; remove it with "tctl rm lock/${lock.metadata.name}")`,
      ),
      "locked",
    );
  }
}

/**
 * The target of `tctl lock`: exactly one of a bot, a bot instance or an admin identity. An
 * admin identity must exist, and the caller's own is refused (lock it from another one).
 */
export async function lockTarget(
  svc: AuthService,
  bot: string | undefined,
  instance: string | undefined,
  adminIdentity: string | undefined,
  caller?: TlsIdentity,
): Promise<LockTarget> {
  const given = [bot, instance, adminIdentity].filter((x) => x !== undefined && x !== "");
  if (given.length !== 1)
    throw badParameter("a lock needs exactly one target: --bot NAME, --bot-instance ID or --admin ID");
  if (bot) return { bot };
  if (instance) return { bot_instance_id: instance };
  const id = adminIdentity!;
  if (!(await svc.adminIdentities.get(id)))
    throw notFound(`admin identity "${id}" not found; "tctl get admin_identities" lists them`);
  if (id === caller?.adminIdentityId)
    throw badParameter(
      `admin identity ${id} is the one this tctl uses; lock it with another admin identity (${NEW_ADMIN_IDENTITY_HINT})`,
    );
  return { admin_identity: id };
}
