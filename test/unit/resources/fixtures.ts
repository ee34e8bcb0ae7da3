// Shared inputs for the resource tests: real keys and CA certificates read from the
// conformance vectors (test/vectors) at test time, and the reference's example documents.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { vectorsDir } from "../vectors.ts";

const sshkey = (name: string) => readFileSync(join(vectorsDir("openssh"), "sshkey", name), "utf8").trim();

export const ed25519PublicKey = sshkey("ed25519_1.pub");
export const ecdsaP256PublicKey = sshkey("ecdsa_1.pub");
export const ecdsaP521PublicKey = sshkey("ecdsa_2.pub");
export const rsa2048PublicKey = sshkey("rsa_2.pub");
export const ed25519CertificateLine = sshkey("ed25519_1-cert.pub");
export const manufacturerCaPem = readFileSync(
  join(vectorsDir("tpm-manufacturer-cas"), "IFX1.pem"),
  "utf8",
).trim();

/** Indents a multi-line string for a YAML block scalar. */
export function indent(text: string, spaces: number): string {
  return text
    .split("\n")
    .map((line) => " ".repeat(spaces) + line)
    .join("\n");
}

/** Reference §9.1, verbatim. */
export const referenceBotYaml = `kind: bot
version: v1
metadata:
  name: ci-runner            # bot name; user & role become "bot-ci-runner"
  labels: {}                 # optional
spec:
  roles: [access, db-readonly]   # roles the bot may impersonate (must exist)
  traits:                        # bot user traits (e.g. logins, db_users)
    - name: logins
      values: [root, ubuntu]
  max_session_ttl: 12h           # optional; caps output/identity TTL; ≤ 168h
  # delegation: ... (newest)
status:                          # read-only, set by server
  user_name: bot-ci-runner
  role_name: bot-ci-runner
`;

/** Reference §5.1, verbatim except for a real key in place of "ssh-ed25519 AAAA...". */
export const referenceBoundKeypairTokenYaml = (publicKeyLine: string | null) => `kind: token
version: v2
metadata:
  name: my-bot            # NOT secret for this method
spec:
  roles: [Bot]
  bot_name: my-bot
  join_method: bound_keypair
  bound_keypair:
    onboarding:
${publicKeyLine === null ? "" : `      initial_public_key: "${publicKeyLine}"   # optional\n`}      must_register_before: "2025-12-01T00:00:00Z" # optional RFC3339 deadline
    recovery:
      mode: standard       # standard | relaxed | insecure   (default standard)
      limit: 1             # max number of joins that consume a recovery
    rotate_after: "2025-10-01T00:00:00Z"            # optional; request a keypair rotation
`;

/** The seed form of a TPM token (reference §6.1), with a real manufacturer CA. */
export const tpmTokenYaml = () => `kind: token
version: v2
metadata:
  name: my-bot-token
spec:
  roles: [Bot]
  join_method: tpm
  bot_name: my-bot
  tpm:
    ekcert_allowed_cas:
      - |
${indent(manufacturerCaPem, 8)}
    allow:
      - description: "server-01"
        ek_public_hash: "d4b45864d9d6fabfc568d74f26c35ababde2105337d7af9a6605e1c56c891aa6"
      - description: "server-02"
        ek_certificate_serial: "73:df:dc:bd:af:ef:8a:d8:15:2e:96:71:7a:3e:7f:a4"
`;

export const roleYaml = `kind: role
version: v7
metadata:
  name: dev-ssh
  description: SSH to dev machines
spec:
  allow:
    logins: ["{{internal.logins}}", ubuntu]
    node_labels:
      env: dev
      team: [infra, platform]
    rules:
      - resources: [event]
        verbs: [list, read]
  deny:
    logins: [root]
  options:
    max_session_ttl: 8h
    forward_agent: true
`;
