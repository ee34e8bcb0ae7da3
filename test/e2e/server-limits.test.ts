// The auth service's HTTPS listener is bounded by design (compiled tauth, loopback): body caps
// per route (413), malformed bodies a 400 naming the field over HTTP/1.1 and HTTP/2 (never a
// 500), audit fields truncated, unauthenticated joins rate-limited per address (429 +
// Retry-After, one aggregate audit line), header/body/idle deadlines that trickling cannot
// stretch, a per-address connection cap, and TLS 1.2 with AEAD suites only.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import http2 from "node:http2";
import https from "node:https";
import { join } from "node:path";
import tls from "node:tls";
import { parseIdentityFile } from "../../src/crypto/identity-file.ts";
import { ApiClient, RateLimitedError } from "../../src/protocol/client.ts";
import { cleanupAfterFile } from "../harness/proc.ts";
import { startTauth, type TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();

type Transport = "h1" | "h2";
const transports: Transport[] = ["h1", "h2"];

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

interface Cred {
  cert?: string;
  key?: string;
  /** Source address: another loopback address (127.0.0.2) is another client. */
  localAddress?: string;
}

/** One request on a fresh connection, HTTP/1.1 (node:https) or HTTP/2 (node:http2). */
function request(
  port: number,
  t: Transport,
  method: string,
  path: string,
  body?: string | Buffer,
  cred: Cred = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${t} ${method} ${path}: no answer in 20 s`)), 20_000);
    const done = (a: Answer) => {
      clearTimeout(timer);
      resolve(a);
    };
    const headers = body === undefined ? {} : { "content-type": "application/json" };
    if (t === "h1") {
      const r = https.request(
        { host: "127.0.0.1", port, method, path, headers, agent: false, rejectUnauthorized: false, ...cred },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (d: Buffer) => chunks.push(d));
          res.on("end", () =>
            done({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text: Buffer.concat(chunks).toString(),
            }),
          );
        },
      );
      r.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      r.end(body);
      return;
    }
    const s = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, ...cred });
    s.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    const st = s.request({ ":method": method, ":path": path, ...headers });
    let h: Record<string, string | string[] | undefined> = {};
    const chunks: Buffer[] = [];
    st.on("response", (x) => {
      h = x as typeof h;
    });
    st.on("data", (d: Buffer) => chunks.push(d));
    st.on("end", () => {
      done({ status: Number(h[":status"]), headers: h, text: Buffer.concat(chunks).toString() });
      s.close();
    });
    st.on("error", (e) => {
      clearTimeout(timer);
      s.destroy();
      reject(e);
    });
    st.end(body);
  });
}

const errorOf = (a: Answer) => (JSON.parse(a.text) as { error: { code: string; message: string } }).error;

// Real public keys, so that a join gets past the input checks to the token lookup.
const tlsKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({
  type: "spki",
  format: "pem",
}) as string;
const sshKey = (() => {
  const raw = (
    generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "der" }) as Buffer
  ).subarray(-32);
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from("ssh-ed25519")), str(raw)]).toString("base64")}`;
})();

const goodJoin = () => ({
  client_init: { join_method: "token", token_name: "no-such-token", system_role: "Bot" },
  bot_params: {
    public_keys: { tls_public_key: tlsKey, ssh_public_key: sshKey },
    expires: new Date(Date.now() + 3600_000).toISOString(),
  },
});

async function withLimits(limits: string): Promise<TauthHandle> {
  const before = process.env.TAUTH_LIMITS;
  process.env.TAUTH_LIMITS = limits;
  try {
    return await startTauth();
  } finally {
    if (before === undefined) delete process.env.TAUTH_LIMITS;
    else process.env.TAUTH_LIMITS = before;
  }
}

const auditSize = (h: TauthHandle) => statSync(join(h.dataDir, "audit.log")).size;

