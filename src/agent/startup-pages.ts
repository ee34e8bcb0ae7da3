// A daemon's start-up (flag and YAML parsing, validation, the registries, the first join) runs
// code that its renewals never run again, yet every page of the binary it touched stays in the
// process's RSS until the kernel is short of memory. Bun's native code is most of that: after
// ten renewals ~43 MiB of a 52 MiB RSS were pages of the executable, of which the renewals
// themselves use ~23 MiB. Once the first renewal's outputs and heartbeat are done, tbot asks the
// kernel (madvise MADV_PAGEOUT, Linux 5.4+) to reclaim the executable's own file pages now; the
// renewals that follow fault back in only what they use. Only clean file-backed pages go: the
// kernel keeps dirty ones, and pages another process also maps, so nothing is lost, only re-read
// from the binary on its next use. It is done once; an older kernel's EINVAL changes nothing.

import { dlopen, FFIType } from "bun:ffi";
import { readFileSync, realpathSync } from "node:fs";

const MADV_PAGEOUT = 21;

export interface PagesReleased {
  /** Mappings of the executable asked to be paged out. */
  mappings: number;
  /** VmRSS before and after, in KiB. */
  rssBeforeKb: number;
  rssAfterKb: number;
}

/** The address ranges `/proc/self/maps` shows for the file at `path` (a replaced binary says "(deleted)"). */
export function mappingsOf(maps: string, path: string): [bigint, bigint][] {
  const out: [bigint, bigint][] = [];
  for (const line of maps.split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s+(.+)$/.exec(line);
    if (m && (m[3] === path || m[3] === `${path} (deleted)`))
      out.push([BigInt(`0x${m[1]}`), BigInt(`0x${m[2]}`)]);
  }
  return out;
}

function vmRssKb(): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0);
}

/**
 * Pages out the running executable's file mappings. Returns what was done, or throws with the
 * reason (no /proc, no madvise, a kernel without MADV_PAGEOUT); the caller logs it at debug.
 */
export function releaseStartupPages(): PagesReleased {
  const exe = realpathSync("/proc/self/exe");
  const ranges = mappingsOf(readFileSync("/proc/self/maps", "utf8"), exe);
  if (ranges.length === 0) throw new Error(`no mapping of ${exe} in /proc/self/maps`);
  const libc = dlopen("libc.so.6", {
    madvise: { args: [FFIType.u64, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  });
  try {
    const rssBeforeKb = vmRssKb();
    for (const [start, end] of ranges)
      if (libc.symbols.madvise(start, end - start, MADV_PAGEOUT) !== 0)
        throw new Error("madvise(MADV_PAGEOUT) was refused (Linux 5.4 or later is needed)");
    return { mappings: ranges.length, rssBeforeKb, rssAfterKb: vmRssKb() };
  } finally {
    libc.close();
  }
}
