// Heartbeats: the effective configuration's redaction, what the agent reports of its outputs,
// the message's caps, the server's history, and tctl's staleness rule.

import { describe, expect, test } from "bun:test";
import { defaultCredentialTtlMs, defaultRenewalIntervalMs } from "../../../src/agent/config/defaults.ts";
import { REDACTED, redactConfigObject, redactedConfigYaml } from "../../../src/agent/config/redact.ts";
import type { BotConfig } from "../../../src/agent/config/types.ts";
import { Health } from "../../../src/agent/health.ts";
import { buildHeartbeat, heartbeatOutputs, heartbeatStatics } from "../../../src/agent/heartbeat.ts";
import { appendHeartbeat } from "../../../src/auth/heartbeats.ts";
import type { Heartbeat } from "../../../src/auth/store/types.ts";
import { MAX_HEARTBEATS } from "../../../src/auth/store/types.ts";
import {
  instanceHealth,
  instanceSummary,
  instancesTable,
  instanceText,
} from "../../../src/cli/tctl-bots-format.ts";
import {
  BotHeartbeatSchema,
  HEARTBEAT_MAX_CONFIG,
  HEARTBEAT_MAX_OUTPUTS,
} from "../../../src/protocol/messages.ts";

const SECRETS = ["tok-SECRET-1234", "reg-SECRET-5678", "uri-SECRET-9abc", "uri-PARAM-def0"];

function config(over: Partial<BotConfig> = {}): BotConfig {
  return {
    version: "v2",
    authServer: "auth.example.com:3025",
    onboarding: {
      joinMethod: "token",
      token: SECRETS[0],
      caPins: ["sha256:abcd"],
      boundKeypair: { registrationSecret: SECRETS[1], staticPrivateKeyPath: "/etc/tbot/static.key" },
    },
    storage: { type: "directory", path: "/var/lib/tbot", symlinks: "try-secure", acls: "try", readers: [] },
    services: [
      {
        type: "identity",
        name: "ok",
        destination: { type: "directory", path: "/out/ok", symlinks: "try-secure", acls: "try", readers: [] },
        exec: ["/bin/true"],
      },
    ],
    credentialTtlMs: defaultCredentialTtlMs,
    renewalIntervalMs: 60_000,
    oneshot: false,
    debug: false,
    insecure: false,
    fips: false,
    ...over,
  };
}

describe("config redaction", () => {
  test("no known secret field survives; paths and the rest stay", () => {
    const y = redactedConfigYaml(config(), HEARTBEAT_MAX_CONFIG);
    for (const s of SECRETS) expect(y).not.toContain(s);
    expect(y).toContain(`token: ${REDACTED}`);
    expect(y).toContain(`registration_secret: ${REDACTED}`);
    expect(y).toContain("/etc/tbot/static.key");
    expect(y).toContain("join_method: token");
    expect(y).toContain("/out/ok");
    expect(y).toContain("renewal_interval: 1m0s");
    expect(y).toContain("sha256:abcd");
  });

  test("the join URI's token and secret are removed, its host kept", () => {
    const c = config({
      authServer: undefined,
      joinUri: `tbot+auth+bound-keypair://${SECRETS[2]}:${SECRETS[3]}@auth.example.com:3025`,
      onboarding: { joinMethod: "", caPins: [] },
    });
    const y = redactedConfigYaml(c, HEARTBEAT_MAX_CONFIG);
    for (const s of SECRETS) expect(y).not.toContain(s);
    expect(y).toContain("auth.example.com:3025");
  });

  test("secret-named fields anywhere (an output's own) are removed; *_path and an absolute token path stay", () => {
    const r = redactConfigObject({
      onboarding: { token: "/var/run/tbot/token" },
      services: [
        {
          type: "x",
          client_secret: "s1",
          password: "s2",
          private_key: "s3",
          static_key: "s4",
          key_path: "/k",
        },
      ],
    }) as { onboarding: { token: string }; services: Record<string, string>[] };
    expect(r.onboarding.token).toBe("/var/run/tbot/token");
    expect(r.services[0]).toEqual({
      type: "x",
      client_secret: REDACTED,
      password: REDACTED,
      private_key: REDACTED,
      static_key: REDACTED,
      key_path: "/k",
    });
  });

  test("a configuration over the cap is cut, and marked", () => {
    const y = redactedConfigYaml(config({ renewalIntervalMs: defaultRenewalIntervalMs }), 120);
    expect(y.length).toBeLessThanOrEqual(120);
    expect(y).toContain("cut to fit");
  });
});

describe("what the agent sends", () => {
  test("outputs' health, reason and expiry; a valid message", () => {
    const h = new Health();
    for (const n of ["ok", "broken", "new"]) h.register(n);
    h.set("ok", "healthy");
    h.set("broken", "unhealthy", "exec /bin/false exited with status 1");
    h.outputExpiresAt.set("ok", Date.parse("2030-01-01T00:00:00Z"));
    const outs = [
      { name: "ok", type: "identity" },
      { name: "broken", type: "identity" },
      { name: "new", type: "ssh_host" },
    ];
    expect(heartbeatOutputs(h, outs)).toEqual([
      { name: "ok", type: "identity", healthy: true, expires: "2030-01-01T00:00:00.000Z" },
      { name: "broken", type: "identity", healthy: false, reason: "exec /bin/false exited with status 1" },
      { name: "new", type: "ssh_host", healthy: false, reason: "initializing" },
    ]);
    const hb = buildHeartbeat(heartbeatStatics(config()), h, outs, true, 1500);
    expect(hb.join_method).toBe("token");
    expect(hb.renewal_interval_seconds).toBe(60);
    expect(hb.is_startup).toBe(true);
    expect(BotHeartbeatSchema.parse(JSON.parse(JSON.stringify(hb)), "")).toEqual(hb);
    expect(JSON.stringify(hb)).not.toContain(SECRETS[0]);
  });

  test("the agent keeps to the caps: at most HEARTBEAT_MAX_OUTPUTS outputs", () => {
    const h = new Health();
    const many = Array.from({ length: HEARTBEAT_MAX_OUTPUTS + 10 }, (_, i) => ({
      name: `o${i}`,
      type: "identity",
    }));
    expect(heartbeatOutputs(h, many)).toHaveLength(HEARTBEAT_MAX_OUTPUTS);
  });
});

