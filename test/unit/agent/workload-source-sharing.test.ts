// The Workload API's identity source (src/agent/services/workload-identity-api/source.ts)
// shares one answer among workloads that agree on what tauth says the selected identities read
// of them (workload_attributes_read): without a pid in any rule or template, every process of
// a uid costs one issuance, not one each; with one, each process gets its own; an older tauth
// that says nothing gets one per process. A fake tauth answers as the real one templates.

import { describe, expect, setSystemTime, test } from "bun:test";
import type { ServiceContext } from "../../../src/agent/services/service.ts";
import { cacheKey } from "../../../src/agent/services/workload-identity-api/shared-answers.ts";
import { TauthWorkloadSource } from "../../../src/agent/services/workload-identity-api/source.ts";
import type { WorkloadAttributes } from "../../../src/agent/workload-api/types.ts";
import type { WorkloadX509Request } from "../../../src/protocol/messages.ts";
import { UserError } from "../../../src/util/errors.ts";

const PEM = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";

/** A fake tauth: the SPIFFE ID from `template` over the request's unix attributes. */
function fakeTauth(o: {
  template: (u: Record<string, unknown>) => string;
  read?: () => string[] | undefined;
}) {
  const requests: WorkloadX509Request[] = [];
  const api = {
    async get() {
      return { spiffe: { trust_domain: "example.org", tls: [PEM], jwks: { keys: [] } } };
    },
    async post(_path: string, body: WorkloadX509Request) {
      requests.push(body);
      const u = (body.workload?.unix ?? {}) as Record<string, unknown>;
      const read = o.read?.();
      return {
        trust_domain: "example.org",
        bundle: [PEM],
        skipped: [],
        svids: [
          {
            name: "wi",
            spiffe_id: `spiffe://example.org${o.template(u)}`,
            cert: PEM,
            expires: new Date(Date.now() + 3600_000).toISOString(),
            serial: String(requests.length),
          },
        ],
        ...(read ? { workload_attributes_read: read } : {}),
      };
    },
  };
  return { api, requests };
}

async function sourceWith(api: unknown): Promise<TauthWorkloadSource> {
  const s = new TauthWorkloadSource("wl", { name: "wi" }, () => 3600_000);
  await s.refresh({ api } as unknown as ServiceContext);
  return s;
}

const workload = (uid: number, pid: number): WorkloadAttributes => ({
  unix: {
    attested: true,
    uid,
    gid: uid,
    pid,
    binaryPath: async () => "/usr/bin/app",
    binaryHash: async () => "ab".repeat(32),
  },
});

const ids = async (s: TauthWorkloadSource, w: WorkloadAttributes) =>
  (await s.x509Svids(w)).map((x) => x.spiffeId);

