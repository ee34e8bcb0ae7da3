// The join methods this build implements, one line each. Adding a method is adding its folder
// (src/join/<method>/, exporting a descriptor from index.ts) and its line here; the auth
// service, the token resource rules and tbot's config and join code read this list.
// Methods the reference documents but this build lacks are in methods.ts.

import { boundKeypairMethod } from "./bound-keypair/index.ts";
import type { JoinMethodDescriptor, OnboardingBlock, TokenSpecBlock } from "./descriptor.ts";
import { githubMethod } from "./github/index.ts";
import { gitlabMethod } from "./gitlab/index.ts";
import { iamMethod } from "./iam/index.ts";
import { kubernetesMethod } from "./kubernetes/index.ts";
import { tokenMethod } from "./token/index.ts";
import { tpmMethod } from "./tpm/index.ts";

export const joinMethodRegistry: readonly JoinMethodDescriptor[] = [
  tokenMethod,
  boundKeypairMethod,
  tpmMethod,
  githubMethod,
  gitlabMethod,
  kubernetesMethod,
  iamMethod,
];

/** The descriptor of an implemented method, or undefined. */
export function implementedJoinMethod(name: string): JoinMethodDescriptor | undefined {
  return joinMethodRegistry.find((m) => m.name === name);
}

export const implementedJoinMethodNames: readonly string[] = joinMethodRegistry.map((m) => m.name);

/** Token-spec blocks of the implemented methods, with the method that owns each. */
export const tokenSpecBlocks: readonly { method: string; block: TokenSpecBlock }[] =
  joinMethodRegistry.flatMap((m) => (m.tokenSpec ? [{ method: m.name, block: m.tokenSpec }] : []));

/** tbot.yaml onboarding blocks of the implemented methods, with the method that owns each. */
export const onboardingBlocks: readonly { method: string; block: OnboardingBlock }[] =
  joinMethodRegistry.flatMap((m) => (m.onboarding ? [{ method: m.name, block: m.onboarding }] : []));
