// The locks page (/web/locks): one page of locks with their targets and an Unlock button;
// and the forms that lock a bot or an instance (from the bots and instance pages) and unlock.

import { getResources } from "../../api/admin-list.ts";
import { deleteResource } from "../../api/admin-resources.ts";
import type { Route } from "../../http/router.ts";
import { createLock, lockTarget } from "../../locks.ts";
import type { AuthService } from "../../service.ts";
import type { Lock } from "../../store/types.ts";
import { html } from "../html.ts";
import { action, csrfField, layout, localPath, page, pager, pick, WEB_PAGE } from "../page-kit.ts";

export function locksRoutes(svc: AuthService): Route[] {
  return [
    page(svc, "/web/locks", async (p) => {
      const r = await getResources(svc, { kind: "lock", limit: WEB_PAGE, start_after: pick(p.ctx, "after") });
      const rows = (r.resources as Lock[]).map(
        (
          l,
        ) => html`<tr><td class="mono">${l.metadata.name}</td><td>${targetText(l)}</td><td>${l.spec.message}</td>
<td>${l.spec.created_by ?? ""}</td><td>${l.spec.created_at ?? ""}</td>
<td><form method="post" action="/web/locks/delete" class="inline">${csrfField(p)}<input type="hidden" name="name" value="${l.metadata.name}"><button>Unlock</button></form></td></tr>`,
      );
      return layout(
        p,
        "Locks",
        "/web/locks",
        html`<table id="locks"><thead><tr><th>Lock</th><th>Target</th><th>Message</th><th>By</th><th>At</th><th></th></tr></thead>
<tbody>${rows}</tbody></table>${pager("/web/locks", {}, p.ctx, r.next)}`,
      );
    }),
    action(svc, "/web/locks/create", async (f, p) => {
      const target = await lockTarget(
        svc,
        f.get("bot") || undefined,
        f.get("instance") || undefined,
        undefined,
      );
      await createLock(svc, target, f.get("message") || "locked from the web console", p.who);
      return localPath(f.get("return")) ?? "/web/locks";
    }),
    action(svc, "/web/locks/delete", async (f, p) => {
      await deleteResource(svc, "lock", f.get("name") ?? "", p.who);
      return "/web/locks";
    }),
  ];
}

function targetText(l: Lock): string {
  const t = l.spec.target;
  if (t.bot_instance_id) return `instance ${t.bot_instance_id}`;
  if (t.bot) return `bot ${t.bot}`;
  if (t.admin_identity) return `admin identity ${t.admin_identity}`;
  if (t.join_token) return "join token";
  return "?";
}
