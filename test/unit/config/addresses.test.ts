// host:port parsing, join URIs and destination URIs: the small parsers flags and YAML share.

import { describe, expect, test } from "bun:test";
import { normalizeAddress, parseDestinationUri, parseJoinUri } from "../../../src/agent/config/index.ts";

describe("normalizeAddress", () => {
  test("valid forms, with default ports", () => {
    expect(normalizeAddress("teleport.example.com", { defaultPort: 443 })).toBe("teleport.example.com:443");
    expect(normalizeAddress(" auth:3025 ")).toBe("auth:3025");
    expect(normalizeAddress("10.1.2.3:443")).toBe("10.1.2.3:443");
    expect(normalizeAddress("[::1]", { defaultPort: 3025 })).toBe("[::1]:3025");
    expect(normalizeAddress("[fe80::1%eth0]:22")).toBe("[fe80::1%eth0]:22");
    expect(normalizeAddress("tauth_1:3025")).toBe("tauth_1:3025");
    expect(normalizeAddress("localhost:0", { allowPortZero: true })).toBe("localhost:0");
  });

  test("invalid forms say why", () => {
    const err = (s: string) => (normalizeAddress(s, { defaultPort: 443 }) as { error: string }).error;
    expect(err("")).toContain("empty");
    expect(err("300.1.1.1:443")).toContain("not a valid IPv4 address");
    expect(err("-bad.example.com:443")).toContain("not a valid host name");
    expect(err("host:65536")).toContain("out of range");
    expect(err("host:")).toContain("is not a port number");
    expect(err("[::1:443")).toContain('unclosed "["');
    expect(err("[zz]:443")).toContain("not a valid IPv6 address");
    expect(err("host/path:443")).toContain("is not an address");
    expect(err("tcp://host:443")).toContain("URL scheme");
  });
});

describe("parseJoinUri", () => {
  test("the reference's example", () => {
    expect(parseJoinUri("tbot+proxy+bound-keypair://my-bot:3f0c00e1@teleport.example.com:443")).toEqual({
      addressKind: "proxy",
      address: "teleport.example.com:443",
      joinMethod: "bound_keypair",
      token: "my-bot",
      parameter: "3f0c00e1",
    });
  });

  test("no parameter, default port, trailing slash", () => {
    expect(parseJoinUri("tbot+auth+token://tok@auth.example.com/")).toEqual({
      addressKind: "auth",
      address: "auth.example.com:3025",
      joinMethod: "token",
      token: "tok",
    });
  });

  test("errors never repeat the secret", () => {
    for (const [uri, says] of [
      ["tbot+relay+token://t:s3cret@h:443", 'the address kind must be "proxy" or "auth"'],
      [
        "tbot+proxy+azure-devops://t:s3cret@h:443",
        'join method "azure_devops" is not supported by this build',
      ],
      ["tbot+proxy+token://:s3cret@h:443", "the token name is missing"],
      ["tbot+proxy+token://t:s3cret@h:99999", "out of range"],
      ["tbot+proxy+token://t:s%zzcret@h:443", "bad percent-encoding"],
      ["proxy+token://t:s3cret@h:443", "expected tbot+<proxy|auth>"],
    ] as const) {
      const r = parseJoinUri(uri);
      expect(typeof r).toBe("string");
      expect(r as string).toContain(says);
      expect(r as string).not.toContain("s3cret");
    }
  });
});

describe("parseDestinationUri", () => {
  test("file URIs, bare paths and memory", () => {
    expect(parseDestinationUri("file:///var/lib/bot", "/cwd")).toMatchObject({
      type: "directory",
      path: "/var/lib/bot",
    });
    expect(parseDestinationUri("file://localhost/a%20b", "/cwd")).toMatchObject({ path: "/a b" });
    expect(parseDestinationUri("./data", "/cwd")).toMatchObject({ type: "directory", path: "/cwd/data" });
    expect(parseDestinationUri("memory://", "/cwd")).toEqual({ type: "memory" });
  });

  test("the reference's storage URI errors", () => {
    expect(parseDestinationUri("file://otherhost/data", "/")).toContain(
      "file-backed data storage must be on the local host",
    );
    expect(parseDestinationUri("memory://host/x", "/")).toContain(
      "memory-backed data storage should not have host or path specified",
    );
    expect(parseDestinationUri("s3://bucket/x", "/")).toContain("unrecognized data storage scheme");
    expect(parseDestinationUri("kubernetes-secret:///bot", "/")).toContain("not supported yet");
    expect(parseDestinationUri("file:///", "/")).toContain("has no directory path");
  });
});
