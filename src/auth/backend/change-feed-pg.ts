// The change feed across replicas: LISTEN on the database's change channel (postgres-schema.ts
// sends every change to a watched key there from a trigger). Bun re-subscribes a dropped
// listen connection by itself (with backoff up to 32 s), and the pool re-subscribes on
// another server after a failover; either way the subscription's onListen runs again, and
// that is a resync: what was announced in between was lost.

import { logger } from "../../util/log.ts";
import type { Backend } from "./backend.ts";
import type { ChangeFeed } from "./change-feed.ts";

const log = logger("AUTH:BACKEND");

/** A backend that can announce changes across processes (PostgreSQL). */
export interface ListeningBackend extends Backend {
  listenForChanges(onKey: (key: string) => void, onListen: () => void): Promise<() => Promise<void>>;
}

export function canListen(b: Backend): b is ListeningBackend {
  return typeof (b as Partial<ListeningBackend>).listenForChanges === "function";
}

/**
 * Feed `feed` from the database's announcements; resolves (subscribed) to an unsubscribe.
 * The first subscription counts as a (re)connect too: the caller's first load may predate it.
 */
export async function listenForChanges(
  backend: ListeningBackend,
  feed: ChangeFeed,
): Promise<() => Promise<void>> {
  let connects = 0;
  return backend.listenForChanges(
    (key) => feed.changed(key),
    () => {
      if (connects++ > 0) log.info("Change feed reconnected; reloading cached state");
      feed.resync();
    },
  );
}
