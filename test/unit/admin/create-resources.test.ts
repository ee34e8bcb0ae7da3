// tctl create through the admin API (src/auth/api/admin-resources.ts putResources): a request
// is stored all or none, and a write never overwrites a change made after it read, such as a
// join updating a bound-keypair token's status between the admin's read and write.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { putResources } from "../../../src/auth/api/admin-resources.ts";
import type { Item } from "../../../src/auth/backend/backend.ts";
import { parseResources } from "../../../src/auth/resources/index.ts";
import { AuthService } from "../../../src/auth/service.ts";

let base: string;
let svc: AuthService;

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), "create-resources-"));
  svc = await AuthService.open({ dataDir: join(base, "data"), clusterName: "unit.test" });
});
afterAll(async () => {
  await svc.close();
  rmSync(base, { recursive: true, force: true });
});

const role = (name: string) => `kind: role
version: v7
metadata:
  name: ${name}
spec:
  allow:
    logins: [root]
`;
const bot = (name: string, roles: string[]) => `kind: bot
version: v1
metadata:
  name: ${name}
spec:
  roles: [${roles.join(", ")}]
`;
const bkToken = (name: string, botName: string, limit: number) => `kind: token
version: v2
metadata:
  name: ${name}
spec:
  roles: [Bot]
  join_method: bound_keypair
  bot_name: ${botName}
  bound_keypair:
    onboarding:
      registration_secret: s3cret
    recovery:
      mode: standard
      limit: ${limit}
`;
const docs = (...texts: string[]) => parseResources(texts.join("---\n"), "test.yaml");

test("a refused resource stores none of the request: a new role before a bot that already exists", async () => {
  await putResources(svc, docs(role("r-base"), bot("b-exists", ["r-base"])), false, "admin");
  const refused = putResources(svc, docs(role("r-new"), bot("b-exists", ["r-new"])), false, "admin");
  await expect(refused).rejects.toThrow(
    'bot "b-exists" already exists; use "tctl create -f" to overwrite it',
  );
  expect(await svc.roles.get("r-new")).toBeNull();
  expect((await svc.bots.get("b-exists"))!.value.spec.roles).toEqual(["r-base"]);
});

test("a bot may name a role the same request creates, before or after it", async () => {
  const stored = await putResources(svc, docs(bot("b-with", ["r-with"]), role("r-with")), false, "admin");
  expect(stored).toEqual([
    { kind: "bot", shown: "b-with" },
    { kind: "role", shown: "r-with" },
  ]);
  expect((await svc.bots.get("b-with"))!.value.spec.roles).toEqual(["r-with"]);
});

test("a request of more than 64 resources is stored in groups of 64, each all or none, in order", async () => {
  const names = Array.from({ length: 70 }, (_, i) => `r-many-${String(i).padStart(2, "0")}`);
  const stored = await putResources(svc, docs(...names.map(role)), false, "admin");
  expect(stored.map((x) => x.shown)).toEqual(names);
  for (const n of names) expect(await svc.roles.get(n)).not.toBeNull();
  // A refusal in the second group leaves the first group stored and nothing of the second.
  await putResources(svc, docs(role("r-many-base"), bot("b-many", ["r-many-base"])), false, "admin");
  const more = Array.from({ length: 66 }, (_, i) => `r-more-${String(i).padStart(2, "0")}`);
  const refused = putResources(svc, docs(...more.map(role), bot("b-many", ["r-many-base"])), false, "admin");
  await expect(refused).rejects.toThrow('bot "b-many" already exists');
  expect(await svc.roles.get("r-more-63")).not.toBeNull();
  expect(await svc.roles.get("r-more-64")).toBeNull();
  expect(await svc.roles.get("r-more-65")).toBeNull();
});

test("the same resource twice in one request is refused, naming it, and nothing is stored", async () => {
  const twice = putResources(svc, docs(role("r-twice"), role("r-twice")), true, "admin");
  await expect(twice).rejects.toThrow('role "r-twice" appears twice; give each resource once');
  expect(await svc.roles.get("r-twice")).toBeNull();
});

test("create -f of a bound-keypair token keeps a recovery a join stored after the admin's read", async () => {
  await putResources(svc, docs(bot("b-bk", ["r-base"]), bkToken("bk-race", "b-bk", 1)), false, "admin");
  const key = svc.tokens.key("bk-race");
  // A join lands right after the admin's first read of the token: it binds a key and counts
  // a recovery, as a bot's registration does.
  const backend = svc.backend;
  const realGet = backend.get.bind(backend);
  let joined = false;
  backend.get = async (k: string): Promise<Item | null> => {
    const read = await realGet(k);
    if (k === key && !joined) {
      joined = true;
      const cur = (await svc.tokens.get("bk-race"))!;
      const token = structuredClone(cur.value.token);
      token.status = {
        bound_keypair: {
          bound_public_key:
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBz5TzJtE6F5lUo5a0yvU0p3ntGQ0ULyoI0m8gnX2lmS",
          bound_bot_instance_id: "6c1f1a9e-4f3b-4c59-9a36-0e0c3f1b2a7d",
          recovery_count: 1,
        },
      };
      await svc.tokens.compareAndSwap("bk-race", cur.revision, { ...cur.value, token });
    }
    return read;
  };
  try {
    // The admin raises the limit, the file saying nothing of the status.
    await putResources(svc, docs(bkToken("bk-race", "b-bk", 3)), true, "admin");
  } finally {
    backend.get = realGet;
  }
  expect(joined).toBe(true);
  const st = (await svc.tokens.get("bk-race"))!.value.token;
  expect(st.spec.bound_keypair?.recovery?.limit).toBe(3);
  expect(st.status?.bound_keypair?.recovery_count).toBe(1);
  expect(st.status?.bound_keypair?.bound_bot_instance_id).toBe("6c1f1a9e-4f3b-4c59-9a36-0e0c3f1b2a7d");
});