/** A TLS connection (ALPN http/1.1) that sends the start of a request and then one header line a second. */
function trickler(
  port: number,
): Promise<{ handshaken: boolean; handshakeAt: number; closedAt: number; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let handshaken = false;
    let handshakeAt = Number.POSITIVE_INFINITY;
    let iv: ReturnType<typeof setInterval> | undefined;
    const s = tls.connect(
      { host: "127.0.0.1", port, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] },
      () => {
        handshaken = true;
        handshakeAt = performance.now();
        s.write("POST /v1/join HTTP/1.1\r\nHost: x\r\n");
        iv = setInterval(() => s.write("X-Slow: 1\r\n"), 1000);
      },
    );
    s.on("error", () => {});
    s.on("close", () => {
      clearInterval(iv);
      const closedAt = performance.now();
      resolve({ handshaken, handshakeAt, closedAt, closedAfterMs: closedAt - t0 });
    });
    setTimeout(() => s.destroy(), 30_000);
  });
}

let auth: TauthHandle; // bounds with a short deadline set, join rate generous
let adminCred: Cred;

beforeAll(async () => {
  auth = await withLimits(
    "join_rate=1000,join_burst=1000,header_timeout=2s,body_timeout=2s,idle_timeout=4s,conns_per_ip=64",
  );
  const id = parseIdentityFile(readFileSync(auth.identity, "utf8"));
  adminCred = { cert: id.tlsCertPem, key: id.privateKeyPem };
});

afterAll(() => {
  // No request above may have made tauth log an internal error.
  expect(auth.proc.output()).not.toContain("internal error");
});

describe("body caps", () => {
  test("a 1 MB token name is a 413 on HTTP/1.1 and HTTP/2, and writes nothing to the audit log", async () => {
    const body = JSON.stringify({
      ...goodJoin(),
      client_init: { ...goodJoin().client_init, token_name: "a".repeat(1 << 20) },
    });
    const before = auditSize(auth);
    for (const t of transports)
      for (let i = 0; i < 5; i++) {
        const a = await request(auth.port, t, "POST", "/v1/join", body);
        expect(a.status).toBe(413);
        expect(errorOf(a)).toEqual({
          code: "limit_exceeded",
          message: "request body too large: this endpoint accepts at most 16384 bytes",
        });
      }
    expect(auditSize(auth) - before).toBe(0);
  });

  test("admin create takes up to 1 MiB; more is a 413", async () => {
    const big = JSON.stringify({ resources: [{ kind: "role", pad: "x".repeat((1 << 20) + 10) }] });
    const a = await request(auth.port, "h2", "POST", "/v1/admin/create", big, adminCred);
    expect(a.status).toBe(413);
    expect(errorOf(a).message).toBe("request body too large: this endpoint accepts at most 1048576 bytes");
    const ok = JSON.stringify({ resources: [{ kind: "role", pad: "x".repeat(600_000) }] });
    const b = await request(auth.port, "h2", "POST", "/v1/admin/create", ok, adminCred);
    expect(b.status).toBe(400); // past the cap check, refused by the resource rules
  });

  test("a 512-character token name (the longest the schema allows) is audited cut to 256 characters, marked", async () => {
    const name = `bk-${"n".repeat(509)}`;
    const body = JSON.stringify({
      ...goodJoin(),
      client_init: { join_method: "bound_keypair", token_name: name, system_role: "Bot" },
    });
    const before = auditSize(auth);
    const a = await request(auth.port, "h1", "POST", "/v1/join", body);
    expect(a.status).toBe(403);
    const failed = auth
      .auditLog()
      .filter((e) => e.event === "bot.join.failed" && String(e.token).startsWith("bk-"));
    expect(failed.length).toBe(1);
    expect(failed[0]!.token).toBe(`${name.slice(0, 256)}…[truncated 256 chars]`);
    expect(auditSize(auth) - before).toBeLessThan(1024);
  });
});

