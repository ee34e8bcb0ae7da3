// Name rules per kind. Each *Problem function returns what is wrong with a name, or undefined.

/** The weakest rule every resource name obeys: printable ASCII, no whitespace, 1–512 chars. */
export function isValidResourceName(name: string): boolean {
  return /^[\x21-\x7e]{1,512}$/.test(name);
}

const dnsLike = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/** Bots become user and role "bot-<name>" and appear in paths and certificates: DNS-like only. */
export function botNameProblem(name: string): string | undefined {
  if (name.length <= 253 && dnsLike.test(name)) return undefined;
  return `bot name "${name}" is invalid: use lowercase letters, digits, "-" and ".", starting and ending with a letter or digit (like a DNS name)`;
}

/** Token names are opaque (for join_method token they are the secret itself). */
export function tokenNameProblem(name: string): string | undefined {
  if (isValidResourceName(name)) return undefined;
  return `token name "${name}" is invalid: use 1 to 512 printable characters without spaces`;
}

/**
 * Roles are named freely in Teleport; we refuse only what would break our own syntax:
 * "," (lists such as --roles=a,b) and "/" (tctl get role/<name>).
 */
export function roleNameProblem(name: string): string | undefined {
  if (isValidResourceName(name) && name.length <= 255 && !/[,/]/.test(name)) return undefined;
  return `role name "${name}" is invalid: use up to 255 printable characters without spaces, "," or "/"`;
}