describe("schema caps", () => {
  const base = {
    is_startup: false,
    hostname: "h",
    version: "1",
    uptime_seconds: 1,
    one_shot: false,
    architecture: "x64",
    os: "linux",
  };
  const out = { name: "o", type: "identity", healthy: true };
  test("an older agent's heartbeat (no outputs or config) is accepted", () => {
    expect(BotHeartbeatSchema.parse(base, "")).toEqual(base);
  });
  test("too many outputs, a config over 16 KiB, a long reason, a bad expiry are refused", () => {
    const outputs = Array.from({ length: HEARTBEAT_MAX_OUTPUTS + 1 }, () => out);
    expect(() => BotHeartbeatSchema.parse({ ...base, outputs }, "")).toThrow(/at most/);
    expect(() =>
      BotHeartbeatSchema.parse({ ...base, config: "x".repeat(HEARTBEAT_MAX_CONFIG + 1) }, ""),
    ).toThrow(/at most/);
    expect(() =>
      BotHeartbeatSchema.parse({ ...base, outputs: [{ ...out, reason: "r".repeat(257) }] }, ""),
    ).toThrow();
    expect(() => BotHeartbeatSchema.parse({ ...base, outputs: [{ ...out, expires: "soon" }] }, "")).toThrow(
      /RFC 3339/,
    );
    expect(
      BotHeartbeatSchema.parse({ ...base, outputs: [out], config: "x".repeat(HEARTBEAT_MAX_CONFIG) }, ""),
    ).toBeTruthy();
  });
});

const hb = (at: string, extra: Partial<Heartbeat> = {}): Heartbeat => ({
  is_startup: false,
  hostname: "h",
  version: "1.2.3",
  uptime_seconds: 5,
  one_shot: false,
  architecture: "x64",
  os: "linux",
  recorded_at: at,
  renewal_interval_seconds: 60,
  ...extra,
});

describe("server history", () => {
  test("keeps the last MAX_HEARTBEATS, the configuration on the newest only", () => {
    let hist: Heartbeat[] = [];
    for (let i = 0; i < MAX_HEARTBEATS + 3; i++)
      hist = appendHeartbeat(hist, hb(new Date(1_000 * i).toISOString(), { config: `c${i}` }));
    expect(hist).toHaveLength(MAX_HEARTBEATS);
    expect(hist.filter((h) => h.config !== undefined).map((h) => h.config)).toEqual([
      `c${MAX_HEARTBEATS + 2}`,
    ]);
  });
});

describe("staleness and health", () => {
  const inst = (hbs: Heartbeat[]) => ({
    spec: { bot_name: "b", instance_id: "i-1" },
    status: { generation: 1, latest_heartbeats: hbs },
  });
  const t0 = Date.parse("2026-01-01T00:00:00Z");
  const at = new Date(t0).toISOString();
  test("stale after twice the renewal interval without a heartbeat, by the given clock", () => {
    const i = inst([hb(at, { outputs: [{ name: "o", type: "identity", healthy: true }] })]);
    expect(instanceHealth(i, t0 + 120_000)).toBe("healthy");
    expect(instanceHealth(i, t0 + 120_001)).toBe("stale");
  });
  test("N failing; unknown before any heartbeat; a one-shot instance is never stale", () => {
    const outs = [
      { name: "a", type: "identity", healthy: false, reason: "x" },
      { name: "b", type: "identity", healthy: false },
      { name: "c", type: "identity", healthy: true },
    ];
    expect(instanceHealth(inst([hb(at, { outputs: outs })]), t0)).toBe("2 failing");
    expect(instanceHealth(inst([]), t0)).toBe("unknown");
    expect(instanceHealth(inst([hb(at, { one_shot: true })]), t0 + 10 * 86400_000)).toBe("healthy");
    expect(instanceHealth(inst([hb(at, { renewal_interval_seconds: undefined })]), t0 + 86400_000)).toBe(
      "healthy",
    );
  });
  test("ls has a Health column; show has outputs, expiry and the config", () => {
    const i = inst([
      hb(at, {
        outputs: [
          { name: "good", type: "identity", healthy: true, expires: "2026-01-01T01:00:00.000Z" },
          { name: "bad", type: "identity", healthy: false, reason: "exec failed" },
        ],
        config: "version: v2\nonboarding:\n  token: REDACTED\n",
      }),
    ]);
    const table = instancesTable([i], t0 + 1000);
    expect(table.split("\n")[0]).toContain("Health");
    expect(table).toContain("1 failing");
    expect(instancesTable([i], t0 + 121_000)).toContain("stale");
    const text = instanceText(i, t0);
    expect(text).toMatch(/good\s+identity\s+healthy\s+2026-01-01T01:00:00.000Z/);
    expect(text).toMatch(/bad\s+identity\s+unhealthy\s+exec failed/);
    expect(text).toContain("  token: REDACTED");
    const s = instanceSummary(i, t0);
    expect(s.health).toBe("1 failing");
    expect(s.outputs).toHaveLength(2);
    expect(s.config).toContain("version: v2");
  });
});