describe("malformed bodies are a 400 naming the field, never a 500", () => {
  const g = goodJoin;
  const cases: [string, string, string, string, boolean][] = [
    // [name, path, body, message, admin]
    [
      "toString object where a string goes",
      "/v1/join",
      JSON.stringify({ ...g(), client_init: { token_name: { toString: 1 }, system_role: "Bot" } }),
      "client_init.token_name must be a string, got an object",
      false,
    ],
    [
      "a number where a string goes",
      "/v1/join",
      JSON.stringify({ ...g(), client_init: { token_name: 12345, system_role: "Bot" } }),
      "client_init.token_name must be a string, got a number",
      false,
    ],
    [
      "null public_keys",
      "/v1/join",
      JSON.stringify({ ...g(), bot_params: { public_keys: null, expires: g().bot_params.expires } }),
      "bot_params.public_keys is required",
      false,
    ],
    [
      "an array where an object goes",
      "/v1/join",
      JSON.stringify({ ...g(), bot_params: [] }),
      "bot_params must be an object, got an array",
      false,
    ],
    ["an array body", "/v1/join", "[]", "the request body must be an object, got an array", false],
    ["a JSON null body", "/v1/join", "null", "the request body must be an object, got null", false],
    [
      "expires not a time",
      "/v1/join",
      JSON.stringify({ ...g(), bot_params: { ...g().bot_params, expires: "tomorrow" } }),
      'bot_params.expires must be an RFC 3339 time such as "2025-12-01T00:00:00Z"',
      false,
    ],
    [
      "method_init a string",
      "/v1/join",
      JSON.stringify({ ...g(), method_init: "x" }),
      "method_init must be an object, got a string",
      false,
    ],
    [
      "an 8,000-deep array (fits the join cap)",
      "/v1/join",
      `${"[".repeat(8000)}${"]".repeat(8000)}`,
      "request body is nested deeper than 64 levels of arrays and objects",
      false,
    ],
    [
      "a 100,000-deep JSON (admin create, 1 MiB cap)",
      "/v1/admin/create",
      `{"resources":${"[".repeat(100_000)}${"]".repeat(100_000)}}`,
      "request body is nested deeper than 64 levels of arrays and objects",
      true,
    ],
    [
      "null resource",
      "/v1/admin/create",
      JSON.stringify({ resources: [null] }),
      "resources[0] must be an object, got null",
      true,
    ],
    [
      "object where a kind goes",
      "/v1/admin/get",
      JSON.stringify({ kind: { toString: 1 } }),
      "kind must be a string, got an object",
      true,
    ],
    [
      "null roles element",
      "/v1/admin/bots/add",
      JSON.stringify({ name: "b", roles: [null] }),
      "roles[0] must be a string, got null",
      true,
    ],
  ];
  for (const t of transports)
    for (const [name, path, body, message, admin] of cases)
      test(`${t}: ${name}`, async () => {
        const a = await request(auth.port, t, "POST", path, body, admin ? adminCred : {});
        expect(a.status).toBe(400);
        expect(errorOf(a)).toEqual({ code: "bad_parameter", message });
      });

  test("admin create reads resources as files are read: the fuzzer's 500s are stored normalized, and one bad resource stores none", async () => {
    const create = (resources: unknown[]) =>
      request(auth.port, "h1", "POST", "/v1/admin/create", JSON.stringify({ resources }), adminCred);
    const nospec = await create([{ kind: "bot", version: "v1", metadata: { name: "nospec" }, spec: null }]);
    expect(nospec.status).toBe(200);
    const got = auth.tctl(["get", "bot/nospec", "--format=json"]);
    expect(JSON.parse(got.stdout)[0].metadata.name).toBe("nospec");
    expect(JSON.parse(got.stdout)[0].spec?.roles ?? []).toEqual([]);
    const boolName = await create([
      {
        kind: "token",
        version: "v2",
        metadata: { name: true },
        spec: { roles: ["Bot"], bot_name: "nospec", join_method: "token" },
      },
    ]);
    expect(boolName.status).toBe(200);
    const mixed = await create([
      { kind: "role", version: "v7", metadata: { name: "stored-by-mistake" }, spec: {} },
      { kind: "bot", version: "v1", metadata: { name: "bad-roles" }, spec: { roles: 5 } },
    ]);
    expect(mixed.status).toBe(400);
    expect(auth.tctl(["get", "role/stored-by-mistake"]).code).not.toBe(0);
  });

  test("not JSON at all", async () => {
    for (const t of transports) {
      const a = await request(auth.port, t, "POST", "/v1/join", "{nope");
      expect(a.status).toBe(400);
      expect(errorOf(a).message).toStartWith("request body is not valid JSON");
    }
  });
});

