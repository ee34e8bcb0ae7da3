// The web console: server-rendered pages under /web on tauth's HTTPS listener. Each page is a
// file of pages/; what they share (layout, sign-in check, form/CSRF checks, pager) is
// page-kit.ts, the instance listing's filter and paging instance-filter.ts. This is the list.

import type { Route } from "../http/router.ts";
import type { AuthService } from "../service.ts";
import { auditRoutes } from "./pages/audit.ts";
import { botsRoutes } from "./pages/bots.ts";
import { instanceDetailRoutes } from "./pages/instance-detail.ts";
import { instancesRoutes } from "./pages/instances.ts";
import { locksRoutes } from "./pages/locks.ts";
import { signInRoutes } from "./pages/sign-in.ts";
import { staticRoutes } from "./pages/static.ts";
import { tokensRoutes } from "./pages/tokens.ts";

export { type InstanceFilter, instancePage, MAX_SCAN } from "./instance-filter.ts";
export { WEB_PAGE } from "./page-kit.ts";

export function webRoutes(svc: AuthService): Route[] {
  return [
    ...staticRoutes(),
    ...signInRoutes(svc),
    ...botsRoutes(svc),
    ...instancesRoutes(svc),
    ...instanceDetailRoutes(svc),
    ...locksRoutes(svc),
    ...tokensRoutes(svc),
    ...auditRoutes(svc),
  ];
}
