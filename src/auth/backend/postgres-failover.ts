// The connection pool of the PostgreSQL backend, and which server it points at. Bun's client
// talks to one host; a conn string may list several (a primary and its standbys). Only a
// writable server will do (tauth writes), so:
//
// - at open, the hosts are tried in the order given and the first that is not in recovery
//   (not a standby, not read-only) is used;
// - while serving, a statement that failed because its server went away, or because the
//   server turned read-only, asks `recover`: the hosts are probed again, the pool moves to the
//   writable one, and the statement is run there. Probes are shared by concurrent callers and
//   spaced out, so an outage costs one probe per interval, not one per request, and nothing
//   spins on "read-only transaction" errors;
// - LISTEN registrations move with the pool; their `onListen` runs again on the new server,
//   which is where a cache reloads what it may have missed.
//
// A conn string with one host keeps Bun's own behaviour: dead connections are replaced on the
// same host, and there is nothing to fail over to.

import { SQL } from "bun";
import { UserError } from "../../util/errors.ts";
import { logger } from "../../util/log.ts";
import type { PgHost, PgTarget } from "./postgres-conn.ts";
import { isConnectionLost, openError } from "./postgres-errors.ts";

const log = logger("AUTH:BACKEND");

/** At most one probe of the hosts per interval; callers in between get its answer. */
const PROBE_INTERVAL_MS = 250;
/** A probe of a host that does not answer gives up after this long (a blackholed address). */
const PROBE_TIMEOUT_S = 5;

const isReadOnly = (e: unknown) => (e as { errno?: string } | null)?.errno === "25006";

/** The one line for a conn string none of whose hosts tauth can use (already phrased). */
export class NoWritableHost extends UserError {}

interface Listening {
  channel: string;
  onNotify(payload: string): void;
  onListen(): void;
  sub?: SQL.ListenSubscription;
}

