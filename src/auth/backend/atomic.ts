// Conditional multi-key writes (the reference's AtomicWrite): a list of ops, each a condition
// on one key and an action on it. The backends differ only in how they lock; the rules of
// what a condition means, and what is a malformed list, live here once.

import { badParameter, compareFailed } from "../../util/errors.ts";

/** What must hold for the key before anything is written. An expired item counts as absent. */
export type Condition =
  | { kind: "any" }
  | { kind: "exists" }
  | { kind: "absent" }
  | { kind: "revision"; revision: string };

export type Action =
  | { kind: "put"; value: string; expires?: Date }
  | { kind: "delete" }
  /** A pure check: the condition must hold, nothing is written. */
  | { kind: "none" };

export interface AtomicOp {
  key: string;
  condition: Condition;
  action: Action;
}

/** Large enough for any change the service makes at once, small enough to keep locks short. */
export const MAX_ATOMIC_OPS = 64;

export function checkAtomicOps(ops: AtomicOp[]): void {
  if (ops.length === 0) throw badParameter("atomic: no ops");
  if (ops.length > MAX_ATOMIC_OPS)
    throw badParameter(`atomic: ${ops.length} ops (at most ${MAX_ATOMIC_OPS})`);
  const seen = new Set<string>();
  for (const op of ops) {
    if (seen.has(op.key)) throw badParameter(`atomic: key ${op.key} appears twice`);
    seen.add(op.key);
  }
}

/** `current` is the live revision of the key, or null if absent or expired. */
export function conditionHolds(c: Condition, current: string | null): boolean {
  switch (c.kind) {
    case "any":
      return true;
    case "exists":
      return current !== null;
    case "absent":
      return current === null;
    case "revision":
      return current === c.revision;
  }
}

/** Throws compare_failed for the first op whose condition does not hold. */
export function requireConditions(ops: AtomicOp[], current: (key: string) => string | null): void {
  for (const op of ops)
    if (!conditionHolds(op.condition, current(op.key)))
      throw compareFailed(
        `${op.key} was changed concurrently (atomic write: condition ${op.condition.kind} failed)`,
      );
}
