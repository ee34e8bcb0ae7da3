// Resource schemas: parsing (tctl create -f), validation (API input), presets, and the two
// role evaluations the auth service needs (SSH logins, node access).

export { authorizedKeyProblem } from "../../resources/authorized-key.ts";
export type {
  AppResource,
  BotResource,
  BoundKeypairSpec,
  BoundKeypairStatus,
  DatabaseResource,
  Metadata,
  Resource,
  RoleConditions,
  RoleResource,
  TokenResource,
  TokenSpec,
  TpmSpec,
  WorkloadIdentityResource,
} from "../../resources/types.ts";
export { appNameProblem, dbNameProblem, dbProtocols } from "./app-db.ts";
export { appAccessProblem, databaseAccessProblem } from "./db-app-access.ts";
export { expandLogins } from "./logins.ts";
export { botNameProblem, isValidResourceName, roleNameProblem, tokenNameProblem } from "./names.ts";
export { rolesAllowNode } from "./node-access.ts";
export { parseResources } from "./parse.ts";
export { presetRoles } from "./presets.ts";
export { supportedKinds } from "./read-resource.ts";
export { joinMethods, systemRoles } from "./token-vocabulary.ts";
export { resourceFromJSON, validateBot, validateRole, validateToken } from "./validate.ts";
export {
  type Attributes,
  MissingAttributeError,
  renderTemplate,
  rulesProblem,
  spiffePathProblem,
  trustDomainOf,
  trustDomainProblem,
  workloadAttributesRead,
  workloadIdentityAccessProblem,
} from "./workload-identity.ts";
