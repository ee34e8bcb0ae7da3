// `onboarding.bound_keypair` in tbot.yaml (reference §1.3): the registration secret (inline or
// in a file) for the first join, and a static key for the insecure recovery mode.

import type { YNode } from "../../util/yaml-source.ts";
import type { OnboardingBlock, OnboardingReadKit } from "../descriptor.ts";

export interface BoundKeypairOnboarding {
  registrationSecret?: string;
  registrationSecretPath?: string;
  staticPrivateKeyPath?: string;
}

function read(n: YNode, kit: OnboardingReadKit): BoundKeypairOnboarding {
  // The reference's docs also spell the static key `static_key_path`; accept both spellings.
  const m = n
    .map()
    .strict([
      "registration_secret",
      "registration_secret_path",
      "static_private_key_path",
      "static_key_path",
    ]);
  kit.note("onboarding.bound_keypair", n);
  const out: BoundKeypairOnboarding = {};
  if (m.has("registration_secret")) {
    out.registrationSecret = kit.nonEmptyText(m.get("registration_secret"));
    kit.note("onboarding.bound_keypair.registration_secret", m.get("registration_secret"));
  }
  if (m.has("registration_secret_path")) {
    out.registrationSecretPath = kit.nonEmptyText(m.get("registration_secret_path"));
    kit.note("onboarding.bound_keypair.registration_secret_path", m.get("registration_secret_path"));
  }
  if (m.has("static_private_key_path") && m.has("static_key_path"))
    m.get("static_key_path").fail(
      `${n.path} sets both static_private_key_path and static_key_path (two names for one setting); keep one`,
    );
  for (const k of ["static_private_key_path", "static_key_path"]) {
    if (m.has(k)) out.staticPrivateKeyPath = kit.nonEmptyText(m.get(k));
  }
  return out;
}

function render(bk: BoundKeypairOnboarding): Record<string, unknown> {
  const b: Record<string, unknown> = {};
  if (bk.registrationSecret !== undefined) b.registration_secret = bk.registrationSecret;
  if (bk.registrationSecretPath !== undefined) b.registration_secret_path = bk.registrationSecretPath;
  if (bk.staticPrivateKeyPath !== undefined) b.static_private_key_path = bk.staticPrivateKeyPath;
  return b;
}

function resolvePaths(bk: BoundKeypairOnboarding, abs: (p: string) => string): void {
  if (bk.registrationSecretPath !== undefined) bk.registrationSecretPath = abs(bk.registrationSecretPath);
  if (bk.staticPrivateKeyPath !== undefined) bk.staticPrivateKeyPath = abs(bk.staticPrivateKeyPath);
}

function problem(bk: BoundKeypairOnboarding): [string, string] | undefined {
  if (bk.registrationSecret !== undefined && bk.registrationSecretPath !== undefined)
    return [
      "onboarding.bound_keypair.registration_secret_path",
      "registration_secret and registration_secret_path are mutually exclusive; keep one",
    ];
  return undefined;
}

export const boundKeypairOnboarding: OnboardingBlock<BoundKeypairOnboarding> = {
  key: "bound_keypair",
  field: "boundKeypair",
  read,
  render,
  resolvePaths,
  problem,
};
