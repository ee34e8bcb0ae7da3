// `onboarding`: how the bot joins (§1.3). Blocks the reference documents for join methods
// this build lacks are named as such, instead of as unknown fields.

import type { YNode } from "../../util/yaml-source.ts";
import { joinMethodProblem, supportedJoinMethods } from "./join-methods.ts";
import type { ConfigPlaces } from "./places.ts";
import type { Onboarding } from "./types.ts";
import { nonEmptyText, note, text } from "./yaml-values.ts";

const ownKeys = ["join_method", "token", "ca_pins", "ca_path", "bound_keypair"];
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
  if (m.has("bound_keypair")) o.boundKeypair = decodeBoundKeypair(m.get("bound_keypair"), places);
  return o;
}

function decodeBoundKeypair(n: YNode, places: ConfigPlaces): NonNullable<Onboarding["boundKeypair"]> {
  // The reference's docs also spell the static key `static_key_path`; accept both spellings.
  const m = n
    .map()
    .strict([
      "registration_secret",
      "registration_secret_path",
      "static_private_key_path",
      "static_key_path",
    ]);
  note(places, "onboarding.bound_keypair", n);
  const out: NonNullable<Onboarding["boundKeypair"]> = {};
  if (m.has("registration_secret")) {
    out.registrationSecret = nonEmptyText(m.get("registration_secret"));
    note(places, "onboarding.bound_keypair.registration_secret", m.get("registration_secret"));
  }
  if (m.has("registration_secret_path")) {
    out.registrationSecretPath = nonEmptyText(m.get("registration_secret_path"));
    note(places, "onboarding.bound_keypair.registration_secret_path", m.get("registration_secret_path"));
  }
  if (m.has("static_private_key_path") && m.has("static_key_path"))
    m.get("static_key_path").fail(
      `${n.path} sets both static_private_key_path and static_key_path (two names for one setting); keep one`,
    );
  for (const k of ["static_private_key_path", "static_key_path"]) {
    if (m.has(k)) out.staticPrivateKeyPath = nonEmptyText(m.get(k));
  }
  return out;
}
