// The hand-written codec (src/agent/workload-api/codec.ts) against protobufjs loading
// proto/workload.proto: an independent encoder/decoder of the same messages.

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import protobuf from "protobufjs";
import {
  DecodeError,
  decodeEmpty,
  decodeJwtSvidRequest,
  decodeValidateJwtSvidRequest,
  encodeJwtBundlesResponse,
  encodeJwtSvidResponse,
  encodeValidateJwtSvidResponse,
  encodeX509BundlesResponse,
  encodeX509SvidResponse,
} from "../../../src/agent/workload-api/codec.ts";

const root = protobuf.loadSync(join(import.meta.dir, "../../../src/agent/workload-api/proto/workload.proto"));
const T = (name: string) => root.lookupType(name);
const plain = (name: string, buf: Uint8Array) =>
  T(name).toObject(T(name).decode(buf), { bytes: Array, defaults: true, arrays: true, objects: true });
const b = (...n: number[]) => Uint8Array.from(n);

describe("workload API codec", () => {
  test("requests encoded by protobufjs decode here", () => {
    const jr = T("JWTSVIDRequest")
      .encode({ audience: ["a", "b€"], spiffeId: "spiffe://x/y" })
      .finish();
    expect(decodeJwtSvidRequest(jr)).toEqual({ audience: ["a", "b€"], spiffeId: "spiffe://x/y" });
    const vr = T("ValidateJWTSVIDRequest").encode({ audience: "aud", svid: "t.o.k" }).finish();
    expect(decodeValidateJwtSvidRequest(vr)).toEqual({ audience: "aud", svid: "t.o.k" });
    expect(decodeJwtSvidRequest(new Uint8Array())).toEqual({ audience: [], spiffeId: "" });
    expect(decodeEmpty(new Uint8Array())).toEqual({});
  });

  test("unknown fields are skipped; malformed input is a DecodeError", () => {
    // field 9 varint 150, field 10 fixed64, field 11 fixed32, then audience "x"
    const buf = b(0x48, 0x96, 0x01, 0x51, 1, 2, 3, 4, 5, 6, 7, 8, 0x5d, 1, 2, 3, 4, 0x0a, 1, 0x78);
    expect(decodeJwtSvidRequest(buf).audience).toEqual(["x"]);
    expect(() => decodeJwtSvidRequest(b(0x0a, 5, 0x78))).toThrow(DecodeError); // truncated
    expect(() => decodeJwtSvidRequest(b(0x0a, 2, 0xc3, 0x28))).toThrow(DecodeError); // bad UTF-8
    expect(() => decodeEmpty(b(0x0b))).toThrow(DecodeError); // group wire type
    expect(() => decodeEmpty(b(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01))).toThrow(
      DecodeError,
    );
    expect(() => decodeJwtSvidRequest(b(0x08, 0x01, 0x12, 0x01))).toThrow(DecodeError);
  });

  test("X509SVIDResponse: chain and bundle concatenated, key, hint, CRLs, federated map", () => {
    const big = new Uint8Array(300).fill(7); // a length over one varint byte
    const msg = encodeX509SvidResponse({
      svids: [
        {
          spiffeId: "spiffe://td/a",
          chain: [b(1, 2), b(3)],
          key: b(9),
          bundle: [b(4), big],
          hint: "internal",
        },
        { spiffeId: "spiffe://td/b", chain: [b(5)], key: b(6), bundle: [] },
      ],
      crl: [b(0xee)],
      federatedBundles: new Map([["spiffe://other", [b(8), b(8)]]]),
    });
    const o = plain("X509SVIDResponse", msg);
    expect(o.svids[0].spiffeId).toBe("spiffe://td/a");
    expect(o.svids[0].x509Svid).toEqual([1, 2, 3]);
    expect(o.svids[0].x509SvidKey).toEqual([9]);
    expect(o.svids[0].bundle).toEqual([4, ...big]);
    expect(o.svids[0].hint).toBe("internal");
    expect(o.svids[1].hint).toBe("");
    expect(o.crl).toEqual([[0xee]]);
    expect(o.federatedBundles).toEqual({ "spiffe://other": [8, 8] });
  });

  test("X509BundlesResponse, JWTSVIDResponse, JWTBundlesResponse", () => {
    const xb = plain(
      "X509BundlesResponse",
      encodeX509BundlesResponse({ bundles: new Map([["spiffe://td", [b(1), b(2)]]]) }),
    );
    expect(xb.bundles).toEqual({ "spiffe://td": [1, 2] });
    expect(xb.crl).toEqual([]);
    const js = plain(
      "JWTSVIDResponse",
      encodeJwtSvidResponse([{ spiffeId: "spiffe://td/a", token: "h.p.s", hint: "x" }]),
    );
    expect(js.svids).toEqual([{ spiffeId: "spiffe://td/a", svid: "h.p.s", hint: "x" }]);
    const jb = plain(
      "JWTBundlesResponse",
      encodeJwtBundlesResponse(new Map([["spiffe://td", new TextEncoder().encode('{"keys":[]}')]])),
    );
    expect(Buffer.from(jb.bundles["spiffe://td"]).toString()).toBe('{"keys":[]}');
  });

  test("ValidateJWTSVIDResponse claims as google.protobuf.Struct", () => {
    const claims = {
      sub: "spiffe://td/a",
      aud: ["x", "y"],
      exp: 1700000000,
      frac: 0.5,
      ok: true,
      no: false,
      empty: "",
      nil: null,
      nested: { k: [1, { z: "w" }] },
    };
    const msg = encodeValidateJwtSvidResponse({ spiffeId: "spiffe://td/a", claims });
    const Resp = T("ValidateJWTSVIDResponse");
    const o = Resp.decode(msg) as unknown as { spiffeId: string; claims: protobuf.Message };
    expect(o.spiffeId).toBe("spiffe://td/a");
    // protobufjs's Struct wrapper turns it back into plain JSON.
    const json = root.lookupType("google.protobuf.Struct").toObject(o.claims, { json: true });
    const back = Object.fromEntries(
      Object.entries(json.fields as Record<string, unknown>).map(([k, v]) => [k, fromValue(v)]),
    );
    expect(back).toEqual(claims);
  });
});

function fromValue(v: unknown): unknown {
  const x = v as Record<string, unknown>;
  if ("nullValue" in x) return null;
  if ("numberValue" in x) return x.numberValue;
  if ("stringValue" in x) return x.stringValue;
  if ("boolValue" in x) return x.boolValue;
  if ("listValue" in x) return ((x.listValue as { values?: unknown[] }).values ?? []).map(fromValue);
  if ("structValue" in x) {
    const f = (x.structValue as { fields?: Record<string, unknown> }).fields ?? {};
    return Object.fromEntries(Object.entries(f).map(([k, w]) => [k, fromValue(w)]));
  }
  return undefined;
}