describe("unauthenticated joins are rate-limited per address", () => {
  let limited: TauthHandle;
  beforeAll(async () => {
    limited = await withLimits("join_rate=2,join_burst=5,rate_audit_window=3s");
  });

  test("after the burst: 429 with Retry-After and a JSON error; other addresses, routes and admins unaffected; refusals audited as one line per address per window", async () => {
    const body = JSON.stringify(goodJoin());
    const statuses: number[] = [];
    let last: Answer | undefined;
    for (let i = 0; i < 10; i++) {
      last = await request(limited.port, i % 2 ? "h2" : "h1", "POST", "/v1/join", body);
      statuses.push(last.status);
    }
    // 5 from the burst (wrong token: 403); a refill of 2/s lets at most one more through.
    expect(statuses.slice(0, 5)).toEqual([403, 403, 403, 403, 403]);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(4);
    expect(statuses.every((s) => s === 403 || s === 429)).toBe(true);
    expect(last!.status).toBe(429);
    expect(last!.headers["retry-after"]).toBe("1");
    expect(errorOf(last!)).toEqual({
      code: "limit_exceeded",
      message: "too many join attempts from 127.0.0.1; retry in 1 s",
    });
    // tbot's client sees the wait: RateLimitedError carries Retry-After.
    const client = new ApiClient(limited.addr, { insecure: true });
    let e: unknown;
    let clientAnswered = 0; // a slow machine may have refilled a token meanwhile
    for (let i = 0; i < 3; i++) {
      e = await client.post("/v1/join", goodJoin()).catch((x: unknown) => x);
      if (e instanceof RateLimitedError) break;
      clientAnswered++;
    }
    expect(e).toBeInstanceOf(RateLimitedError);
    expect((e as RateLimitedError).retryAfterMs).toBe(1000);
    expect((e as RateLimitedError).code).toBe("limit_exceeded");
    // Per address: another source address still gets its joins answered (403: wrong token).
    for (const t of transports) {
      const other = await request(limited.port, t, "POST", "/v1/join", body, { localAddress: "127.0.0.2" });
      expect(other.status).toBe(403);
    }
    // Not throttled: ping, and an admin (client certificate) on a non-join route.
    expect((await request(limited.port, "h2", "GET", "/v1/ping")).status).toBe(200);
    const id = parseIdentityFile(readFileSync(limited.identity, "utf8"));
    const st = await request(limited.port, "h1", "POST", "/v1/admin/status", "{}", {
      cert: id.tlsCertPem,
      key: id.privateKeyPem,
    });
    expect(st.status).toBe(200);

    const refused = statuses.filter((s) => s === 429).length + 1; // + the ApiClient's
    // Audited in aggregate: a line per address per 3 s window (the requests above may straddle
    // two windows), with the count; the 127.0.0.2 joins were never refused.
    const rateLines = () =>
      limited.auditLog().filter((e) => e.event === "join.rate_limited") as { refused?: number }[];
    const deadline = Date.now() + 10_000;
    const sum = () => rateLines().reduce((n, e) => n + Number(e.refused), 0);
    while (sum() < refused && Date.now() < deadline) await Bun.sleep(200);
    const lines = rateLines();
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.length).toBeLessThanOrEqual(2);
    for (const l of lines) expect(l).toMatchObject({ remote_ip: "127.0.0.1", window_seconds: 3 });
    expect(sum()).toBe(refused);
    // Refused joins are not audited one by one.
    const failed = limited.auditLog().filter((e) => e.event === "bot.join.failed");
    expect(failed.filter((e) => String(e.remote_addr).startsWith("127.0.0.1:")).length).toBe(
      statuses.filter((s) => s === 403).length + clientAnswered,
    );
    expect(failed.filter((e) => String(e.remote_addr).startsWith("127.0.0.2:")).length).toBe(2);
  });

  test("figures: 2,000 wrong-token joins as fast as one client sends them", async () => {
    await Bun.sleep(3000); // bucket full again
    const body = JSON.stringify(goodJoin());
    const session = http2.connect(`https://127.0.0.1:${limited.port}`, { rejectUnauthorized: false });
    const one = () =>
      new Promise<number>((resolve, reject) => {
        const st = session.request({
          ":method": "POST",
          ":path": "/v1/join",
          "content-type": "application/json",
        });
        let status = 0;
        st.on("response", (h) => {
          status = Number(h[":status"]);
        });
        st.on("data", () => {});
        st.on("end", () => resolve(status));
        st.on("error", reject);
        st.end(body);
      });
    const before = auditSize(limited);
    const wall0 = Date.now();
    const t0 = performance.now();
    const counts: Record<number, number> = {};
    for (let i = 0; i < 2000; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, one));
      for (const s of batch) counts[s] = (counts[s] ?? 0) + 1;
    }
    const secs = (performance.now() - t0) / 1000;
    session.close();
    const grew = auditSize(limited) - before;
    console.log(
      `2,000 wrong-token joins from one address in ${secs.toFixed(1)} s: ${counts[403] ?? 0} answered 403, ${counts[429] ?? 0} refused 429; audit log +${grew} bytes`,
    );
    expect(Object.keys(counts).sort()).toEqual(["403", "429"]);
    // 1,990-odd refusals, audited in at most a line per 3 s window (plus the one in flight).
    await Bun.sleep(3500);
    const agg = limited
      .auditLog()
      .filter((e) => e.event === "join.rate_limited" && Date.parse(String(e.since)) >= wall0);
    expect(agg.length).toBeGreaterThanOrEqual(1);
    expect(agg.length).toBeLessThanOrEqual(Math.ceil(secs / 3) + 1);
    expect(agg.reduce((n, e) => n + Number(e.refused), 0)).toBe(counts[429]!);
    // Burst 5 + 2/s refill over the run.
    expect(counts[403]!).toBeLessThanOrEqual(5 + Math.ceil(secs * 2) + 1);
    expect(grew).toBeLessThan(((counts[403] ?? 0) + 2) * 400);
  });
});

