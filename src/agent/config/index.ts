// The tbot configuration layer: tbot.yaml and CLI flags → one validated BotConfig.

export { formatHostPort, type HostPort, normalizeAddress, parseHostPort } from "../../util/host-port.ts";
export { type DecodedConfig, decodeConfig } from "./decode.ts";
export {
  defaultConfig,
  defaultCredentialTtlMs,
  defaultRenewalIntervalMs,
  defaultStoragePath,
  directoryDestination,
  maxCredentialTtlMs,
} from "./defaults.ts";
export { parseDestinationUri } from "./destination-uri.ts";
export { joinMethodProblem, recognisedJoinMethods, supportedJoinMethods } from "./join-methods.ts";
export { type JoinSettings, joinSettings } from "./join-settings.ts";
export { type JoinUri, parseJoinUri, redactJoinUri } from "./join-uri.ts";
export { v1MigrationWarning } from "./legacy-v1.ts";
export { loadConfigFile, loadDecodedConfig, parseConfig, readConfigText } from "./load.ts";
export { applyOverrides, type FromCli, type StartOverrides } from "./overlay.ts";
export { ConfigPlaces } from "./places.ts";
export { configureHeader, migrateHeader, renderConfigYaml } from "./render.ts";
export { resolveConfigPaths } from "./resolve-paths.ts";
export { supportedServiceTypes } from "./services.ts";
export type {
  BotConfig,
  Destination,
  DirectoryDestination,
  DirectoryReader,
  Onboarding,
  OutputConfig,
  ParsedConfig,
  ServiceConfig,
} from "./types.ts";
export { validateConfig } from "./validate.ts";
export { reservedServiceNames } from "./validate-services.ts";