describe("Workload API answers shared by what tauth says they read", () => {
  test("rules and templates on the uid only: the processes of a uid share one issuance", async () => {
    const t = fakeTauth({ template: (u) => `/uid-${u.uid}`, read: () => ["workload.unix.uid"] });
    const s = await sourceWith(t.api);
    expect(await ids(s, workload(1000, 11))).toEqual(["spiffe://example.org/uid-1000"]);
    expect(await ids(s, workload(1000, 12))).toEqual(["spiffe://example.org/uid-1000"]);
    expect(await ids(s, workload(1000, 13))).toEqual(["spiffe://example.org/uid-1000"]);
    expect(t.requests).toHaveLength(1);
    expect(await ids(s, workload(1001, 14))).toEqual(["spiffe://example.org/uid-1001"]);
    expect(t.requests).toHaveLength(2);
    // Both processes of uid 1000 were given the very same SVID (chain and key).
    const [a, b] = [await s.x509Svids(workload(1000, 11)), await s.x509Svids(workload(1000, 12))];
    expect(a[0]!.key).toBe(b[0]!.key);
    s.close();
  });

  test("a template on the pid: each process its own issuance and SPIFFE ID", async () => {
    const t = fakeTauth({
      template: (u) => `/uid-${u.uid}/pid-${u.pid}`,
      read: () => ["workload.unix.pid", "workload.unix.uid"],
    });
    const s = await sourceWith(t.api);
    expect(await ids(s, workload(1000, 21))).toEqual(["spiffe://example.org/uid-1000/pid-21"]);
    expect(await ids(s, workload(1000, 22))).toEqual(["spiffe://example.org/uid-1000/pid-22"]);
    expect(await ids(s, workload(1000, 21))).toEqual(["spiffe://example.org/uid-1000/pid-21"]);
    expect(t.requests).toHaveLength(2);
    s.close();
  });

  test("an older tauth that says nothing of what it read: one issuance per process, as before", async () => {
    const t = fakeTauth({ template: (u) => `/uid-${u.uid}` });
    const s = await sourceWith(t.api);
    await ids(s, workload(1000, 31));
    await ids(s, workload(1000, 32));
    await ids(s, workload(1000, 31));
    expect(t.requests).toHaveLength(2);
    s.close();
  });

  test("a template that starts reading the pid: workloads waiting on another's answer ask for their own", async () => {
    let withPid = false;
    const t = fakeTauth({
      template: (u) => (withPid ? `/uid-${u.uid}/pid-${u.pid}` : `/uid-${u.uid}`),
      read: () => (withPid ? ["workload.unix.pid", "workload.unix.uid"] : ["workload.unix.uid"]),
    });
    const s = await sourceWith(t.api);
    // Learnt: the uid is all that matters.
    expect(await ids(s, workload(999, 40))).toEqual(["spiffe://example.org/uid-999"]);
    // The administrator adds the pid to the template; two processes of uid 1000 ask at the
    // same moment, both looked up by the uid alone: the second waits on the first's answer.
    withPid = true;
    const [p42, p43] = await Promise.all([ids(s, workload(1000, 42)), ids(s, workload(1000, 43))]);
    expect(p42).toEqual(["spiffe://example.org/uid-1000/pid-42"]);
    expect(p43).toEqual(["spiffe://example.org/uid-1000/pid-43"]);
    s.close();
  });

  test("a shared answer reaches a new process for 30 s only: then it is asked afresh, and a rule now refusing the uid refuses it", async () => {
    let allowed = true;
    const t = fakeTauth({ template: (u) => `/uid-${u.uid}`, read: () => ["workload.unix.uid"] });
    const post = t.api.post;
    t.api.post = async (path: string, body: WorkloadX509Request) => {
      if (!allowed) {
        t.requests.push(body);
        throw new UserError('workload identity "wi": no allow rule matched', "access_denied");
      }
      return post(path, body);
    };
    const t0 = Date.now();
    try {
      setSystemTime(new Date(t0));
      const s = await sourceWith(t.api);
      expect(await ids(s, workload(1000, 51))).toEqual(["spiffe://example.org/uid-1000"]);
      allowed = false; // the administrator's rule change
      setSystemTime(new Date(t0 + 10_000));
      expect(await ids(s, workload(1000, 52))).toEqual(["spiffe://example.org/uid-1000"]);
      expect(t.requests).toHaveLength(1);
      setSystemTime(new Date(t0 + 31_000));
      await expect(ids(s, workload(1000, 53))).rejects.toThrow("no allow rule matched");
      expect(t.requests).toHaveLength(2);
      s.close();
    } finally {
      setSystemTime();
    }
  });

  test("a tauth that stops naming what it read (an older one, after a rollback): one answer per process, each served from cache", async () => {
    let names = true;
    const t = fakeTauth({
      template: (u) => `/uid-${u.uid}`,
      read: () => (names ? ["workload.unix.uid"] : undefined),
    });
    const s = await sourceWith(t.api);
    await ids(s, workload(1000, 71));
    names = false;
    await ids(s, workload(1001, 72));
    expect(t.requests).toHaveLength(2);
    // Asked again: from the cache, not another issuance per ask.
    await ids(s, workload(1001, 72));
    await ids(s, workload(1001, 72));
    expect(t.requests).toHaveLength(2);
    // And another process of that uid gets its own answer, as an older tauth means.
    await ids(s, workload(1001, 73));
    expect(t.requests).toHaveLength(3);
    s.close();
  });

  test("cache keys: the paths read and their values only; every attribute without them", () => {
    const a = { unix: { uid: 7, gid: 7, pid: 70, binary_path: "/x" } };
    const b = { unix: { uid: 7, gid: 8, pid: 71, binary_path: "/y" } };
    expect(cacheKey(a, ["workload.unix.uid"])).toBe(cacheKey(b, ["workload.unix.uid"]));
    expect(cacheKey(a, ["workload.unix.gid", "workload.unix.uid"])).not.toBe(
      cacheKey(b, ["workload.unix.gid", "workload.unix.uid"]),
    );
    expect(cacheKey(a, undefined)).not.toBe(cacheKey(b, undefined));
    // Keys made with different read sets never meet, even where the values agree.
    expect(cacheKey(a, [])).not.toBe(cacheKey(a, ["workload.unix.uid"]));
  });
});
