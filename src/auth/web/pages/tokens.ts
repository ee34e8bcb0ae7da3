// The join tokens page (/web/tokens): one page of tokens with a Delete button, and a form that
// makes a bot a join token and shows, once, the tbot command that uses it.

import { UserError } from "../../../util/errors.ts";
import { getResources } from "../../api/admin-list.ts";
import { deleteResource } from "../../api/admin-resources.ts";
import { addBotToken } from "../../api/admin-tokens.ts";
import type { Route } from "../../http/router.ts";
import type { AuthService } from "../../service.ts";
import { type Html, html } from "../html.ts";
import { action, csrfField, layout, type PageCtx, page, pager, pick, WEB_PAGE } from "../page-kit.ts";

export function tokensRoutes(svc: AuthService): Route[] {
  return [
    page(svc, "/web/tokens", async (p) => tokensPage(svc, p, pick(p.ctx, "after"))),
    action(svc, "/web/tokens/create", async (f, p) => {
      const bot = f.get("bot") ?? "";
      if (!(await svc.bots.get(bot))) throw new UserError(`bot "${bot}" not found`, "not_found");
      const t = await addBotToken(svc, bot, f.get("ttl") || undefined, p.who);
      const cmd = [
        "tbot start",
        "--destination-dir=./tbot-user",
        "--data-dir=./tbot-data",
        `--token=${t.token_name}`,
        "--join-method=token",
        `--auth-server=${p.ctx.host ?? ""}`,
        `--ca-pin=${svc.authorities.caPins()[0] ?? ""}`,
      ].join(" \\\n   ");
      // Shown once, in this answer (never in a URL): the token's name is its secret.
      return tokensPage(
        svc,
        p,
        undefined,
        html`<section id="new-token"><p class="ok">Join token for bot <strong>${bot}</strong> created; it expires in ${t.token_ttl}
(${t.expires}) and works once. Run this on the new bot's host:</p>
<pre class="cmd" id="tbot-command">${cmd}</pre><button type="button" data-copy="tbot-command">Copy command</button></section>`,
      );
    }),
    action(svc, "/web/tokens/delete", async (f, p) => {
      await deleteResource(svc, "token", f.get("name") ?? "", p.who);
      return "/web/tokens";
    }),
  ];
}

async function tokensPage(
  svc: AuthService,
  p: PageCtx,
  after: string | undefined,
  flash?: Html,
): Promise<Html> {
  const r = await getResources(svc, { kind: "token", limit: WEB_PAGE, start_after: after });
  const rows = (
    r.resources as {
      metadata: { name: string; expires?: string };
      spec: { bot_name?: string; join_method?: string };
    }[]
  ).map(
    (
      t,
    ) => html`<tr><td class="mono">${t.metadata.name}</td><td>${t.spec.bot_name ?? ""}</td><td>${t.spec.join_method ?? ""}</td>
<td>${t.metadata.expires ?? ""}</td><td><form method="post" action="/web/tokens/delete" class="inline">${csrfField(p)}
<input type="hidden" name="name" value="${t.metadata.name}"><button>Delete</button></form></td></tr>`,
  );
  return layout(
    p,
    "Join tokens",
    "/web/tokens",
    html`${flash}<form class="filter" method="post" action="/web/tokens/create" id="create-token">${csrfField(p)}
<label>Bot <input name="bot" value="${p.ctx.query.get("bot") ?? ""}" required></label>
<label>TTL <input name="ttl" value="1h" size="6"></label><button>Create join token</button></form>
<table><thead><tr><th>Token</th><th>Bot</th><th>Method</th><th>Expires</th><th></th></tr></thead><tbody>${rows}</tbody></table>
${pager("/web/tokens", {}, p.ctx, r.next)}`,
  );
}
