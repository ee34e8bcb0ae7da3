// Join methods this build can perform (the registry's), and the ones the reference documents
// but we do not (yet). A recognised-but-unsupported method gets its own message so that a user
// with a valid reference config learns it is this build, not their file, that is lacking.

import { joinMethods } from "../../join/methods.ts";
import { implementedJoinMethodNames } from "../../join/registry.ts";

export const supportedJoinMethods: readonly string[] = implementedJoinMethodNames;

/** The reference's list (§3), shared with the auth service's token resource. */
export const recognisedJoinMethods: readonly string[] = joinMethods;

/** An error message for an unusable join method, or undefined when it is fine ("" = unset). */
export function joinMethodProblem(method: string): string | undefined {
  if (method === "" || supportedJoinMethods.includes(method)) return undefined;
  const supported = supportedJoinMethods.join(", ");
  if (recognisedJoinMethods.includes(method))
    return `join method "${method}" is not supported by this build; use one of: ${supported}`;
  return `unrecognized join method: "${method}"; supported join methods are: ${supported}`;
}
