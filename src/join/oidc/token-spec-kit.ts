// Reading the parts the github, gitlab and kubernetes token blocks share, for `tctl create`
// (and the API): allow rules checked field by field against the method's table, and a pinned
// `static_jwks`. Errors point at the node (file:line:col for YAML), so a bad rule or key set
// fails when the token is written, not at the first join.

import { createPublicKey } from "node:crypto";
import type { Cursor } from "../../resources/cursor.ts";
import { UserError } from "../../util/errors.ts";
import type { AllowRule, AllowRuleSpec } from "./allow-rules.ts";
import { validateAllowRules } from "./allow-rules.ts";
import { parseJwks } from "./jwks.ts";

/** `<block>.allow`: at least one rule; each a mapping of the method's fields. */
export function readAllowRules(block: Cursor, allowNode: Cursor, spec: AllowRuleSpec): AllowRule[] {
  const known = spec.fields.map((f) => f.rule);
  const need = spec.requireOneOf ?? [];
  if (allowNode.missing)
    block.fail(
      `join_method "${spec.method}" needs ${block.path}.allow with at least one rule (each setting ${need.join(", ")})`,
    );
  const rules = allowNode.list().map((node) => {
    const fields = node.map().strict(known);
    const rule: Record<string, unknown> = {};
    for (const f of spec.fields) {
      if (!fields.has(f.rule)) continue;
      const v = fields.get(f.rule);
      if (v.missing) continue;
      if (f.match === "bool") {
        const b = v.toJS();
        if (typeof b !== "boolean") v.fail(`${v.path} must be true or false`);
        rule[f.rule] = b;
      } else {
        const s = v.str();
        // Teleport exports unset strings as "": the same as leaving the field out.
        if (s !== "") rule[f.rule] = s;
      }
    }
    if (Object.keys(rule).length === 0)
      node.fail(
        `${node.path} sets no field; a rule must constrain the caller (set one of ${need.join(", ")})`,
      );
    if (need.length && !need.some((k) => k in rule))
      node.fail(
        `${node.path} must set at least one of ${need.join(", ")}: the other fields alone would let any ${spec.method} caller match`,
      );
    return rule;
  });
  if (rules.length === 0) allowNode.fail(`${allowNode.path} must list at least one rule`);
  guard(allowNode, () => validateAllowRules(spec, rules));
  return rules;
}

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/**
 * A JWKS pinned in the token, as a JSON string: public signature keys only. A key with private
 * members is refused outright (the key set is public by nature; a private key here is a
 * mistake to report, not to drop silently), and at least one usable key must remain. Returns
 * the JSON text as kept.
 */
export function readStaticJwks(node: Cursor): string {
  // Leading `#` lines are skipped: the reference's kubernetes example opens its `jwks: |` block
  // scalar with one, which YAML keeps as text; no JWKS starts with `#`.
  const text = node
    .str()
    .replace(/^(\s*#[^\n]*\n)+/, "")
    .trim();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    node.fail(`${node.path} is not valid JSON (expected a JWKS: {"keys": [...]})`);
  }
  const keys = (parsed as { keys?: unknown })?.keys;
  if (Array.isArray(keys))
    for (const [i, k] of keys.entries())
      if (k && typeof k === "object" && PRIVATE_MEMBERS.some((m) => m in k))
        node.fail(
          `${node.path} key ${i} holds private key material ("${PRIVATE_MEMBERS.find((m) => m in k)}"); publish only the public keys`,
        );
  const usable = guard(node, () => parseJwks(parsed, node.path));
  if (usable.length === 0)
    node.fail(`${node.path} has no usable public signature key (RSA, EC P-256/384/521 or Ed25519)`);
  // Shape is not enough: a key copied with placeholders ("n": "…") would pass it and only fail
  // at the first join (Bun's createPublicKey even accepts it, as a 0-bit modulus).
  for (const key of usable) {
    const problem = publicKeyProblem(key as Record<string, unknown>);
    if (problem) {
      const name = key.kid ? `key "${String(key.kid).slice(0, 64)}"` : `a ${key.kty} key`;
      node.fail(`${node.path} ${name} is not a valid ${key.kty} public key: ${problem}`);
    }
  }
  return text;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const EC_COORDINATE_BYTES: Record<string, number> = { "P-256": 32, "P-384": 48, "P-521": 66 };

/** Why a JWK's numbers are not a usable public key (sizes as the algorithms require), if they are not. */
function publicKeyProblem(jwk: Record<string, unknown>): string | undefined {
  const members = jwk.kty === "RSA" ? ["n", "e"] : jwk.kty === "EC" ? ["x", "y"] : ["x"];
  for (const m of members) {
    const v = jwk[m];
    if (typeof v !== "string" || !BASE64URL.test(v))
      return `"${m}" is not base64url (copy the numbers whole)`;
  }
  const bytes = (m: string) => Buffer.from(jwk[m] as string, "base64url").length;
  if (jwk.kty === "RSA" && bytes("n") * 8 < 2048)
    return `its modulus has ${bytes("n") * 8} bits; at least 2048 are needed`;
  if (jwk.kty === "EC") {
    const size = EC_COORDINATE_BYTES[String(jwk.crv)];
    if (size === undefined || bytes("x") !== size || bytes("y") !== size)
      return `its coordinates do not have the ${String(jwk.crv)} size`;
  }
  if (jwk.kty === "OKP" && bytes("x") !== 32) return `"x" is not a 32-byte Ed25519 key`;
  try {
    createPublicKey({ key: jwk as never, format: "jwk" }); // jwk: checked members above
  } catch (e) {
    return (e as Error).message.split("\n")[0];
  }
  return undefined;
}

/** Runs a core check, re-raising its message at the node (with its position). */
export function guard<T>(node: Cursor, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof UserError) node.fail(e.message);
    throw e;
  }
}

/** An https issuer URL (kubernetes oidc, the github override): no http, no fragments. */
export function issuerUrlProblem(value: string): string | undefined {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return "must be an https URL such as https://oidc.example.com/id/abc";
  }
  if (u.protocol !== "https:")
    return `must use https (got ${u.protocol.replace(":", "")}): keys fetched over plain HTTP prove nothing`;
  if (u.search || u.hash || u.username || u.password) return "must not carry a query, fragment or user info";
  return undefined;
}
