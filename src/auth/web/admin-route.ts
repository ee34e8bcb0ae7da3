// The admin API behind `tctl web login`: a one-time sign-in link for the web console, minted
// for the admin identity that asks (mTLS). The answer is the link's path; tctl puts the
// address it reached tauth at in front.

import { obj } from "../../protocol/validate.ts";
import type { Route } from "../http/router.ts";
import type { AuthService } from "../service.ts";
import { mintLoginLink } from "./sessions.ts";

export function webAdminRoutes(svc: AuthService): Route[] {
  return [
    {
      method: "POST",
      path: "/v1/admin/web/login",
      access: "admin",
      body: obj<Record<string, never>>({}, { unknown: "reject" }),
      maxBody: 1 << 10,
      handle: async (c) => {
        const id = c.caller?.adminIdentityId;
        const admin = id ? `admin:${id}` : (c.caller?.username ?? "admin");
        try {
          const link = await mintLoginLink(svc, admin, id);
          return { path: `/web/login?t=${link.token}`, expires: link.expires };
        } finally {
          await svc.audit.flush?.();
        }
      },
    },
  ];
}
