// Writing a CLI's output completely before it exits. Bun writes process.stdout to a pipe
// asynchronously and process.exit() drops what is still queued, so `tctl get … | jq` used to
// get the first 64–128 KiB. These writes are synchronous, in a loop that waits out EAGAIN
// (a non-blocking pipe that is full) and stops quietly on EPIPE (the reader went away).

import { writeSync } from "node:fs";

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function writeFully(fd: number, text: string | Uint8Array): void {
  const buf = typeof text === "string" ? Buffer.from(text) : text;
  let off = 0;
  let waited = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
      waited = 0;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EPIPE") return;
      if (code !== "EAGAIN" && code !== "EWOULDBLOCK") throw e;
      pause(Math.min(50, 1 + waited++));
    }
  }
}

export const writeStdout = (text: string) => writeFully(1, text);