describe("deadlines and the per-address connection cap", () => {
  test("a connection trickling its request headers is closed at the header deadline (2 s)", async () => {
    const r = await Promise.all(Array.from({ length: 20 }, () => trickler(auth.port)));
    for (const x of r) {
      expect(x.handshaken).toBe(true);
      expect(x.closedAfterMs).toBeGreaterThan(1800);
      expect(x.closedAfterMs).toBeLessThan(5000);
    }
  });

  test("a busy connection outlives the deadlines: HTTP/2 and HTTP/1.1 keep-alive, requests every 300 ms for 6 s", async () => {
    // HTTP/2: one session.
    const s = http2.connect(`https://127.0.0.1:${auth.port}`, { rejectUnauthorized: false });
    let closedAt = 0;
    const t0 = performance.now();
    s.on("close", () => {
      closedAt = performance.now() - t0;
    });
    s.on("error", () => {});
    // HTTP/1.1: one keep-alive socket.
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
    const sockets = new Set<unknown>();
    const h1 = () =>
      new Promise<number>((resolve, reject) => {
        const r = https.request(
          { host: "127.0.0.1", port: auth.port, path: "/v1/ping", agent, rejectUnauthorized: false },
          (res) => {
            sockets.add(res.socket);
            res.on("data", () => {});
            res.on("end", () => resolve(res.statusCode ?? 0));
          },
        );
        r.on("error", reject);
        r.end();
      });
    const h2 = () =>
      new Promise<number>((resolve, reject) => {
        const st = s.request({ ":path": "/v1/ping" });
        let status = 0;
        st.on("response", (h) => {
          status = Number(h[":status"]);
        });
        st.on("data", () => {});
        st.on("end", () => resolve(status));
        st.on("error", reject);
      });
    while (performance.now() - t0 < 6000) {
      expect(await h2()).toBe(200);
      expect(await h1()).toBe(200);
      await Bun.sleep(300);
    }
    expect(closedAt).toBe(0);
    expect(sockets.size).toBe(1);
    // Then, idle: closed by the idle timeout (4 s), not held open.
    const idleFrom = performance.now() - t0;
    while (!closedAt && performance.now() - t0 < idleFrom + 8000) await Bun.sleep(100);
    expect(closedAt - idleFrom).toBeGreaterThan(3500);
    expect(closedAt - idleFrom).toBeLessThan(7500);
    agent.destroy();
  }, 30_000);

  test("a connection that never starts TLS is closed at the header deadline", async () => {
    const net = await import("node:net");
    const t0 = performance.now();
    const ms = await new Promise<number>((resolve) => {
      const s = net.connect(auth.port, "127.0.0.1");
      s.on("error", () => {});
      s.on("close", () => resolve(performance.now() - t0));
    });
    expect(ms).toBeGreaterThan(1800);
    expect(ms).toBeLessThan(5000);
  });

  test("after a response, trickling the next request is closed at the idle timeout (4 s)", async () => {
    const t0 = performance.now();
    const got: string[] = [];
    const ms = await new Promise<number>((resolve) => {
      let iv: ReturnType<typeof setInterval> | undefined;
      const s = tls.connect(
        { host: "127.0.0.1", port: auth.port, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] },
        () => {
          s.write("GET /v1/ping HTTP/1.1\r\nHost: x\r\n\r\n");
          setTimeout(() => {
            s.write("POST /v1/join HTTP/1.1\r\nHost: x\r\n");
            iv = setInterval(() => s.write("X-Slow: 1\r\n"), 500);
          }, 300);
        },
      );
      s.on("data", (d: Buffer) => got.push(d.toString()));
      s.on("error", () => {});
      s.on("close", () => {
        clearInterval(iv);
        resolve(performance.now() - t0);
      });
    });
    expect(got.join("")).toStartWith("HTTP/1.1 200");
    expect(ms).toBeGreaterThan(3800);
    expect(ms).toBeLessThan(8000);
  });

  for (const t of transports)
    test(`${t}: a body that stops arriving is a 408 at the body deadline (2 s)`, async () => {
      const t0 = performance.now();
      const a = await new Promise<Answer>((resolve, reject) => {
        if (t === "h2") {
          const s = http2.connect(`https://127.0.0.1:${auth.port}`, { rejectUnauthorized: false });
          s.on("error", () => {});
          const st = s.request({
            ":method": "POST",
            ":path": "/v1/join",
            "content-type": "application/json",
          });
          st.write('{"client_init":');
          let h: Record<string, string | string[] | undefined> = {};
          let text = "";
          st.on("response", (x) => {
            h = x as typeof h;
          });
          st.on("data", (d: Buffer) => {
            text += d;
          });
          st.on("end", () => {
            resolve({ status: Number(h[":status"]), headers: h, text });
            s.destroy();
          });
          st.on("error", reject);
          return;
        }
        const r = https.request(
          {
            host: "127.0.0.1",
            port: auth.port,
            method: "POST",
            path: "/v1/join",
            headers: { "content-type": "application/json", "content-length": "500" },
            agent: false,
            rejectUnauthorized: false,
          },
          (res) => {
            let text = "";
            res.on("data", (d: Buffer) => {
              text += d;
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
          },
        );
        r.on("error", reject);
        r.write('{"client_init":');
      });
      const ms = performance.now() - t0;
      expect(a.status).toBe(408);
      expect(errorOf(a)).toEqual({
        code: "connection_problem",
        message: "request body not received within 2 s",
      });
      expect(ms).toBeGreaterThan(1800);
      expect(ms).toBeLessThan(5000);
    });

  test("2,000 trickling connections from one address: at most 64 at a time get TLS, the rest are closed at accept, all are gone soon after the deadline; then the address is served again", async () => {
    const all = Promise.all(Array.from({ length: 2000 }, () => trickler(auth.port)));
    // While 127.0.0.1 holds its 64, another address is served and 127.0.0.1 is not.
    await Bun.sleep(800);
    expect(
      (await request(auth.port, "h2", "GET", "/v1/ping", undefined, { localAddress: "127.0.0.2" })).status,
    ).toBe(200);
    expect(
      (await request(auth.port, "h1", "GET", "/v1/ping", undefined, { localAddress: "127.0.0.2" })).status,
    ).toBe(200);
    const same = await request(auth.port, "h1", "GET", "/v1/ping").then(
      (a) => `answered ${a.status}`,
      (e: Error) => `refused: ${e.message}`,
    );
    expect(same).toStartWith("refused");
    const r = await all;
    // Refused connections are closed at accept, before TLS: only those under the cap handshake.
    // The cap is on connections open at once: once the first ones are cut at the header
    // deadline, later ones may take their places (on a loaded machine the 2,000 take longer
    // than 2 s to open). Before the client saw any of them closed, at most 64 can have
    // completed a handshake: a place is freed by a close, which reaches this client before
    // the several round trips of a later handshake do.
    const handshaken = r.filter((x) => x.handshaken).length;
    const firstClose = Math.min(...r.filter((x) => x.handshaken).map((x) => x.closedAt));
    const beforeAnyClose = r.filter((x) => x.handshaken && x.handshakeAt < firstClose).length;
    const longest = Math.max(...r.map((x) => x.closedAfterMs));
    console.log(
      `2,000 trickling connections from one address: ${handshaken} completed TLS (${beforeAnyClose} before the first was cut; cap 64 per address at a time), ${2000 - handshaken} closed at accept; the last closed after ${(longest / 1000).toFixed(1)} s (header deadline 2 s)`,
    );
    expect(beforeAnyClose).toBeGreaterThan(0);
    expect(beforeAnyClose).toBeLessThanOrEqual(64);
    // Most were refused at accept, not handshaken later one by one.
    expect(handshaken).toBeLessThan(1000);
    expect(longest).toBeLessThan(8000);
    // Never locked out: once the tricklers are gone the same address is served.
    const a = await request(auth.port, "h2", "GET", "/v1/ping");
    expect(a.status).toBe(200);
  }, 60_000);
});

describe("TLS", () => {
  const sClient = (args: string[]) => {
    const r = Bun.spawnSync(
      ["openssl", "s_client", "-connect", `127.0.0.1:${auth.port}`, "-servername", "localhost", ...args],
      { stdin: new TextEncoder().encode(""), stdout: "pipe", stderr: "pipe", timeout: 10_000 },
    );
    const out = `${r.stdout}${r.stderr}`;
    return { ok: /Cipher is (?!\(NONE\))\S+/.test(out), cipher: /Cipher is (\S+)/.exec(out)?.[1], out };
  };

  test("TLS 1.2 refuses CBC suites (which the server's defaults would offer)", () => {
    for (const c of [
      "ECDHE-ECDSA-AES128-SHA",
      "ECDHE-ECDSA-AES256-SHA",
      "ECDHE-ECDSA-AES128-SHA256",
      "AES128-SHA256",
      "AES128-SHA",
    ]) {
      const r = sClient(["-tls1_2", "-cipher", c]);
      expect({ c, ok: r.ok }).toEqual({ c, ok: false });
      expect(r.out).toMatch(/handshake failure|no cipher|alert/i);
    }
  });

  test("TLS 1.2 with ECDHE AEAD suites and TLS 1.3 work", () => {
    for (const c of [
      "ECDHE-ECDSA-AES128-GCM-SHA256",
      "ECDHE-ECDSA-AES256-GCM-SHA384",
      "ECDHE-ECDSA-CHACHA20-POLY1305",
    ]) {
      const r = sClient(["-tls1_2", "-cipher", c]);
      expect(r.cipher).toBe(c);
    }
    expect(sClient(["-tls1_3"]).cipher).toStartWith("TLS_");
  });

  test("TLS 1.1 is refused", () => {
    expect(sClient(["-tls1_1"]).ok).toBe(false);
  });
});
