// Locks: a lock on a bot, a bot instance or a join token denies every request and join made
// by what it targets. Checked on every authenticated call and every join.

import type { TlsIdentity } from "../crypto/tls-identity.ts";
import { accessDenied } from "../util/errors.ts";
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

function matches(t: LockTarget, who: { bot?: string; instance?: string; token?: string }): boolean {
  return (
    (t.bot !== undefined && t.bot === who.bot) ||
    (t.bot_instance_id !== undefined && t.bot_instance_id === who.instance) ||
    (t.join_token !== undefined && t.join_token === who.token)
  );
}

export async function findLock(
  svc: AuthService,
  who: { bot?: string; instance?: string; token?: string },
): Promise<Lock | null> {
  for (const { value } of await svc.locks.list()) if (matches(value.spec.target, who)) return value;
  return null;
}

export async function assertNotLocked(svc: AuthService, caller: TlsIdentity): Promise<void> {
  if (!caller.botName) return;
  const lock = await findLock(svc, { bot: caller.botName, instance: caller.botInstanceId });
  if (lock)
    throw accessDenied(
      `this bot ${lock.spec.target.bot_instance_id ? "instance " : ""}is locked: ${lock.spec.message} (lock ${lock.metadata.name}; remove it with "tctl rm lock/${lock.metadata.name}")`,
    );
}
