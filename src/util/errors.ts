// One error model for all three programs. Every error a user can cause is a UserError:
// it carries a message that says what is wrong and what to do, and an exit code. Anything
// else is a bug and is shown with its stack only under --debug.

export type ErrorCode =
  | "bad_parameter"
  | "access_denied"
  | "not_found"
  | "already_exists"
  | "compare_failed"
  | "limit_exceeded"
  | "connection_problem"
  | "not_implemented"
  | "internal";

/** Documented exit codes (README "Exit codes"). */
export const ExitCode = {
  ok: 0,
  error: 1,
  usage: 2,
  tpmUnavailable: 3,
} as const;

const httpStatusOf: Record<ErrorCode, number> = {
  bad_parameter: 400,
  access_denied: 403,
  not_found: 404,
  already_exists: 409,
  compare_failed: 409,
  limit_exceeded: 429,
  connection_problem: 503,
  not_implemented: 501,
  internal: 500,
};

export class UserError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  constructor(message: string, code: ErrorCode = "bad_parameter", exitCode: number = ExitCode.error) {
    super(message);
    this.name = "UserError";
    this.code = code;
    this.exitCode = exitCode;
  }
  get httpStatus(): number {
    return httpStatusOf[this.code];
  }
}

export const badParameter = (msg: string) => new UserError(msg, "bad_parameter");
export const accessDenied = (msg: string) => new UserError(msg, "access_denied");
export const notFound = (msg: string) => new UserError(msg, "not_found");
export const alreadyExists = (msg: string) => new UserError(msg, "already_exists");
export const compareFailed = (msg: string) => new UserError(msg, "compare_failed");
export const connectionProblem = (msg: string) => new UserError(msg, "connection_problem");

export function isCode(err: unknown, code: ErrorCode): boolean {
  return err instanceof UserError && err.code === code;
}

export function httpStatusForCode(code: ErrorCode): number {
  return httpStatusOf[code];
}

export function errorCodeFromHttpStatus(status: number): ErrorCode {
  for (const [code, s] of Object.entries(httpStatusOf)) if (s === status) return code as ErrorCode;
  return status >= 500 ? "internal" : "bad_parameter";
}

/** Print an error the way every CLI of ours does and return the exit code to use. */
export function reportError(err: unknown, debug: boolean): number {
  if (err instanceof UserError) {
    process.stderr.write(`ERROR: ${err.message}\n`);
    if (debug && err.stack) process.stderr.write(`${err.stack}\n`);
    return err.exitCode;
  }
  const e = err as Error;
  process.stderr.write(`ERROR: ${e?.message ?? String(err)}\n`);
  if (debug && e?.stack) process.stderr.write(`${e.stack}\n`);
  else process.stderr.write("(run again with --debug for details)\n");
  return ExitCode.error;
}
