// Config fuzzer: valid tbot.yaml files (v2 token, bound keypair, TPM, ssh_host; v1) and tctl
// resource YAML (role, bot, tokens of each method), mutated in structure (the request
// fuzzer's values) and in text (lines dropped, duplicated, re-indented, YAML specials, alias
// bombs, garbage), then run through the compiled `tbot configure -c` (validates and renders,
// no network, writes nothing) and `tctl create -f` (against a live tauth). Invariants: exit
// 0 or 1, no stack trace, no "internal error", no hang.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocument, stringify } from "yaml";
import { bin, type Cluster, type Rng, rng, runCmd } from "./fault.ts";
import { mutateJson } from "./fuzz-mutate.ts";

const tbotBases = (dir: string) => [
  `version: v2
auth_server: 127.0.0.1:1
onboarding:
  join_method: token
  token: abcdef0123456789
  ca_pins: [sha256:${"0".repeat(64)}]
storage:
  type: directory
  path: ${dir}/data
credential_ttl: 1h
renewal_interval: 20m
diag_addr: 127.0.0.1:0
services:
  - type: identity
    name: web
    destination:
      type: directory
      path: ${dir}/out
  - type: ssh_host
    principals: [node1]
    ssh_address: 10.0.0.5:22
    labels: {env: prod}
    destination: {type: directory, path: ${dir}/host}
`,
  `version: v2
proxy_server: proxy.example.com:443
onboarding:
  join_method: bound_keypair
  token: bk-token
  bound_keypair:
    registration_secret: s3cret
storage: {type: directory, path: ${dir}/data}
oneshot: true
services:
  - type: identity
    destination: {type: directory, path: ${dir}/out}
    credential_ttl: 30m
    renewal_interval: 10m
`,
  `version: v2
auth_server: auth.example.com:3025
onboarding: {join_method: tpm, token: tpm-token}
storage: {type: directory, path: ${dir}/data}
insecure: true
debug: true
services: [{type: identity, destination: {type: directory, path: ${dir}/out}}]
`,
  `version: v1
auth_server: 127.0.0.1:3025
onboarding: {join_method: token, token: abc}
storage: {directory: ${dir}/data}
destinations:
  - directory: ${dir}/out
    roles: [access]
    configs: [{identity: {}}, {ssh_client: {}}]
`,
];

const tctlBases = [
  "kind: role\nversion: v7\nmetadata:\n  name: fz-r\nspec:\n  allow:\n    logins: [root]\n    node_labels: {env: prod}\n    rules:\n      - resources: [host_cert]\n        verbs: [create]\n",
  "kind: bot\nversion: v1\nmetadata:\n  name: fz-b\nspec:\n  roles: [access]\n  traits:\n    - name: logins\n      values: [root]\n  max_session_ttl: 12h\n",
  "kind: token\nversion: v2\nmetadata:\n  name: fz-t\n  expires: 2099-01-01T00:00:00Z\nspec:\n  roles: [Bot]\n  bot_name: fz-b\n  join_method: token\n",
  "kind: token\nversion: v2\nmetadata:\n  name: fz-bk2\nspec:\n  roles: [Bot]\n  bot_name: fz-b\n  join_method: bound_keypair\n  bound_keypair:\n    onboarding:\n      registration_secret: abc\n    recovery: {mode: standard, limit: 2}\n    rotate_after: 2099-01-01T00:00:00Z\n",
  `kind: token\nversion: v2\nmetadata:\n  name: fz-tpm2\nspec:\n  roles: [Bot]\n  bot_name: fz-b\n  join_method: tpm\n  tpm:\n    allow:\n      - ek_public_hash: ${"ab".repeat(32)}\n      - ek_certificate_serial: "01:02:03"\n`,
];

const YAML_SPECIALS = [
  "~",
  "null",
  "yes",
  "no",
  "0x1F",
  "1e999",
  ".inf",
  "-.nan",
  '!!js/function "function(){}"',
  "!!binary aGVsbG8=",
  "*nosuchalias",
  "&a [*a]",
  "{",
  "[",
  "'unterminated",
  '"\\u0000"',
  "!!python/object:os.system",
  "? complex key",
  "|\n  block",
  "<<: {a: 1}",
  "2001-12-14t21:59:43.10-05:00",
  "@reserved",
  "%YAML 1.1",
  "---",
  "...",
  "\t",
];

const BOMB = `a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
`;

