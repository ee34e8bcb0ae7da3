// Each join method's onboarding block is kept in the parsed config under the field its
// descriptor names (bound_keypair: `boundKeypair`), so a new method's settings need no new
// field here; the method's own code knows their shape.

import { implementedJoinMethod, onboardingBlocks } from "../../join/registry.ts";
import type { Onboarding } from "./types.ts";

/** The onboarding settings by field. */
export function methodSettings(o: Onboarding): Record<string, unknown> {
  return o as unknown as Record<string, unknown>;
}

/** The settings of `method`'s onboarding block, or undefined (no block, or none given). */
export function onboardingSettingsOf(o: Onboarding, method: string): unknown {
  const field = implementedJoinMethod(method)?.onboarding?.field;
  return field === undefined ? undefined : methodSettings(o)[field];
}

/** Every method block that is set, with its settings. */
export function setOnboardingBlocks(o: Onboarding) {
  return onboardingBlocks.flatMap(({ method, block }) => {
    const settings = methodSettings(o)[block.field];
    return settings === undefined ? [] : [{ method, block, settings }];
  });
}
