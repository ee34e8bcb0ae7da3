// The iam join method's descriptor (see ../descriptor.ts). Its token rules live in the
// token's generic `allow:` list (the reference's TokenRule, shared with ec2, which this build
// does not implement: an ec2 token's allow list is kept as written). No onboarding block:
// tbot.yaml names the method and the token, and AWS credentials come from the environment.

import type { JoinMethodDescriptor } from "../descriptor.ts";
import { IAM } from "./messages.ts";
import { readIamAllow } from "./token-spec.ts";

export const iamMethod: JoinMethodDescriptor = {
  name: IAM,
  // Renewed by joining again with AWS credentials, like the reference's iam.
  renewable: false,
  tokenSpec: { key: "allow", read: readIamAllow, sharedWith: ["ec2"] },
  client: async (o) => (await import("./client.ts")).iamJoinClient({ debug: o.debug }),
  server: async () => (await import("./server.ts")).iamJoinServer,
};
