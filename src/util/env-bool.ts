// One reading of boolean environment variables (TBOT_DEBUG, TELEPORT_ANONYMOUS_TELEMETRY) for
// every command: the words Go's strconv.ParseBool takes plus yes/no/on/off, any case. Anything
// else is not an error that stops the program: it is false, with a one-line warning that says
// which values are accepted.

const truthy = new Set(["1", "t", "true", "y", "yes", "on"]);
const falsy = new Set(["", "0", "f", "false", "n", "no", "off"]);

export const acceptedBoolWords = "1/true/yes/on or 0/false/no/off";

export interface EnvBool {
  value: boolean;
  /** Set when the variable held something that is not a boolean (then value is false). */
  warning?: string;
}

export function envBool(env: Record<string, string | undefined>, name: string): EnvBool {
  const v = env[name];
  if (v === undefined) return { value: false };
  const w = v.trim().toLowerCase();
  if (truthy.has(w)) return { value: true };
  if (falsy.has(w)) return { value: false };
  return {
    value: false,
    warning: `${name}=${JSON.stringify(v)} is not a boolean (use ${acceptedBoolWords}); treating it as false`,
  };
}
