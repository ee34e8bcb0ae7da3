// IAM joining, client half: on the server's challenge, get AWS credentials from the standard
// chain (credentials.ts) and sign, with SigV4, a POST of sts:GetCallerIdentity to the STS
// endpoint with the challenge in X-Teleport-Challenge among the signed headers; send the
// signed request (URL, headers, body) back. The server forwards it to STS, so the secret key
// never leaves this machine and the signature is only good for that one request.
// The endpoint is sts-hosts.ts's stsEndpoint.

import { requestFromUrl, signRequest } from "../../crypto/aws-sigv4.ts";
import { UserError } from "../../util/errors.ts";
import { logger } from "../../util/log.ts";
import type { JoinMethodClient } from "../client.ts";
import { type ChainEnv, defaultChainEnv, resolveAwsCredentials, withProfileRegion } from "./credentials.ts";
import {
  CHALLENGE_HEADER,
  GET_CALLER_IDENTITY_BODY,
  IAM,
  type IamChallenge,
  type IamSolution,
} from "./messages.ts";
import { stsEndpoint } from "./sts-hosts.ts";

const log = logger("IAM");

export function iamJoinClient(
  opts: { debug?: boolean; chain?: ChainEnv; now?: () => Date } = {},
): JoinMethodClient {
  const chain = opts.chain ?? defaultChainEnv();
  return {
    method: IAM,
    init: async () => undefined,
    async solve(raw) {
      const ch = raw as unknown as IamChallenge;
      if (ch.type !== "iam_challenge" || typeof ch.challenge !== "string" || !ch.challenge)
        throw new UserError(`unexpected challenge "${ch.type}" for an iam join`);
      const { credentials, source } = await resolveAwsCredentials(chain);
      const { url, region } = stsEndpoint(withProfileRegion(chain));
      if (opts.debug)
        log.debug("Signing sts:GetCallerIdentity", { endpoint: url, region, credentials: source });
      const req = requestFromUrl(
        "POST",
        url,
        [
          ["Content-Type", "application/x-www-form-urlencoded; charset=utf-8"],
          ["Accept", "application/json"],
          [CHALLENGE_HEADER, ch.challenge],
        ],
        GET_CALLER_IDENTITY_BODY,
      );
      const signed = signRequest(req, {
        credentials,
        region,
        service: "sts",
        ...(opts.now ? { now: opts.now() } : {}),
      });
      const sol: IamSolution = {
        type: "iam_solution",
        sts_identity_request: {
          method: "POST",
          url,
          headers: signed.headers,
          body: GET_CALLER_IDENTITY_BODY,
        },
      };
      return { ...sol };
    },
  };
}
