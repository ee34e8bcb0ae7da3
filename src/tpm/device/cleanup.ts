// Giving TPM handles back. Without a resource manager a handle that is not flushed stays
// loaded after the process exits, so every path flushes; but a failed flush must not hide the
// error that sent us down the cleanup path.

import type { Esys } from "./esys.ts";

/** Flush `handle`; when `alreadyFailing`, a flush error is dropped in favour of the first one. */
export function flushQuietly(esys: Esys, handle: number, alreadyFailing: boolean): void {
  if (esys.closed) return;
  try {
    esys.flush(handle);
  } catch (e) {
    if (!alreadyFailing) throw e;
  }
}
