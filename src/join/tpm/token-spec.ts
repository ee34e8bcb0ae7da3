// spec.tpm (reference §6.1): which TPMs may join, by EK public key hash and/or EK
// certificate serial, optionally requiring an EK certificate that chains to given CAs.

import type { Cursor } from "../../resources/cursor.ts";
import type { TpmSpec } from "../../resources/types.ts";
import {
  ekPublicHashProblem,
  ekSerialProblem,
  pemCertificatesProblem,
} from "../../resources/value-formats.ts";

type TpmRule = TpmSpec["allow"][number];

export function readTpm(node: Cursor, joinMethodNode: Cursor): TpmSpec {
  if (node.missing)
    joinMethodNode.fail(
      'join_method "tpm" needs a spec.tpm block with at least one allow rule (ek_public_hash or ek_certificate_serial)',
    );
  const block = node.map().strict(["allow", "ekcert_allowed_cas"]);
  const allowNode = block.get("allow");
  const rules = allowNode.missing ? [] : allowNode.list().map(readRule);
  if (rules.length === 0)
    (allowNode.missing ? node : allowNode).fail(
      "spec.tpm.allow needs at least one rule with ek_public_hash or ek_certificate_serial " +
        '(run "tbot tpm identify" on the machine to get them)',
    );
  const spec: TpmSpec = { allow: rules };
  if (block.has("ekcert_allowed_cas")) {
    const cas = block.get("ekcert_allowed_cas").list();
    spec.ekcert_allowed_cas = cas.map((ca) => {
      const pem = ca.str();
      const problem = pemCertificatesProblem(pem);
      if (problem) ca.fail(`${ca.path} ${problem}`);
      return pem;
    });
  }
  return spec;
}

function readRule(node: Cursor): TpmRule {
  const fields = node.map().strict(["description", "ek_public_hash", "ek_certificate_serial"]);
  const rule: TpmRule = {};
  const description = fields.optStr("description");
  if (description) rule.description = description;
  const hash = fields.optStr("ek_public_hash");
  if (hash) {
    const problem = ekPublicHashProblem(hash);
    if (problem) fields.get("ek_public_hash").fail(`${node.path}.ek_public_hash ${problem}`);
    rule.ek_public_hash = hash;
  }
  const serial = fields.optStr("ek_certificate_serial");
  if (serial) {
    const problem = ekSerialProblem(serial);
    if (problem) fields.get("ek_certificate_serial").fail(`${node.path}.ek_certificate_serial ${problem}`);
    rule.ek_certificate_serial = serial;
  }
  if (!hash && !serial)
    node.fail(
      `${node.path} needs ek_public_hash or ek_certificate_serial (or both); a rule with neither would match any TPM`,
    );
  return rule;
}
