// The SPIFFE Workload API module: a gRPC server on a Unix socket with the `unix` attestor,
// serving what a WorkloadIdentitySource provides. tbot's `workload-identity-api` service
// (src/agent/services/workload-identity-api) wires it to the bot's identity.

export {
  type AttestedPeer,
  attestCredentials,
  attestUnixSocket,
  attribute,
  UNIX_ATTRIBUTE_NAMES,
  type UnixAttributes,
} from "./attest-unix.ts";
export { parseListen, startWorkloadApi, type WorkloadApiOptions, type WorkloadApiServer } from "./server.ts";
export {
  type JwtSvid,
  PermissionDeniedError,
  type TrustBundles,
  UnavailableError,
  type WorkloadAttributes,
  type WorkloadIdentitySource,
  type X509Svid,
} from "./types.ts";
