// TPM joining, server half (reference §6.5): check the EK (certificate chain when the token
// lists CAs, allow rules by EKPub hash / EK certificate serial) and the AK's creation
// attestation, then challenge with MakeCredential: only the TPM holding that EK, with that
// AK loaded, can recover the secret. The secret never travels in the continuation — only its
// SHA-256 — and the answer is compared in constant time.

import { createHash, timingSafeEqual } from "node:crypto";
import type { JoinRequest, JoinResponse } from "../../protocol/messages.ts";
import {
  checkAkParameters,
  type EkIdentity,
  ekIdentityFromCertificate,
  ekIdentityFromPublicKey,
  makeCredential,
  matchAllowRules,
  verifyEkChain,
} from "../../tpm/server/index.ts";
import { parseTpmtPublic, tpmPublicToSpki } from "../../tpm/structures/index.ts";
import { accessDenied, badParameter, UserError } from "../../util/errors.ts";
import { validateBotTokenForJoin } from "../token-rules.ts";
import type { JoinContext, JoinMethodServer } from "../types.ts";
import { b64, TPM, type TpmChallenge, type TpmInit, type TpmSolution, unb64 } from "./messages.ts";

const CHALLENGE_TTL_MS = 60_000;

interface StepState {
  [k: string]: unknown;
  secret_sha256: string;
  ek_pub_hash: string;
  ek_cert_serial?: string;
  ek_cert_verified: boolean;
}

function bytes(v: unknown, what: string): Uint8Array {
  if (typeof v !== "string" || !v) throw badParameter(`${what} is required (base64)`);
  return unb64(v);
}

/** The EK as presented: certificate preferred; the TPMT_PUBLIC, if sent, must be the same key. */
function presentedEk(init: TpmInit): { ek: EkIdentity; tpmtPublic?: Uint8Array } {
  let ek: EkIdentity;
  try {
    ek = init.ek_cert
      ? ekIdentityFromCertificate(bytes(init.ek_cert, "ek_cert"))
      : ekIdentityFromPublicKey(bytes(init.ek_key, "ek_cert or ek_key"));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw badParameter(`the EK presented cannot be read: ${(e as Error).message}`);
  }
  if (!init.ek_public) return { ek };
  const tpmtPublic = bytes(init.ek_public, "ek_public");
  let spki: Uint8Array;
  try {
    spki = tpmPublicToSpki(parseTpmtPublic(tpmtPublic));
  } catch (e) {
    throw badParameter(`ek_public is not a usable TPMT_PUBLIC: ${(e as Error).message}`);
  }
  if (Buffer.compare(Buffer.from(spki), Buffer.from(ek.spki)) !== 0)
    throw badParameter("ek_public is not the same key as the EK certificate or ek_key");
  return { ek, tpmtPublic };
}

async function begin(ctx: JoinContext, req: JoinRequest): Promise<JoinResponse> {
  const name = req.client_init.token_name;
  const found = await ctx.findToken(name);
  if (!found) throw accessDenied("join token expired or not found: ask the cluster operator for a new one");
  const t = found.token;
  if (t.spec.join_method !== TPM)
    throw badParameter(
      `join token uses the "${t.spec.join_method}" join method, not "tpm"; set onboarding.join_method accordingly`,
    );
  await validateBotTokenForJoin(ctx, t);
  const spec = t.spec.tpm;
  if (!spec?.allow?.length) throw new UserError(`token "${name}" has no tpm allow rules`, "internal");
  const init = (req.method_init ?? {}) as unknown as TpmInit;
  if (!init.attestation_params) throw badParameter("attestation_params are required");
  const { ek, tpmtPublic } = presentedEk(init);

  let verified = false;
  if (spec.ekcert_allowed_cas?.length) {
    if (!ek.certificate)
      throw accessDenied(
        `token "${name}" requires an EK certificate issued by one of its ekcert_allowed_cas, and this TPM presented none`,
      );
    verifyEkChain(ek.certificate, spec.ekcert_allowed_cas);
    verified = true;
  }
  matchAllowRules(spec.allow, {
    ekPubHash: ek.ekPubHash,
    ...(ek.ekCertSerial ? { ekCertSerial: ek.ekCertSerial } : {}),
  });

  const p = init.attestation_params;
  const akName = checkAkParameters({
    public: bytes(p.public, "attestation_params.public"),
    create_data: bytes(p.create_data, "attestation_params.create_data"),
    create_attestation: bytes(p.create_attestation, "attestation_params.create_attestation"),
    create_signature: bytes(p.create_signature, "attestation_params.create_signature"),
  });
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const cred = makeCredential({ ek: tpmtPublic ? { tpmtPublic } : { spki: ek.spki }, akName, secret });
  const state: StepState = {
    secret_sha256: createHash("sha256").update(secret).digest("hex"),
    ek_pub_hash: ek.ekPubHash,
    ek_cert_verified: verified,
    ...(ek.ekCertSerial ? { ek_cert_serial: ek.ekCertSerial } : {}),
  };
  const challenge: TpmChallenge = {
    type: "tpm_encrypted_credential",
    credential_blob: b64(cred.credentialBlob),
    secret: b64(cred.encryptedSecret),
  };
  return {
    type: "challenge",
    continuation: await ctx.issueContinuation(state, CHALLENGE_TTL_MS),
    challenge: { ...challenge },
  };
}

async function answer(ctx: JoinContext, req: JoinRequest, s: StepState): Promise<JoinResponse> {
  const sol = req.solution as unknown as TpmSolution | undefined;
  if (sol?.type !== "tpm_solution" || typeof sol.solution !== "string")
    throw badParameter("expected a tpm_solution with the activated credential");
  const got = createHash("sha256").update(unb64(sol.solution)).digest();
  const want = Buffer.from(s.secret_sha256, "hex");
  if (got.length !== want.length || !timingSafeEqual(got, want))
    throw accessDenied(
      "the TPM's answer does not match the challenge (credential activation failed or was made for another AK)",
    );
  const name = req.client_init.token_name;
  const found = await ctx.findToken(name);
  if (!found) throw accessDenied("join token expired or not found");
  const bot = await validateBotTokenForJoin(ctx, found.token);
  // An authenticated re-join by this bot keeps its instance (the reference's renewal for tpm).
  const refresh = ctx.caller?.botName === bot.metadata.name && !!ctx.caller.botInstanceId;
  ctx.audit("tpm.join", {
    token: name,
    bot: bot.metadata.name,
    ek_pub_hash: s.ek_pub_hash,
    ek_cert_serial: s.ek_cert_serial,
    ek_cert_verified: s.ek_cert_verified,
  });
  return ctx.finishBotJoin({
    bot,
    tokenHint: name,
    joinMethod: TPM,
    publicKeys: req.bot_params.public_keys,
    expires: new Date(req.bot_params.expires),
    instanceId: refresh ? ctx.caller!.botInstanceId! : ctx.newInstanceId(),
    isNewInstance: !refresh,
    methodResult: {
      ek_pub_hash: s.ek_pub_hash,
      ...(s.ek_cert_serial ? { ek_cert_serial: s.ek_cert_serial } : {}),
      ek_cert_verified: s.ek_cert_verified,
    },
  });
}

export const tpmJoinServer: JoinMethodServer = {
  method: TPM,
  async handle(ctx, req) {
    if (!req.continuation) return begin(ctx, req);
    return answer(ctx, req, (await ctx.redeemContinuation(req.continuation)) as unknown as StepState);
  },
};
