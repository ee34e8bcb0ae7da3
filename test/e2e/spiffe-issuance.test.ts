// SPIFFE SVID issuance on the compiled binary (issue Part 10 point 1, the server side):
// `kind: workload_identity` + a role granting it by workload_identity_labels + a bot, all with
// tctl; a token-joined bot asks tauth for an X.509 SVID (verified by `openssl verify` against
// `tctl auth export --type=spiffe`, its subjectAltName exactly the templated spiffe:// URI) and
// a JWT SVID (verified with jose against the JWKS tauth publishes, right sub and aud); and the
// refusals, one line each. (The bot's requests use the product's protocol client, standing in
// for the tbot workload-identity-* outputs and the Workload API.)

import { beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import { freshKey } from "../../src/agent/identity/bot-identity.ts";
import type { WorkloadJwtResponse, WorkloadX509Response } from "../../src/protocol/messages.ts";
import { paths } from "../../src/protocol/messages.ts";
import { fileScope, tauthAndWorkDir, tctlOk, yamlDocs } from "../harness/extra.ts";
import { clusterApi, joinedBot, type RawIdentity, refusal } from "../harness/identity-api.ts";
import { cleanupAfterFile, run } from "../harness/proc.ts";
import { STAGING_WORKLOAD_IDENTITY, SVID_ISSUER_ROLE } from "../harness/spiffe.ts";
import type { TauthHandle } from "../harness/tauth.ts";

cleanupAfterFile();
const scope = fileScope();

const RESOURCES = yamlDocs(
  SVID_ISSUER_ROLE,
  `kind: workload_identity
version: v1
metadata:
  name: by-uid
  labels: {env: prod}
spec:
  rules:
    allow:
      - conditions:
          - attribute: join.meta.join_method
            eq: {value: token}
  spiffe:
    id: /bots/{{ user.bot_name }}/uid/{{ workload.unix.uid }}
    hint: per-uid
    x509:
      maximum_ttl: 1h
    jwt:
      extra_claims: {bot: "{{ user.bot_name }}"}
`,
  STAGING_WORKLOAD_IDENTITY,
);

let auth: TauthHandle;
let work: string;
let bot: RawIdentity;

beforeAll(async () => {
  ({ auth, work } = await tauthAndWorkDir(scope, {
    prefix: "spiffe-",
    resources: RESOURCES,
    tauth: { clusterName: "Spiffe.Example" },
  }));
  bot = await joinedBot(auth, "svcbot", "svid-issuer");
}, 60_000);

describe("kind workload_identity with tctl", () => {
  test("get (text, json), rm, and an invalid SPIFFE path refused at create", () => {
    const text = tctlOk(auth, ["get", "workload_identities", "--format=text"]);
    expect(text).toMatch(
      /by-uid\s+\/bots\/\{\{ user\.bot_name \}\}\/uid\/\{\{ workload\.unix\.uid \}\}\s+per-uid\s+env=prod/,
    );
    const [one] = JSON.parse(tctlOk(auth, ["get", "workload_identity/by-uid", "--format=json"]));
    expect(one.spec.spiffe.x509).toEqual({ maximum_ttl: "1h" });
    writeFileSync(
      join(work, "bad.yaml"),
      'kind: workload_identity\nversion: v1\nmetadata: {name: bad}\nspec:\n  spiffe: {id: "/a/../b"}\n',
    );
    const bad = auth.tctl(["create", join(work, "bad.yaml")]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe(
      `ERROR: ${join(work, "bad.yaml")}:5:16: spec.spiffe.id: SPIFFE ID path "/a/../b" has a ".." segment`,
    );
    writeFileSync(
      join(work, "tmp.yaml"),
      "kind: workload_identity\nversion: v1\nmetadata: {name: tmp}\nspec: {spiffe: {id: /tmp}}\n",
    );
    tctlOk(auth, ["create", join(work, "tmp.yaml")]);
    expect(tctlOk(auth, ["rm", "workload_identity/tmp"])).toContain(
      'workload_identity "tmp" has been deleted',
    );
    expect(auth.tctl(["get", "workload_identity/tmp"]).stderr).toContain('workload_identity "tmp" not found');
  });
});

describe("X.509 SVID", () => {
  test("openssl verify -CAfile <tctl auth export --type=spiffe> OK; SAN exactly the templated URI", async () => {
    const key = await freshKey();
    const r = await clusterApi(auth, bot).post<WorkloadX509Response>(paths.workloadX509, {
      selector: { name: "by-uid" },
      public_key: key.publicKeys.tls_public_key,
      ttl_seconds: 600,
      workload: { unix: { uid: 1000, gid: 1000, pid: 4242 } },
    });
    expect(r.trust_domain).toBe("spiffe.example");
    const svid = r.svids[0]!;
    expect(svid.spiffe_id).toBe("spiffe://spiffe.example/bots/svcbot/uid/1000");
    const bundle = join(work, "svid_bundle.pem");
    const cert = join(work, "svid.pem");
    writeFileSync(bundle, tctlOk(auth, ["auth", "export", "--type=spiffe"]));
    writeFileSync(cert, svid.cert);
    expect(r.bundle[0]).toBe(tctlOk(auth, ["auth", "export", "--type=spiffe"]));
    const verify = run(["openssl", "verify", "-CAfile", bundle, cert]);
    expect(verify.stdout.trim()).toBe(`${cert}: OK`);
    const ext = run([
      "openssl",
      "x509",
      "-in",
      cert,
      "-noout",
      "-ext",
      "subjectAltName,basicConstraints,keyUsage,extendedKeyUsage",
    ]).stdout;
    const san = ext.split("X509v3 Subject Alternative Name:")[1]!.split("\n")[1]!.trim();
    expect(san).toBe("URI:spiffe://spiffe.example/bots/svcbot/uid/1000");
    expect(ext).toContain("CA:FALSE");
    expect(ext).toMatch(/Key Usage: critical\n\s+Digital Signature\n/);
    expect(ext).toContain("TLS Web Server Authentication, TLS Web Client Authentication");
    // The bundle is also public (GET /v1/spiffe/bundle.pem) and in GET /v1/authorities.
    const pub = await fetch(`https://${auth.addr}${paths.spiffeBundle}`, {
      tls: { ca: tctlOk(auth, ["auth", "export", "--type=tls-host"]) },
    } as RequestInit);
    expect(await pub.text()).toBe(r.bundle[0]!);
  });
});

describe("JWT SVID", () => {
  test("verifies with jose against the JWKS tauth publishes; sub and aud right", async () => {
    const r = await clusterApi(auth, bot).post<WorkloadJwtResponse>(paths.workloadJwt, {
      selector: { labels: { env: "prod" } },
      audiences: ["https://api.example.test", "other"],
      workload: { unix: { uid: 33 } },
    });
    const svid = r.svids[0]!;
    // The JWKS as any relying party fetches it: public, over TLS trusting the host CA.
    const hostCa = tctlOk(auth, ["auth", "export", "--type=tls-host"]);
    const res = await fetch(`https://${auth.addr}${paths.spiffeJwks}`, {
      tls: { ca: hostCa },
    } as RequestInit);
    expect(res.status).toBe(200);
    const fetched = (await res.json()) as JSONWebKeySet;
    expect(fetched).toEqual(r.jwks as unknown as JSONWebKeySet);
    const { payload, protectedHeader } = await jwtVerify(svid.token, createLocalJWKSet(fetched), {
      audience: "https://api.example.test",
    });
    expect(protectedHeader.alg).toBe("ES256");
    expect(payload.sub).toBe("spiffe://spiffe.example/bots/svcbot/uid/33");
    expect(payload.aud).toEqual(["https://api.example.test", "other"]);
    expect(payload.bot).toBe("svcbot");
    expect(typeof payload.jti).toBe("string");
    expect(payload.exp! - payload.iat!).toBe(300);
  });
});

describe("refusals", () => {
  test("a not-granted identity, a missing attribute, no audience; both audited", async () => {
    const api = clusterApi(auth, bot);
    const key = await freshKey();
    const notGranted = await refusal(
      api.post(paths.workloadX509, {
        selector: { name: "staging" },
        public_key: key.publicKeys.tls_public_key,
      }),
    );
    expect(notGranted).toEqual({
      code: "access_denied",
      message:
        'bot "svcbot": no role grants workload_identity "staging" (labels {env: staging}): add workload_identity_labels that match it to one of the bot\'s roles',
    });
    const missing = await refusal(
      api.post(paths.workloadJwt, { selector: { name: "by-uid" }, audiences: ["a"] }),
    );
    expect(missing).toEqual({
      code: "access_denied",
      message:
        'bot "svcbot": workload identity "by-uid": template {{ workload.unix.uid }} needs attribute workload.unix.uid, which the workload did not provide',
    });
    const noAud = await refusal(api.post(paths.workloadJwt, { selector: { name: "by-uid" }, audiences: [] }));
    expect(noAud.code).toBe("bad_parameter");
    expect(noAud.message).toContain("audiences");
    const audit = tctlOk(auth, ["audit", "ls", "--format=json"]);
    expect(audit).toContain("spiffe.svid.issued");
    expect(audit).toContain("spiffe.svid.denied");
  });
});
