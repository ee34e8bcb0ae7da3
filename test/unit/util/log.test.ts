// The logger (src/util/log.ts): JSON lines with timestamp, level, component, message and the
// attributes; text lines as the reference prints them; secrets redacted in both.

import { afterEach, expect, test } from "bun:test";
import { UserError } from "../../../src/util/errors.ts";
import {
  captureLogs,
  configureLogging,
  formatLine,
  logger,
  redactText,
  reportErrorJson,
} from "../../../src/util/log.ts";

const KEY =
  "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";

afterEach(() => configureLogging({ format: "text" }));

test("JSON: one object per line with the four fields first, then the attributes", () => {
  const line = formatLine("json", "2026-01-02T03:04:05.000Z", "INFO", "TBOT", "Generated output", {
    service: "web",
    attempt: 2,
    next: undefined,
    nested: { a: 1 },
  });
  expect(line.endsWith("\n")).toBe(true);
  expect(line.trimEnd()).not.toContain("\n");
  expect(JSON.parse(line)).toEqual({
    timestamp: "2026-01-02T03:04:05.000Z",
    level: "INFO",
    component: "TBOT",
    message: "Generated output",
    service: "web",
    attempt: 2,
    nested: { a: 1 },
  });
  expect(Object.keys(JSON.parse(line)).slice(0, 4)).toEqual(["timestamp", "level", "component", "message"]);
});

test("JSON: an attribute never overrides the fixed fields; errors become their message", () => {
  const o = JSON.parse(
    formatLine("json", "t", "WARN", "TBOT", "m", { message: "other", level: "x", error: new Error("boom") }),
  );
  expect(o).toEqual({
    timestamp: "t",
    level: "WARN",
    component: "TBOT",
    message: "m",
    attr_message: "other",
    attr_level: "x",
    error: "boom",
  });
});

test("text: the reference's shape, key:value attributes", () => {
  expect(formatLine("text", "T", "INFO", "TBOT", "Generated output", { service: "web", n: 3 })).toBe(
    "T INFO  [TBOT] Generated output service:web n:3\n",
  );
});

test("secrets: secret-named attributes redacted, private keys cut out of messages and values", () => {
  const attrs = {
    token: "a1b2c3d4e5f6",
    registration_secret: "s3cr3t",
    private_key: "x",
    key: "y",
    password: "p",
    token_path: "/etc/tbot/token",
    join_method: "token",
    credential_ttl: "1h",
    error: `bad key ${KEY}`,
    body: { token: "zzz", inner: { secret: "qqq" }, keep: "ok" },
  };
  for (const fmt of ["json", "text"] as const) {
    const line = formatLine(fmt, "t", "ERROR", "TBOT", `failed with ${KEY}`, attrs);
    for (const s of ["a1b2c3d4e5f6", "s3cr3t", "MIGHAgEAMBMG", "PRIVATE KEY", "zzz", "qqq"])
      expect(line).not.toContain(s);
    expect(line).toContain("/etc/tbot/token");
    expect(line).toContain("[redacted]");
    expect(line).toContain("[redacted private key]");
    expect(line).toContain("ok");
  }
  const o = JSON.parse(formatLine("json", "t", "INFO", "TBOT", "m", attrs));
  expect(o.token).toBe("[redacted]");
  expect(o.join_method).toBe("token");
  expect(o.credential_ttl).toBe("1h");
  expect(o.body).toEqual({ token: "[redacted]", inner: { secret: "[redacted]" }, keep: "ok" });
  expect(redactText("no key here")).toBe("no key here");
});

test("logger: levels, and --log-format json through configureLogging", () => {
  const lines: string[] = [];
  const restore = captureLogs((l) => lines.push(l));
  try {
    configureLogging({ format: "json" });
    const log = logger("TBOT:IDENTITY");
    log.debug("hidden");
    log.info("Renewed bot identity", { identity: "bot-a" });
    configureLogging({ debug: true, format: "json" });
    log.debug("shown");
  } finally {
    restore();
  }
  expect(lines.map((l) => JSON.parse(l).message)).toEqual(["Renewed bot identity", "shown"]);
  expect(JSON.parse(lines[0]!)).toMatchObject({
    level: "INFO",
    component: "TBOT:IDENTITY",
    identity: "bot-a",
  });
  expect(JSON.parse(lines[1]!).level).toBe("DEBUG");
});

test("--log-format json: the error a command ends with is a JSON line too, with its exit code", () => {
  const lines: string[] = [];
  const restore = captureLogs((l) => lines.push(l));
  try {
    configureLogging({ format: "json" });
    expect(reportErrorJson(new UserError("no such token", "bad_parameter"), false)).toBe(1);
    expect(reportErrorJson(new Error(`boom ${KEY}`), true)).toBe(1);
  } finally {
    restore();
  }
  const [a, b] = lines.map((l) => JSON.parse(l));
  expect(a).toMatchObject({ level: "ERROR", component: "TBOT", message: "no such token", exit: true });
  expect(a.stack).toBeUndefined();
  expect(b.message).toBe("boom [redacted private key]\n");
  expect(typeof b.stack).toBe("string");
});
