// `tctl web login`: a one-time link that signs a browser in to the web console as this admin
// identity (valid once, for 5 minutes). One line on stdout: the link.

import type { TctlCommand } from "./tctl-commands.ts";
import { admin } from "./tctl-commands.ts";

export const tctlWebCommands: TctlCommand[] = [
  {
    name: "web login",
    async run({ api, out }) {
      const r = await admin<{ path: string; expires: string }>(api, "web/login");
      // The address tctl reached tauth at (normalised, default port added).
      out(`https://${api.addr}${r.path}\n`);
    },
  },
];
