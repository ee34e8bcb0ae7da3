// The audit log page (/web/audit): one page of audit events filtered by time, bot and kind,
// under a chart of the events over that time.

import { parseDuration } from "../../../util/duration.ts";
import { badParameter } from "../../../util/errors.ts";
import { auditPage } from "../../api/admin-audit.ts";
import type { Route } from "../../http/router.ts";
import type { AuthService } from "../../service.ts";
import { auditChart } from "../chart.ts";
import { html } from "../html.ts";
import { auditTable, layout, page, pager, pick, WEB_PAGE } from "../page-kit.ts";

export function auditRoutes(svc: AuthService): Route[] {
  return [
    page(svc, "/web/audit", async (p) => {
      const since = timeParam(pick(p.ctx, "since"), "since");
      const until = timeParam(pick(p.ctx, "until"), "until");
      const bot = pick(p.ctx, "bot");
      const kind = pick(p.ctx, "kind");
      const filter = { since, until, bot, kind };
      const r = await auditPage(svc, {
        since,
        until,
        bot,
        kinds: kind ? kind.split(",").map((k) => k.trim()) : undefined,
        limit: WEB_PAGE,
        start_after: pick(p.ctx, "after"),
      });
      const chart = await auditChart(svc, since, until, bot);
      return layout(
        p,
        "Audit log",
        "/web/audit",
        html`<form class="filter" method="get" action="/web/audit">
<label>Since (2h or RFC 3339) <input name="since" value="${since ?? ""}" placeholder="24h"></label>
<label>Until <input name="until" value="${until ?? ""}"></label>
<label>Bot <input name="bot" value="${bot ?? ""}"></label>
<label>Kind <input name="kind" value="${kind ?? ""}" placeholder="bot.join,lock.create"></label><button>Filter</button></form>
${chart}
${auditTable(r.events)}${pager("/web/audit", filter, p.ctx, r.next)}`,
      );
    }),
  ];
}

/** An audit time filter: RFC 3339, or a duration back from now ("2h", as tctl audit ls takes). */
function timeParam(v: string | undefined, what: string): string | undefined {
  if (!v) return undefined;
  const back = parseDuration(v);
  if (typeof back === "number") return new Date(Date.now() - back).toISOString();
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw badParameter(
      `${what}: expected a duration such as 2h or a time such as 2026-01-01T00:00:00Z, got "${v}"`,
    );
  return new Date(t).toISOString();
}
