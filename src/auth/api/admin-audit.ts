// The shared audit log through the admin API (`tctl audit ls`): one page per request, by
// time range, kind and bot (src/auth/audit-query.ts).

import { type AdminAuditBody, DEFAULT_ADMIN_PAGE, MAX_ADMIN_PAGE } from "../../protocol/admin-messages.ts";
import { badParameter } from "../../util/errors.ts";
import { type AuditPage, queryAudit } from "../audit-query.ts";
import type { AuthService } from "../service.ts";

export async function auditPage(svc: AuthService, b: AdminAuditBody): Promise<AuditPage> {
  const since = b.since ? new Date(b.since) : undefined;
  const until = b.until ? new Date(b.until) : undefined;
  if (since && until && since > until) throw badParameter(`since (${b.since}) is after until (${b.until})`);
  // Events this replica emitted are in the log before it is read.
  await svc.audit.flush?.();
  return queryAudit(svc.backend, {
    since,
    until,
    kinds: b.kinds,
    bot: b.bot,
    limit: Math.min(b.limit ?? DEFAULT_ADMIN_PAGE, MAX_ADMIN_PAGE),
    startAfter: b.start_after,
  });
}