function mutateText(r: Rng, text: string): { text: string; label: string } {
  const lines = text.split("\n");
  const i = r.int(0, Math.max(0, lines.length - 1));
  switch (r.int(0, 10)) {
    case 0:
      lines.splice(i, 1);
      return { text: lines.join("\n"), label: `drop line ${i}` };
    case 1:
      lines.splice(i, 0, lines[i] ?? "");
      return { text: lines.join("\n"), label: `duplicate line ${i}` };
    case 2:
      lines[i] = r.pick(["  ", "\t", " "]) + (lines[i] ?? "");
      return { text: lines.join("\n"), label: `indent line ${i}` };
    case 3:
      lines[i] = (lines[i] ?? "").trimStart();
      return { text: lines.join("\n"), label: `dedent line ${i}` };
    case 4: {
      const l = lines[i] ?? "";
      const c = l.indexOf(":");
      lines[i] = c >= 0 ? `${l.slice(0, c + 1)} ${r.pick(YAML_SPECIALS)}` : `${l} ${r.pick(YAML_SPECIALS)}`;
      return { text: lines.join("\n"), label: `special in line ${i}` };
    }
    case 5:
      return { text: text.slice(0, r.int(0, text.length)), label: "truncated" };
    case 6:
      return { text: `${text}${BOMB}`, label: "alias bomb" };
    case 7:
      return {
        text: r.pick(["", "\0\0\0", "\xff\xfe", "- - - -", "{{{{", "[".repeat(20_000)]),
        label: "garbage",
      };
    case 8:
      return { text: `${text}---\n${text}`, label: "two documents" };
    case 9: {
      const j = r.int(0, Math.max(0, lines.length - 1));
      [lines[i], lines[j]] = [lines[j] ?? "", lines[i] ?? ""];
      return { text: lines.join("\n"), label: `swap lines ${i} ${j}` };
    }
    default:
      return { text: `${text}${"k".repeat(r.pick([10, 100_000]))}: v\n`, label: "long key" };
  }
}

/** Mutation i of `base`: in structure (through the yaml library) or in text. */
export function mutateYaml(r: Rng, base: string): { text: string; label: string } {
  if (r.chance(0.5)) {
    const doc = parseDocument(base).toJS();
    const m = mutateJson(r, doc);
    try {
      return { text: stringify(m.value, { aliasDuplicateObjects: false }), label: `structure: ${m.label}` };
    } catch {
      return { text: JSON.stringify(m.value) ?? "", label: `structure (JSON): ${m.label}` };
    }
  }
  let out = { text: base, label: "" };
  const labels: string[] = [];
  for (let n = r.int(1, 2); n > 0; n--) {
    out = mutateText(r, out.text);
    labels.push(out.label);
  }
  return { text: out.text, label: `text: ${labels.join(", ")}` };
}

export interface ConfigFuzzReport {
  seed: number;
  runs: { tbot: number; tctl: number };
  exitCodes: Record<string, number>;
  failures: string[];
  seconds: number;
}

const STACK = /\n\s+at /;

export async function fuzzConfigs(
  dir: string,
  c: Cluster | null,
  o: { seed: number; tbot: number; tctl: number; concurrency?: number },
): Promise<ConfigFuzzReport> {
  const t0 = performance.now();
  const rep: ConfigFuzzReport = {
    seed: o.seed,
    runs: { tbot: 0, tctl: 0 },
    exitCodes: {},
    failures: [],
    seconds: 0,
  };
  const bases = tbotBases(dir);
  const jobs: { kind: "tbot" | "tctl"; i: number }[] = [
    ...Array.from({ length: o.tbot }, (_, i) => ({ kind: "tbot" as const, i })),
    ...Array.from({ length: c ? o.tctl : 0 }, (_, i) => ({ kind: "tctl" as const, i })),
  ];
  let next = 0;
  const worker = async () => {
    for (;;) {
      const job = jobs[next++];
      if (!job) return;
      const r = rng((o.seed + Math.imul(job.i, 0x9e3779b1) + (job.kind === "tctl" ? 7 : 0)) >>> 0);
      const base = r.pick(job.kind === "tbot" ? bases : tctlBases);
      const m = r.chance(0.05) ? { text: base, label: "valid" } : mutateYaml(r, base);
      const file = join(dir, `${job.kind}-${job.i}.yaml`);
      writeFileSync(file, m.text);
      const cmd =
        job.kind === "tbot"
          ? [bin("tbot"), "configure", "-c", file]
          : [bin("tctl"), "--auth-server", c!.addr, "--identity", c!.identity, "create", "-f", file];
      const res = await runCmd(cmd, { timeoutMs: 15_000 });
      rep.runs[job.kind]++;
      const key = `${job.kind} ${res.signal ?? res.code}`;
      rep.exitCodes[key] = (rep.exitCodes[key] ?? 0) + 1;
      const out = `${res.stdout}\n${res.stderr}`;
      const why = res.signal
        ? `killed by ${res.signal} (hang: no exit in 15 s)`
        : res.code !== 0 && res.code !== 1
          ? `exit ${res.code}`
          : STACK.test(out)
            ? "stack trace"
            : /internal error/i.test(out)
              ? "internal error"
              : res.code === 1 && !res.stderr.trim()
                ? "exit 1 without a message"
                : "";
      if (why)
        rep.failures.push(
          `seed ${o.seed} ${job.kind} #${job.i} [${m.label}]: ${why}: ${out.trim().slice(0, 400)}\n--- input (${m.text.length} B) ---\n${m.text.slice(0, 600)}`,
        );
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 4 }, worker));
  rep.seconds = (performance.now() - t0) / 1000;
  return rep;
}
