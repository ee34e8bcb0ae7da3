// The console's stylesheet and script (/web/static/*): public, revalidated on each use
// (no-cache), never sniffed as another type.

import type { Route } from "../../http/router.ts";
import { RawResponse } from "../../http/server.ts";
import { CONSOLE_CSS, CONSOLE_JS } from "../assets.ts";

const asset = (path: string, type: string, text: string): Route => ({
  method: "GET",
  path,
  access: "public",
  raw: true,
  handle: async () =>
    new RawResponse(text, {
      "content-type": type,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
    }),
});

export function staticRoutes(): Route[] {
  return [
    asset("/web/static/console.css", "text/css; charset=utf-8", CONSOLE_CSS),
    asset("/web/static/console.js", "text/javascript; charset=utf-8", CONSOLE_JS),
  ];
}
