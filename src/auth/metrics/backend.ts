// Backend operation latency and conflicts, measured at one place: a wrapper over the Backend
// interface installed by AuthService.open when a metrics sink is (tauth --diag-addr).

import type { Backend } from "../backend/backend.ts";
import { type AuthMetricsSink, type BackendOp, backendResultOf } from "./observer.ts";

const OPS: Record<string, BackendOp> = {
  get: "get",
  create: "create",
  put: "put",
  compareAndSwap: "cas",
  delete: "delete",
  deleteIfRevision: "delete_cas",
  list: "list",
  atomic: "atomic",
  purgeExpired: "purge",
  count: "count",
};

export function instrumentBackend<B extends Backend>(backend: B, sink: AuthMetricsSink): B {
  return new Proxy(backend, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (typeof v !== "function") return v;
      const op = typeof prop === "string" ? OPS[prop] : undefined;
      if (!op) return v.bind(target);
      return async (...args: unknown[]) => {
        const t = performance.now();
        try {
          const r = await v.apply(target, args);
          sink.backend(op, "ok", (performance.now() - t) / 1000);
          return r;
        } catch (e) {
          sink.backend(op, backendResultOf(e), (performance.now() - t) / 1000);
          throw e;
        }
      };
    },
  });
}
