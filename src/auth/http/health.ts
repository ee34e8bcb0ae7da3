// GET /readyz: whether this replica can serve, for a load balancer's health check (HAProxy
// `option httpchk GET /readyz`). Ready means the backend answers a trivial read within
// READY_TIMEOUT_MS: every request needs the backend, so a replica that cannot reach its
// database (or, with several hosts listed, any writable one) is taken out of rotation
// instead of answering 503 to clients. Public: it says nothing a client may not know.

import { connectionProblem, isCode } from "../../util/errors.ts";
import type { AuthService } from "../service.ts";
import type { Route } from "./router.ts";

export const READY_TIMEOUT_MS = 2000;

/** A key every cluster has from its first start: reading it is one index lookup. */
const SENTINEL = "/authorities/host";

export function healthRoutes(svc: AuthService): Route[] {
  return [
    {
      method: "GET",
      path: "/readyz",
      access: "public",
      async handle() {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<"late">((r) => {
          timer = setTimeout(() => r("late"), READY_TIMEOUT_MS);
        });
        try {
          const r = await Promise.race([svc.backend.get(SENTINEL), late]);
          if (r === "late")
            throw connectionProblem(`not ready: the database did not answer within ${READY_TIMEOUT_MS} ms`);
          if (!r) throw connectionProblem("not ready: the database holds no cluster");
        } catch (e) {
          if (isCode(e, "connection_problem")) throw e;
          throw connectionProblem(`not ready: ${(e as Error).message}`);
        } finally {
          clearTimeout(timer);
        }
        return { status: "ready", replica: svc.replicaId };
      },
    },
  ];
}
