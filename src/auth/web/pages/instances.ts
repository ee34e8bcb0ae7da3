// The bot instances page (/web/instances): one page of instances, filtered by bot, health,
// version or join method, each with its latest heartbeat, health and lock.

import { instanceHealth } from "../../../cli/tctl-bots-format.ts";
import type { Route } from "../../http/router.ts";
import type { AuthService } from "../../service.ts";
import type { BotInstance } from "../../store/types.ts";
import { type Html, html, query } from "../html.ts";
import { type InstanceFilter, instancePage } from "../instance-filter.ts";
import { layout, lockBadge, page, pager, pick } from "../page-kit.ts";

export function instancesRoutes(svc: AuthService): Route[] {
  return [
    page(svc, "/web/instances", async (p) => {
      const f: InstanceFilter = {
        bot: pick(p.ctx, "bot"),
        health: pick(p.ctx, "health"),
        version: pick(p.ctx, "version"),
        join_method: pick(p.ctx, "join_method"),
      };
      const now = svc.clock.now();
      const r = await instancePage(svc, f, pick(p.ctx, "after"), now);
      const rows = r.items.map((i) => instanceRow(svc, i, now));
      const opt = (v: string, cur: string | undefined) =>
        html`<option value="${v}" ${v === (cur ?? "") ? html`selected` : html``}>${v || "any"}</option>`;
      return layout(
        p,
        "Bot instances",
        "/web/instances",
        html`<form class="filter" method="get" action="/web/instances">
<label>Bot <input name="bot" value="${f.bot ?? ""}" placeholder="all bots"></label>
<label>Health <select name="health">${["", "healthy", "failing", "stale", "unknown"].map((v) => opt(v, f.health))}</select></label>
<label>Version <input name="version" value="${f.version ?? ""}" size="10"></label>
<label>Join method <input name="join_method" value="${f.join_method ?? ""}" size="10"></label><button>Filter</button></form>
${
  r.scanned !== undefined
    ? html`<p class="note" id="scan-note">Filtered on the server: ${r.scanned} instances read for this page${r.next !== undefined ? "; Next reads on" : ""}.</p>`
    : html``
}
<table id="instances"><thead><tr><th>Bot</th><th>Instance</th><th>Joined</th><th>Join method</th><th>Generation</th>
<th>Last heartbeat</th><th>Version</th><th>Host</th><th>Health</th><th>Lock</th></tr></thead><tbody>${rows}</tbody></table>
${pager("/web/instances", { ...f }, p.ctx, r.next)}`,
      );
    }),
  ];
}

function instanceRow(svc: AuthService, i: BotInstance, now: number): Html {
  const { bot_name: bot, instance_id: id } = i.spec;
  const beats = i.status.latest_heartbeats ?? [];
  const last = beats[beats.length - 1];
  const init = i.status.initial_authentication;
  return html`<tr><td>${bot}</td><td class="mono"><a href="/web/instance${query({ id: `${bot}/${id}` })}">${id}</a></td>
<td>${init?.authenticated_at ?? ""}</td><td>${init?.join_method ?? ""}</td><td>${i.status.generation ?? ""}</td>
<td>${last?.recorded_at ?? ""}</td><td>${last?.version ?? ""}</td><td>${last?.hostname ?? ""}</td>
<td class="health">${instanceHealth(i, now)}</td><td>${lockBadge(svc.lockIndex.find({ bot, instance: id }))}</td></tr>`;
}
