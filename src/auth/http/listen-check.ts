// Before anything is written to the data directory: can tauth listen where it was told to?
// A port in use (or one below 1024 without the right) is one clear line, and a first start
// that fails this way leaves no half-made cluster (CA keys, admin identity) behind.

import { createServer } from "node:net";
import { UserError } from "../../util/errors.ts";

export async function checkListenable(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
  } catch (e) {
    throw listenProblem(host, port, e as NodeJS.ErrnoException);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export function listenProblem(host: string, port: number, e: NodeJS.ErrnoException): UserError {
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const why =
    e.code === "EADDRINUSE"
      ? "the address is in use (another tauth, or another program)"
      : e.code === "EACCES"
        ? "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
        : e.code === "EADDRNOTAVAIL"
          ? "no interface of this host has that address"
          : (e.message ?? String(e));
  return new UserError(`cannot listen on ${where}: ${why}; choose another with --listen HOST:PORT`);
}
