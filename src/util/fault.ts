// Fault injection for crash tests: TBOT_FAULT_INJECT=kill-<point> makes the process SIGKILL
// itself at that point, so tests can prove recovery from a crash at an exact step (a response
// the server committed but the bot never saved is a lost response).

export function faultInjection(point: string): void {
  if (process.env.TBOT_FAULT_INJECT === `kill-${point}`) process.kill(process.pid, "SIGKILL");
}
