// One bot instance's page (/web/instance?id=BOT/ID): its join, health and lock (with buttons
// that lock it or its bot), the latest heartbeat's outputs, its heartbeats and
// authentications, and its recent audit events.

import { instanceHealth } from "../../../cli/tctl-bots-format.ts";
import { badParameter } from "../../../util/errors.ts";
import { auditPage } from "../../api/admin-audit.ts";
import type { AuditEntry } from "../../audit-query.ts";
import type { Route } from "../../http/router.ts";
import type { AuthService } from "../../service.ts";
import type { Heartbeat } from "../../store/types.ts";
import { type Html, html, query } from "../html.ts";
import { auditTable, csrfField, htmlResponse, layout, lockBadge, page, pick } from "../page-kit.ts";

export function instanceDetailRoutes(svc: AuthService): Route[] {
  return [
    page(svc, "/web/instance", async (p) => {
      const id = pick(p.ctx, "id") ?? "";
      if (!id.includes("/")) throw badParameter("expected ?id=BOT/INSTANCE-ID");
      const inst = (await svc.instances.get(id))?.value;
      if (!inst) return htmlResponse(layout(p, "Not found", "", html`<p>No bot instance ${id}.</p>`), 404);
      const { bot_name: bot, instance_id: iid } = inst.spec;
      const lock = svc.lockIndex.find({ bot, instance: iid });
      const beats = [...(inst.status.latest_heartbeats ?? [])].reverse();
      const auths = [...(inst.status.latest_authentications ?? [])].reverse();
      const mine = await recentInstanceEvents(svc, bot, iid, 20);
      return layout(
        p,
        `Instance ${iid}`,
        "/web/instances",
        html`<p>Bot <a href="/web/instances${query({ bot })}">${bot}</a> · generation ${inst.status.generation ?? "?"} ·
joined ${inst.status.initial_authentication?.authenticated_at ?? "?"} by ${inst.status.initial_authentication?.join_method ?? "?"}
· health: <span id="health">${instanceHealth(inst, svc.clock.now())}</span> · lock: ${lockBadge(lock)}</p>
${
  lock
    ? html``
    : html`<form method="post" action="/web/locks/create" class="inline" id="lock-instance">${csrfField(p)}
<input type="hidden" name="instance" value="${iid}"><input type="hidden" name="return" value="/web/instance${query({ id })}">
<input name="message" value="locked from the web console" size="30">
<button class="danger">Lock this instance</button></form>
<form method="post" action="/web/locks/create" class="inline" id="lock-bot">${csrfField(p)}
<input type="hidden" name="bot" value="${bot}"><input type="hidden" name="return" value="/web/instance${query({ id })}">
<button class="danger">Lock the whole bot</button></form>`
}
<h2>Outputs</h2>${outputsTable(beats[0])}
<h2>Heartbeats</h2><table><thead><tr><th>Recorded</th><th>Host</th><th>Version</th><th>OS/arch</th><th>Uptime (s)</th><th>Kind</th></tr></thead>
<tbody>${beats.map(
          (b) =>
            html`<tr><td>${b.recorded_at}</td><td>${b.hostname}</td><td>${b.version}</td><td>${b.os}/${b.architecture}</td>
<td>${b.uptime_seconds}</td><td>${b.is_startup ? "startup" : ""}${b.one_shot ? " one-shot" : ""}</td></tr>`,
        )}</tbody></table>
<h2>Authentications</h2><table><thead><tr><th>At</th><th>Method</th><th>Generation</th><th>From</th></tr></thead>
<tbody>${auths.map(
          (a) =>
            html`<tr><td>${a.authenticated_at}</td><td>${a.join_method}</td><td>${a.generation}</td><td>${a.remote_addr ?? ""}</td></tr>`,
        )}</tbody></table>
<h2>Recent audit events</h2>${auditTable(mine)}`,
      );
    }),
  ];
}

/**
 * The newest events about one instance in the last day: the bot's events are read oldest
 * first, a page at a time, at most 5,000 of them, keeping the last `n` about the instance.
 */
async function recentInstanceEvents(svc: AuthService, bot: string, iid: string, n: number) {
  const kept: AuditEntry[] = [];
  let startAfter: string | undefined;
  let read = 0;
  const since = new Date(Date.now() - 86400_000).toISOString();
  const about = (e: AuditEntry) =>
    e.bot_instance_id === iid ||
    e.instance_id === iid ||
    (e.target as { bot_instance_id?: string } | undefined)?.bot_instance_id === iid;
  do {
    const page = await auditPage(svc, { bot, since, limit: 1000, start_after: startAfter });
    for (const e of page.events)
      if (about(e)) {
        kept.push(e);
        if (kept.length > n) kept.shift();
      }
    read += page.events.length;
    startAfter = page.next;
  } while (startAfter !== undefined && read < 5000);
  return kept;
}

/** The outputs of the latest heartbeat: health, why not, the certificate's expiry. */
function outputsTable(hb: Heartbeat | undefined): Html {
  const outs = hb?.outputs ?? [];
  if (!outs.length) return html`<p class="note">No outputs reported${hb ? "" : " (no heartbeat yet)"}.</p>`;
  return html`<table id="outputs"><thead><tr><th>Output</th><th>Type</th><th>Health</th><th>Expires</th></tr></thead><tbody>${outs.map(
    (o) =>
      html`<tr><td>${o.name}</td><td>${o.type}</td><td class="${o.healthy ? "ok" : "bad"}">${o.healthy ? "healthy" : `failing: ${o.reason ?? ""}`}</td><td>${o.expires ?? ""}</td></tr>`,
  )}</tbody></table>`;
}
