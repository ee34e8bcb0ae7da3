// The generation rules of a bot instance: which certificate a renewal (or an authenticated
// re-join) may present, and what it gets. Pure: the callers read, judge, issue, then commit by
// compare-and-swap, so a judgement is never acted on against data that changed under it.
//
// The reference locks an instance whenever the presented generation differs from the stored
// one. That also locks a bot whose renewal response was lost (a crash, a reset connection) and
// a bot whose server was restored from a backup. The rules here keep theft detection — of two
// holders of one identity, whichever is second is locked — and serve those two cases:
//
// - advance:   the newest certificate (generation N, its serial) renews to N+1.
// - redeliver: a certificate of N−1, the very one N was issued to, while N has never been
//              presented: N's response was lost. N is issued again (a new certificate, so
//              the lost one — if it was not lost after all — no longer matches and is caught).
// - rollback:  a generation above N: the server's data went back (a restored backup). The
//              counter moves past it and the event is audited.
// - mismatch:  anything else — a copy presenting a stale or superseded certificate.
//
// Redelivery is bound to the key: an agent that keeps its renewal key until the answer is
// saved (RenewRequest.key_kept; every tbot of this version) asks again with the same key, so
// N is served again only to the key it was first issued to. Without that binding, a copy that
// presents N−1 right after the bot renewed could not be told from the bot's own retry and
// would be served too. Once an instance has renewed with a kept key (`keys_kept`, sticky), a
// request that does not claim it is held to the same rule.

export interface GenerationState {
  /** Generation of the newest certificate issued to the instance. */
  generation: number;
  /** Serial of that certificate (absent in records older than these rules). */
  current_serial?: string;
  /** Serial of the certificate presented to obtain it. */
  previous_serial?: string;
  /** The highest generation seen in use by this instance (0 if none yet). */
  presented_generation?: number;
  /** Hash of the public key the newest certificate was issued to (absent in older records). */
  current_key?: string;
  /** The instance's agent keeps its renewal key across retries: redelivery needs the same key. */
  keys_kept?: boolean;
}

export interface Presented {
  generation: number;
  serial: string;
  /** Hash of the public key the request asks a certificate for. */
  key?: string;
  /** The request says its agent keeps that key until the answer is saved. */
  keyKept?: boolean;
}

export type Verdict =
  | { kind: "advance" | "redeliver" | "rollback"; next: number }
  | { kind: "mismatch"; stored: number };

export function judge(s: GenerationState, p: Presented): Verdict {
  const n = s.generation;
  if (p.generation > n) return { kind: "rollback", next: p.generation + 1 };
  if (p.generation === n) {
    if (s.current_serial && s.current_serial !== p.serial) return { kind: "mismatch", stored: n };
    return { kind: "advance", next: n + 1 };
  }
  const unpresented = (s.presented_generation ?? 0) < n;
  if (
    p.generation === n - 1 &&
    unpresented &&
    s.previous_serial &&
    s.previous_serial === p.serial &&
    sameKeyIfKept(s, p)
  )
    return { kind: "redeliver", next: n };
  return { kind: "mismatch", stored: n };
}

/** Redelivery to a kept key only: the key N was issued to (records without one: any key). */
function sameKeyIfKept(s: GenerationState, p: Presented): boolean {
  if (!(s.keys_kept || p.keyKept) || s.current_key === undefined) return true;
  return p.key !== undefined && p.key === s.current_key;
}

/** The state after a certificate with `serial` was issued under verdict `v` for `p`. */
export function afterIssue(
  s: GenerationState,
  v: Verdict & { next: number },
  p: Presented,
  serial: string,
): GenerationState {
  const keys = {
    ...(p.key !== undefined ? { current_key: p.key } : {}),
    ...(s.keys_kept || p.keyKept ? { keys_kept: true } : {}),
  };
  if (v.kind === "redeliver") return { ...s, current_serial: serial, ...keys };
  return {
    generation: v.next,
    current_serial: serial,
    previous_serial: p.serial,
    presented_generation: Math.max(s.presented_generation ?? 0, p.generation),
    ...keys,
  };
}

/** The state of a new instance whose first certificate has `serial`. */
export function firstIssue(serial: string): GenerationState {
  return { generation: 1, current_serial: serial, presented_generation: 0 };
}

/** Whether a call made with `p` shows the newest certificate in use for the first time. */
export function firstUseOfNewest(s: GenerationState, p: Presented): boolean {
  return (
    p.generation === s.generation &&
    (s.presented_generation ?? 0) < s.generation &&
    (!s.current_serial || s.current_serial === p.serial)
  );
}
