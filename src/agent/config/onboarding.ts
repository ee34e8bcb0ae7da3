// `onboarding`: how the bot joins (§1.3). A join method's own block (e.g. bound_keypair) is
// read by the method (its descriptor in src/join/registry.ts). Blocks the reference documents
// for join methods this build lacks are named as such, instead of as unknown fields.

import type { OnboardingReadKit } from "../../join/descriptor.ts";
import { implementedJoinMethod, onboardingBlocks } from "../../join/registry.ts";
import type { YNode } from "../../util/yaml-source.ts";
import { joinMethodProblem, supportedJoinMethods } from "./join-methods.ts";
import { methodSettings } from "./method-settings.ts";
import type { ConfigPlaces } from "./places.ts";
import type { Onboarding } from "./types.ts";
import { nonEmptyText, note, text } from "./yaml-values.ts";

const ownKeys = [
  "join_method",
  "token",
  "ca_pins",
  "ca_path",
  ...onboardingBlocks.map(({ block }) => block.key),
];
/** Per-method blocks of the reference, keyed by the join method they configure. */
const otherMethodBlocks: Record<string, string> = {
  azure: "azure",
  gitlab: "gitlab",
  terraform: "terraform_cloud",
  kubernetes: "kubernetes",
  generic_oidc: "generic_oidc",
};

export function decodeOnboarding(n: YNode, places: ConfigPlaces): Onboarding {
  const m = n.map();
  note(places, "onboarding", n);
  for (const [block, method] of Object.entries(otherMethodBlocks)) {
    if (implementedJoinMethod(method)) continue;
    if (m.keys().includes(block))
      m.get(block).fail(
        `${n.path}.${block} configures the ${method} join method, which is not supported by this build; ` +
          `use one of: ${supportedJoinMethods.join(", ")}`,
      );
  }
  m.strict(ownKeys);

  const o: Onboarding = { joinMethod: "", caPins: [] };
  if (m.has("join_method")) {
    const jm = m.get("join_method");
    o.joinMethod = text(jm).trim();
    note(places, "onboarding.join_method", jm);
    // Checked here too (validation repeats it for flags) so the message points at the line.
    const problem = joinMethodProblem(o.joinMethod);
    if (problem) jm.fail(problem);
  }
  if (m.has("token")) {
    o.token = nonEmptyText(m.get("token"));
    note(places, "onboarding.token", m.get("token"));
  }
  if (m.has("ca_pins")) {
    const pins = m.get("ca_pins");
    note(places, "onboarding.ca_pins", pins);
    o.caPins = pins.list().map((p, i) => {
      note(places, `onboarding.ca_pins[${i}]`, p);
      return nonEmptyText(p);
    });
  }
  // ca_path: "" is "not set": the reference's `tbot configure` writes it next to ca_pins.
  if (m.has("ca_path") && text(m.get("ca_path")).trim() !== "") {
    o.caPath = nonEmptyText(m.get("ca_path"));
    note(places, "onboarding.ca_path", m.get("ca_path"));
  }
  const kit: OnboardingReadKit = { nonEmptyText, note: (key, node) => note(places, key, node) };
  for (const { block } of onboardingBlocks)
    if (m.has(block.key)) methodSettings(o)[block.field] = block.read(m.get(block.key), kit);
  return o;
}
