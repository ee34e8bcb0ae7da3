// The audit page's chart: joins, renewals and denials over time, drawn on the server as an
// inline SVG (no script, no library). It reads the window's events of those kinds a page at
// a time, at most MAX_CHART_EVENTS of them, and says so when the window holds more.

import { MAX_ADMIN_PAGE } from "../../protocol/admin-messages.ts";
import { queryAudit } from "../audit-query.ts";
import type { AuthService } from "../service.ts";
import { type Html, html } from "./html.ts";

export const MAX_CHART_EVENTS = 20_000;
const BUCKETS = 24;
const SERIES = [
  { name: "joins", kinds: ["bot.join"], colour: "#1f6feb" },
  { name: "renewals", kinds: ["cert.renew"], colour: "#1b6e20" },
  {
    name: "denials",
    kinds: [
      "bot.join.failed",
      "cert.renew.failed",
      "renewable_certificate_generation_mismatch",
      "request.locked",
    ],
    colour: "#b3261e",
  },
];

export async function auditChart(
  svc: AuthService,
  since: string | undefined,
  until: string | undefined,
  bot: string | undefined,
): Promise<Html> {
  const end = until ? Date.parse(until) : Date.now();
  const start = since ? Date.parse(since) : end - 24 * 3600_000;
  if (!(end > start)) return html``;
  const width = (end - start) / BUCKETS;
  const counts = SERIES.map(() => new Array<number>(BUCKETS).fill(0));
  const series = new Map<string, number>();
  SERIES.forEach((s, i) => {
    for (const k of s.kinds) series.set(k, i);
  });
  let read = 0;
  let startAfter: string | undefined;
  let truncated = false;
  await svc.audit.flush?.();
  do {
    const page = await queryAudit(svc.backend, {
      since: new Date(start),
      until: new Date(end),
      kinds: [...series.keys()],
      bot,
      limit: MAX_ADMIN_PAGE,
      startAfter,
    });
    for (const e of page.events) {
      const b = Math.min(BUCKETS - 1, Math.floor((Date.parse(e.time) - start) / width));
      const s = series.get(e.event);
      // request.locked lines are aggregated: each counts the refusals it stands for.
      const n = e.event === "request.locked" && typeof e.refused === "number" ? e.refused : 1;
      if (s !== undefined && b >= 0) counts[s]![b]! += n;
    }
    read += page.events.length;
    startAfter = page.next;
    if (startAfter !== undefined && read >= MAX_CHART_EVENTS) truncated = true;
  } while (startAfter !== undefined && !truncated);
  const max = Math.max(1, ...counts.flat());
  const W = 720;
  const H = 160;
  const x = (i: number) => 40 + (i * (W - 50)) / (BUCKETS - 1);
  const y = (v: number) => H - 20 - (v * (H - 30)) / max;
  const lines = SERIES.map(
    (s, i) =>
      html`<polyline fill="none" stroke="${s.colour}" stroke-width="2" points="${counts[i]!.map((v, j) => `${x(j).toFixed(1)},${y(v).toFixed(1)}`).join(" ")}"><title>${s.name}</title></polyline>`,
  );
  const totals = SERIES.map((s, i) => `${s.name} ${counts[i]!.reduce((a, b) => a + b, 0)}`).join(" · ");
  return html`<figure id="chart"><svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${totals}">
<text x="4" y="14" font-size="11">${max}</text><text x="4" y="${H - 20}" font-size="11">0</text>
<line x1="40" y1="${H - 20}" x2="${W - 10}" y2="${H - 20}" stroke="#999"/>${lines}
<text x="40" y="${H - 4}" font-size="11">${new Date(start).toISOString()}</text>
<text x="${W - 10}" y="${H - 4}" font-size="11" text-anchor="end">${new Date(end).toISOString()}</text></svg>
<figcaption>${SERIES.map((s) => html`<span class="key-${s.name}">■</span> ${s.name} `)}— per ${Math.round(width / 60_000)} min: <span id="chart-totals">${totals}</span>${
    truncated ? html` <span class="bad">(the first ${read} events only; narrow the window)</span>` : html``
  }</figcaption></figure>`;
}
