// IAM joining (reference §3, iam): the messages both halves exchange. The reference's
// IAMChallenge carries a random string; its IAMChallengeSolution carries the signed
// sts:GetCallerIdentity request as raw HTTP bytes. Here the request travels as JSON fields
// (method, URL, headers in the order signed, body), which the server checks one by one
// before anything is sent anywhere.

export const IAM = "iam";

/** The header that carries the server's challenge; it must be among the signed headers. */
export const CHALLENGE_HEADER = "X-Teleport-Challenge";

/** The only request the server forwards: STS's GetCallerIdentity, query protocol, POST body. */
export const GET_CALLER_IDENTITY_BODY = "Action=GetCallerIdentity&Version=2011-06-15";

export interface IamChallenge {
  type: "iam_challenge";
  /** 32 random bytes, base64 without padding (the reference's form). */
  challenge: string;
}

export interface StsIdentityRequest {
  method: string;
  /** "https://<sts host>/" */
  url: string;
  headers: [string, string][];
  body: string;
}

export interface IamSolution {
  type: "iam_solution";
  sts_identity_request: StsIdentityRequest;
}
