// spec.bound_keypair (reference §5.1). The block may be absent or empty: recovery then
// defaults to mode "standard", limit 1, and the server generates a registration secret.

import { authorizedKeyProblem } from "../../resources/authorized-key.ts";
import type { Cursor } from "../../resources/cursor.ts";
import { readTime } from "../../resources/metadata.ts";
import type { BoundKeypairSpec } from "../../resources/types.ts";
import { suggestion } from "../../util/did-you-mean.ts";

const recoveryModes = ["standard", "relaxed", "insecure"] as const;
type RecoveryMode = (typeof recoveryModes)[number];

export function readBoundKeypair(node: Cursor): BoundKeypairSpec {
  const spec: BoundKeypairSpec = { onboarding: {}, recovery: { mode: "standard", limit: 1 } };
  if (node.missing) return spec;
  const block = node.map().strict(["onboarding", "recovery", "rotate_after"]);

  const onboardingNode = block.get("onboarding");
  if (!onboardingNode.missing) {
    const onboarding = onboardingNode
      .map()
      .strict(["initial_public_key", "registration_secret", "must_register_before"]);
    // Teleport exports unset strings as "", so "" means unset here.
    const key = onboarding.optStr("initial_public_key");
    const secret = onboarding.optStr("registration_secret");
    if (key) {
      const problem = authorizedKeyProblem(key);
      const at = onboarding.get("initial_public_key");
      if (problem) at.fail(`malformed public key in token: ${at.path}: ${problem}`);
      spec.onboarding.initial_public_key = key;
    }
    if (secret) {
      if (key)
        onboarding
          .get("registration_secret")
          .fail(
            `${onboardingNode.path}.initial_public_key and .registration_secret are mutually exclusive: ` +
              "pre-bind a key or hand out a one-time secret, not both",
          );
      spec.onboarding.registration_secret = secret;
    }
    const deadline = readTime(onboarding, "must_register_before");
    if (deadline) spec.onboarding.must_register_before = deadline;
  }

  const recoveryNode = block.get("recovery");
  if (!recoveryNode.missing) {
    const recovery = recoveryNode.map().strict(["mode", "limit"]);
    const mode = recovery.optStr("mode");
    if (mode) {
      if (!(recoveryModes as readonly string[]).includes(mode))
        recovery
          .get("mode")
          .fail(
            `unknown recovery mode "${mode}" in ${recovery.get("mode").path}${suggestion(mode, recoveryModes)}`,
          );
      spec.recovery.mode = mode as RecoveryMode;
    }
    const limit = recovery.optInt("limit");
    if (limit !== undefined) {
      if (limit < 0)
        recovery.get("limit").fail(`${recovery.get("limit").path} must be 0 or more, got ${limit}`);
      spec.recovery.limit = limit;
    }
  }

  const rotateAfter = readTime(block, "rotate_after");
  if (rotateAfter) spec.rotate_after = rotateAfter;
  return spec;
}