export class PgClients {
  private host: number;
  private listens: Listening[] = [];
  private probe: Promise<boolean> | null = null;
  private lastProbe = 0;
  private lastProbeOk = false;
  /** Whether the last probe found no writable host (said once per outage, not per probe). */
  private stranded = false;
  /** Whether statements failed for a lost server since the last one that succeeded. */
  private outage = false;
  private resubscribing: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly target: PgTarget,
    private readonly max: number,
    private client: SQL,
    host: number,
  ) {
    this.host = host;
  }

  /** The pool in use now: read it for every statement, since a failover replaces it. */
  get sql(): SQL {
    return this.client;
  }

  /** Where the pool points now, for logs. */
  get where(): string {
    return this.target.hosts[this.host]!.where;
  }

  /**
   * A pool on the first writable host. One host: its failures are the one line openError
   * makes (the standby check included). Several: one line naming each host's problem.
   */
  static async open(t: PgTarget, max: number): Promise<PgClients> {
    const problems: string[] = [];
    for (const [i, h] of t.hosts.entries()) {
      const sql = newClient(t, h, max);
      try {
        const s = await sessionOf(sql);
        if (s.standby)
          throw new UserError(
            "is a read-only standby (in recovery): tauth writes, so point conn_string at the primary",
          );
        // One host: a read-only primary fails at the migration, in openError's words.
        if (s.readOnly && t.hosts.length > 1)
          throw new UserError("is read-only (default_transaction_read_only)");
        return new PgClients(t, max, sql, i);
      } catch (e) {
        await sql.close({ timeout: 0 }).catch(() => {});
        if (t.hosts.length === 1) throw e;
        problems.push(openError(e, { ...t, where: h.where }).message.replace(/^storage: /, ""));
      }
    }
    throw new NoWritableHost(
      `storage: no writable PostgreSQL among the hosts of conn_string: ${problems.join("; ")}`,
    );
  }

  /**
   * After `e` (from a statement on the pool): whether it is worth running the statement
   * again because the pool now points at a writable server. Only with several hosts.
   */
  async recover(e: unknown): Promise<boolean> {
    if (this.closed || this.target.hosts.length < 2) return false;
    if (!isConnectionLost(e) && !isReadOnly(e)) return false;
    if (this.probe) return this.probe;
    if (Date.now() - this.lastProbe < PROBE_INTERVAL_MS) return this.lastProbeOk;
    this.probe = this.findWritable().finally(() => {
      this.lastProbe = Date.now();
      this.probe = null;
    });
    this.lastProbeOk = await this.probe;
    return this.lastProbeOk;
  }

  private async findWritable(): Promise<boolean> {
    for (const [i, h] of this.target.hosts.entries()) {
      const probe = newClient(this.target, h, 1, PROBE_TIMEOUT_S);
      let writable = false;
      try {
        const s = await sessionOf(probe);
        writable = !s.standby && !s.readOnly;
      } catch {
        // down or refusing: try the next one
      } finally {
        await probe.close({ timeout: 0 }).catch(() => {});
      }
      if (!writable) continue;
      if (i !== this.host) await this.switchTo(i);
      this.stranded = false;
      return true;
    }
    if (!this.stranded)
      log.warn(
        "PostgreSQL: no writable server among the hosts of conn_string; trying again on the next request",
        {
          hosts: this.target.where,
        },
      );
    this.stranded = true;
    return false;
  }

  private async switchTo(i: number): Promise<void> {
    const from = this.where;
    const old = this.client;
    this.client = newClient(this.target, this.target.hosts[i]!, this.max);
    this.host = i;
    log.warn("PostgreSQL: moved to the writable server", { from, to: this.where });
    await this.resubscribe();
    old.close({ timeout: 5 }).catch(() => {});
  }

  /** Every LISTEN again on the current pool (its onListen runs: the caller reloads); one at a time. */
  private resubscribe(): Promise<void> {
    this.resubscribing = this.resubscribing.then(() => this.resubscribeNow());
    return this.resubscribing;
  }

  private async resubscribeNow(): Promise<void> {
    for (const l of this.listens) {
      const sub = l.sub;
      l.sub = undefined;
      // Its connection may be to a server that is gone: do not wait on it for long.
      await Promise.race([sub?.unlisten().catch(() => {}), Bun.sleep(1000)]);
      await this.subscribe(l).catch((e) =>
        // Bun retries a listen connection that drops, not one that never came: the caller's
        // periodic reload covers the gap until the next failover or outage.
        log.warn("PostgreSQL: LISTEN failed", { error: (e as Error).message }),
      );
    }
  }

  /** A statement failed for good because the server was unreachable (see answered()). */
  lost(e: unknown): void {
    if (isConnectionLost(e)) this.outage = true;
  }

  /**
   * A statement succeeded. After an outage, LISTEN at once: Bun re-subscribes a dropped
   * listen connection by itself, but its backoff grows to 32 s, so after a long outage
   * other replicas' changes would go unheard that long.
   */
  answered(): void {
    if (!this.outage || this.closed) return;
    this.outage = false;
    this.resubscribe().catch(() => {});
  }

  private async subscribe(l: Listening): Promise<void> {
    l.sub = await this.client.listen(l.channel, l.onNotify, l.onListen);
  }

  /**
   * LISTEN on `channel` on whichever server the pool points at. `onListen` runs once
   * subscribed, and again after every reconnect or failover: notifications sent in between
   * are lost, so that is where the caller catches up. Resolves to an unsubscribe.
   */
  async listen(
    channel: string,
    onNotify: (payload: string) => void,
    onListen: () => void,
  ): Promise<() => Promise<void>> {
    const l: Listening = { channel, onNotify, onListen };
    await this.subscribe(l);
    this.listens.push(l);
    return async () => {
      this.listens = this.listens.filter((x) => x !== l);
      await l.sub?.unlisten().catch(() => {});
    };
  }

  async close(timeoutS: number): Promise<void> {
    this.closed = true;
    for (const l of this.listens.splice(0)) await l.sub?.unlisten().catch(() => {});
    await this.client.close({ timeout: timeoutS });
  }
}

async function sessionOf(sql: SQL): Promise<{ standby: boolean; readOnly: boolean }> {
  const [s] = await sql`
    SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') = 'on' AS read_only`;
  const r = s as { standby: boolean; read_only: boolean };
  return { standby: r.standby, readOnly: r.read_only };
}

function newClient(t: PgTarget, h: PgHost, max: number, timeoutS?: number): SQL {
  return new SQL(h.url, {
    // An option beats PGDATABASE, which Bun would otherwise prefer to the URL's database.
    database: t.database,
    max,
    // A blackholed host would hold startup for Bun's default 30 s.
    ...(timeoutS !== undefined
      ? { connectionTimeout: timeoutS }
      : t.hasConnectTimeout
        ? {}
        : { connectionTimeout: 10 }),
  });
}
