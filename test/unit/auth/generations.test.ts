// The generation rules (src/auth/generations.ts) played through the stories they exist for:
// an ordinary life, a lost response, a restored backup, and a copied bot in both orders.

import { describe, expect, test } from "bun:test";
import {
  afterIssue,
  firstIssue,
  firstUseOfNewest,
  type GenerationState,
  judge,
  type Presented,
} from "../../../src/auth/generations.ts";

/** A tiny server: renew(p) judges, issues a certificate with a fresh serial, commits. */
function server() {
  let n = 0;
  let state: GenerationState = firstIssue("s1");
  const cert = (generation: number, serial: string): Presented => ({ generation, serial });
  return {
    get state() {
      return state;
    },
    first: cert(1, "s1"),
    renew(p: Presented): Presented | "locked" {
      const v = judge(state, p);
      if (v.kind === "mismatch") return "locked";
      const serial = `r${++n}`;
      state = afterIssue(state, v, p, serial);
      return cert(v.next, serial);
    },
    use(p: Presented) {
      if (firstUseOfNewest(state, p)) state = { ...state, presented_generation: p.generation };
    },
    restore(s: GenerationState) {
      state = s;
    },
  };
}

describe("generation rules", () => {
  test("an ordinary life advances one generation per renewal", () => {
    const s = server();
    let c = s.first;
    for (let i = 2; i <= 5; i++) {
      const next = s.renew(c);
      expect(next).not.toBe("locked");
      c = next as Presented;
      expect(c.generation).toBe(i);
      s.use(c);
    }
    expect(s.state.generation).toBe(5);
    expect(s.state.presented_generation).toBe(5);
  });

  test("a lost renewal response is served again, any number of times, and the lost certificate no longer counts", () => {
    const s = server();
    const lost = s.renew(s.first) as Presented; // the bot never receives it
    const again = s.renew(s.first) as Presented;
    expect(again.generation).toBe(2);
    const third = s.renew(s.first) as Presented; // lost again
    expect(third.generation).toBe(2);
    // The certificate that was lost is superseded: if it ever shows up, it is a copy.
    expect(s.renew(lost)).toBe("locked");
  });

  test("once the newest certificate was used, the one before is stale for good", () => {
    const s = server();
    const c2 = s.renew(s.first) as Presented;
    s.use(c2);
    expect(s.renew(s.first)).toBe("locked");
  });

  test("a restored backup (presented generation above the stored one) moves the counter past it", () => {
    const s = server();
    let c = s.first;
    const backup = s.state;
    for (let i = 0; i < 3; i++) c = s.renew(c) as Presented;
    s.restore(backup);
    const v = judge(s.state, c);
    expect(v.kind).toBe("rollback");
    const after = s.renew(c) as Presented;
    expect(after.generation).toBe(c.generation + 1);
    expect(s.renew(after)).not.toBe("locked");
  });

  test("theft: copy at N−1; the original renews to N; the copy is served; the original presenting N is locked", () => {
    const s = server();
    const copy = s.first;
    const original = s.renew(s.first) as Presented; // N = 2, not yet used
    const copyNext = s.renew(copy); // the copy presents N−1: indistinguishable from a lost response
    expect(copyNext).not.toBe("locked");
    expect(s.renew(original)).toBe("locked");
  });

  test("theft, mirror order: the copy renews first; the original is served; the copy presenting N is locked", () => {
    const s = server();
    const original = s.first;
    const copyN = s.renew(s.first) as Presented;
    const originalN = s.renew(original);
    expect(originalN).not.toBe("locked");
    expect(s.renew(copyN)).toBe("locked");
  });

  test("theft after a redelivery: the holder of the redelivered N renews on; the other N−1 is locked", () => {
    const s = server();
    const a = s.renew(s.first) as Presented; // A gets N
    const b = s.renew(s.first) as Presented; // B (same N−1 certificate) gets N again
    const b3 = s.renew(b) as Presented;
    expect(b3.generation).toBe(3);
    expect(s.renew(a)).toBe("locked");
    expect(s.renew(s.first)).toBe("locked");
  });

  test("records written before these rules (no serials) keep the reference's behaviour", () => {
    const legacy: GenerationState = { generation: 4 };
    expect(judge(legacy, { generation: 4, serial: "x" }).kind).toBe("advance");
    expect(judge(legacy, { generation: 3, serial: "x" }).kind).toBe("mismatch");
  });

  describe("with kept renewal keys (RenewRequest.key_kept)", () => {
    const kept = (p: Presented, key: string): Presented => ({ ...p, key, keyKept: true });

    test("the bot's retry with the same key is served the lost generation again", () => {
      const s = server();
      s.renew(kept(s.first, "k1")); // the answer is lost
      const again = s.renew(kept(s.first, "k1")) as Presented;
      expect(again.generation).toBe(2);
      expect(s.renew(kept(again, "k2"))).not.toBe("locked");
    });

    test("a copy presenting N−1 with another key right after the bot renewed is locked, not served", () => {
      const s = server();
      const original = s.renew(kept(s.first, "k1")) as Presented;
      expect(s.renew(kept(s.first, "thief"))).toBe("locked");
      // A copy that does not claim to keep its key is held to the rule too (sticky).
      expect(s.renew({ ...s.first, key: "thief" })).toBe("locked");
      expect(s.renew(kept(original, "k2"))).not.toBe("locked");
    });

    test("of twenty renewals presenting one certificate, only the first is served", () => {
      const s = server();
      const served = Array.from({ length: 20 }, (_, i) => s.renew(kept(s.first, `k${i}`))).filter(
        (r) => r !== "locked",
      );
      expect(served).toHaveLength(1);
    });

    test("a record from before keys were bound (no current_key) still redelivers to any key", () => {
      const s = server();
      s.renew(s.first); // issued by an older server: no key recorded
      expect(s.state.current_key).toBeUndefined();
      expect(s.renew(kept(s.first, "k1"))).not.toBe("locked");
    });
  });
});
