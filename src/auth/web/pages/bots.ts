// The bots page (/web/bots): one page of bots with their roles, how many instances each has,
// its lock (or a button that locks it) and a link to make it a join token.

import { getResources } from "../../api/admin-list.ts";
import type { Route } from "../../http/router.ts";
import type { BotResource } from "../../resources/index.ts";
import type { AuthService } from "../../service.ts";
import type { Lock } from "../../store/types.ts";
import { type Html, html, query } from "../html.ts";
import { csrfField, layout, type PageCtx, page, pager, pick, WEB_PAGE } from "../page-kit.ts";

export function botsRoutes(svc: AuthService): Route[] {
  return [
    page(svc, "/web/bots", async (p) => {
      const after = pick(p.ctx, "after");
      const r = await getResources(svc, { kind: "bot", limit: WEB_PAGE, start_after: after });
      const bots = r.resources as BotResource[];
      const counts = await Promise.all(
        bots.map(
          (b) => svc.backend.count?.(`/bot_instances/${b.metadata.name}/`) ?? Promise.resolve(undefined),
        ),
      );
      const rows = bots.map(
        (
          b,
          i,
        ) => html`<tr><td><a href="/web/instances${query({ bot: b.metadata.name })}">${b.metadata.name}</a></td>
<td>${(b.spec.roles ?? []).join(", ")}</td><td class="count">${counts[i] ?? "?"}</td>
<td>${lockCell(p, svc.lockIndex.find({ bot: b.metadata.name }), b.metadata.name, `/web/bots${query({ after })}`)}</td>
<td><a href="/web/tokens${query({ bot: b.metadata.name })}">New join token</a></td></tr>`,
      );
      return layout(
        p,
        "Bots",
        "/web/bots",
        html`<table><thead><tr><th>Bot</th><th>Roles</th><th>Instances</th><th>Lock</th><th></th></tr></thead>
<tbody>${rows}</tbody></table>${pager("/web/bots", {}, p.ctx, r.next)}`,
      );
    }),
  ];
}

/** A bot's lock: a link to it on the locks page (to lift it), or a button that locks the bot. */
function lockCell(p: PageCtx, lock: Lock | null, bot: string, back: string): Html {
  if (lock) return html`<a href="/web/locks" class="bad" title="${lock.spec.message}">locked</a>`;
  return html`<form method="post" action="/web/locks/create" class="inline lock-bot">${csrfField(p)}
<input type="hidden" name="bot" value="${bot}"><input type="hidden" name="return" value="${back}"><button>Lock</button></form>`;
}
