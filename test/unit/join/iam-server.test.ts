// iam, server half with a fake JoinContext: the STS host is checked before any outbound
// call; the challenge must be there, be this join's and be signed; the body must be
// GetCallerIdentity; STS's errors become denials naming STS's code; the identity is matched
// against allow[]. The last tests sign with the real client and let the STS harness check.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { IamRule } from "../../../src/join/iam/arn-glob.ts";
import { iamJoinClient } from "../../../src/join/iam/client.ts";
import type { ChainEnv } from "../../../src/join/iam/credentials.ts";
import { makeIamJoinServer } from "../../../src/join/iam/server.ts";
import type { JoinContext } from "../../../src/join/types.ts";
import type { JoinRequest, JoinResponse } from "../../../src/protocol/messages.ts";
import type { BotResource, TokenResource } from "../../../src/resources/types.ts";
import { cleanupAfterFile } from "../../harness/proc.ts";
import { type StsHarness, startSts } from "../../harness/sts.ts";

cleanupAfterFile();

const ACCOUNT = "123456789012";
const ARN = `arn:aws:sts::${ACCOUNT}:assumed-role/deploy/i-0abc`;
const identityJson = JSON.stringify({
  GetCallerIdentityResponse: { GetCallerIdentityResult: { Account: ACCOUNT, Arn: ARN, UserId: "AROA:x" } },
});

interface Fake {
  ctx: JoinContext;
  fetches: { url: string; init?: RequestInit }[];
  finished: unknown[];
}

function fakeCtx(rules: IamRule[], answer: () => Response, fetcher?: JoinContext["fetch"]): Fake {
  const states = new Map<string, Record<string, unknown>>();
  const fetches: Fake["fetches"] = [];
  const finished: unknown[] = [];
  const token: TokenResource = {
    kind: "token",
    version: "v2",
    metadata: { name: "iam-token" },
    spec: { roles: ["Bot"], join_method: "iam", bot_name: "b", allow: rules },
  };
  const bot = { kind: "bot", version: "v1", metadata: { name: "b" }, spec: { roles: [], traits: [] } };
  const ctx = {
    remoteAddr: "127.0.0.1",
    findToken: async (name: string) => (name === "iam-token" ? { token, revision: "1" } : null),
    getBot: async () => bot as unknown as BotResource,
    newInstanceId: () => "instance-1",
    clusterName: "example.test",
    now: () => Date.now(),
    fetch:
      fetcher ??
      (async (url: string, init?: RequestInit) => {
        fetches.push({ url, init });
        return answer();
      }),
    issueContinuation: async (state: Record<string, unknown>) => {
      const id = `c${states.size}`;
      states.set(id, state);
      return id;
    },
    redeemContinuation: async (text: string) => {
      const s = states.get(text);
      if (!s) throw new Error("this join step was already answered (a replayed solution)");
      states.delete(text);
      return s;
    },
    finishBotJoin: async (args: unknown) => {
      finished.push(args);
      return {
        type: "result",
        certificates: {},
        bot_name: "b",
        bot_instance_id: "instance-1",
        generation: 1,
      };
    },
    audit: () => {},
  } as unknown as JoinContext;
  return { ctx, fetches, finished };
}

const base: JoinRequest = {
  client_init: { join_method: "iam", token_name: "iam-token", system_role: "Bot" },
  bot_params: {
    public_keys: { tls_public_key: "k" },
    expires: new Date(Date.now() + 3600_000).toISOString(),
  },
} as JoinRequest;

const envChain = (env: Record<string, string>): ChainEnv => ({
  env: { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret", ...env },
  fetch: () => Promise.reject(new Error("no network here")),
  home: "/nonexistent",
  readFile: () => {
    throw Object.assign(new Error("absent"), { code: "ENOENT" });
  },
});

/** Runs begin, lets the real client sign (optionally altered), then answers. */
async function join(
  f: Fake,
  opts: {
    env?: Record<string, string>;
    alter?: (sol: Record<string, unknown>) => void;
    extra?: string[];
  } = {},
) {
  const server = makeIamJoinServer(() => opts.extra ?? []);
  const first = (await server.handle(f.ctx, base)) as Extract<JoinResponse, { type: "challenge" }>;
  expect(first.type).toBe("challenge");
  const client = iamJoinClient({ chain: envChain(opts.env ?? {}) });
  const sol = await client.solve!(first.challenge);
  opts.alter?.(sol);
  const req = { ...base, continuation: first.continuation, solution: sol };
  return { server, req, result: server.handle(f.ctx, req) };
}

const reqOf = (sol: Record<string, unknown>) =>
  sol.sts_identity_request as { url: string; headers: [string, string][]; body: string; method: string };

describe("iam server half", () => {
  test("the challenge is 32 random bytes, base64, in a continuation", async () => {
    const f = fakeCtx([{ aws_account: ACCOUNT }], () => new Response(identityJson));
    const server = makeIamJoinServer(() => []);
    const a = (await server.handle(f.ctx, base)) as Extract<JoinResponse, { type: "challenge" }>;
    const b = (await server.handle(f.ctx, base)) as Extract<JoinResponse, { type: "challenge" }>;
    const ch = a.challenge.challenge as string;
    expect(Buffer.from(ch, "base64")).toHaveLength(32);
    expect(ch).not.toBe(b.challenge.challenge);
  });

  test("a matching identity joins; the request forwarded is the one signed, to the global endpoint", async () => {
    const f = fakeCtx(
      [{ aws_account: ACCOUNT, aws_arn: "arn:aws:sts::123456789012:assumed-role/deploy/*" }],
      () => new Response(identityJson),
    );
    const { result } = await join(f);
    expect((await result).type).toBe("result");
    expect(f.fetches).toHaveLength(1);
    expect(f.fetches[0]!.url).toBe("https://sts.amazonaws.com/");
    expect(f.fetches[0]!.init?.body).toBe("Action=GetCallerIdentity&Version=2011-06-15");
    const sent = f.fetches[0]!.init?.headers as [string, string][];
    expect(sent.find(([k]) => k === "X-Teleport-Challenge")).toBeDefined();
    expect(sent.find(([k]) => k === "Authorization")![1]).toContain("x-teleport-challenge");
    expect((f.finished[0] as { methodResult: unknown }).methodResult).toEqual({
      aws_account: ACCOUNT,
      aws_arn: ARN,
    });
  });

  test("the regional endpoint of AWS_REGION, and XML answers, work too", async () => {
    const xml = `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>${ARN}</Arn><UserId>x</UserId><Account>${ACCOUNT}</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`;
    const f = fakeCtx(
      [{ aws_arn: ARN }],
      () => new Response(xml, { headers: { "content-type": "text/xml" } }),
    );
    const { result } = await join(f, { env: { AWS_REGION: "eu-west-1" } });
    expect((await result).type).toBe("result");
    expect(f.fetches[0]!.url).toBe("https://sts.eu-west-1.amazonaws.com/");
  });

  test("the region of the profile in the config file picks the regional endpoint when no variable names one", async () => {
    const f = fakeCtx([{ aws_account: ACCOUNT }], () => new Response(identityJson));
    const server = makeIamJoinServer(() => []);
    const first = (await server.handle(f.ctx, base)) as Extract<JoinResponse, { type: "challenge" }>;
    const chain = envChain({ AWS_PROFILE: "ops", AWS_CONFIG_FILE: "/cfg" });
    chain.readFile = (p) => {
      if (p === "/cfg") return "[default]\nregion = us-west-2\n[profile ops]\nregion = ap-southeast-2\n";
      throw Object.assign(new Error("absent"), { code: "ENOENT" });
    };
    const sol = await iamJoinClient({ chain }).solve!(first.challenge);
    expect(reqOf(sol).url).toBe("https://sts.ap-southeast-2.amazonaws.com/");
    const auth = reqOf(sol).headers.find(([k]) => k === "Authorization")![1];
    expect(auth).toContain("/ap-southeast-2/sts/aws4_request");
    // AWS_REGION wins over the file.
    chain.env = { ...chain.env, AWS_REGION: "eu-north-1" };
    const sol2 = await iamJoinClient({ chain }).solve!(first.challenge);
    expect(reqOf(sol2).url).toBe("https://sts.eu-north-1.amazonaws.com/");
  });

  test("a host not on the allow-list is refused before any outbound call", async () => {
    const f = fakeCtx([{ aws_account: ACCOUNT }], () => new Response(identityJson));
    const { result } = await join(f, { env: { AWS_ENDPOINT_URL_STS: "https://sts.evil.example" } });
    await expect(result).rejects.toThrow(
      'IAM join request names STS host "sts.evil.example", which is not an AWS STS endpoint allowed',
    );
    expect(f.fetches).toHaveLength(0);
    // The same host once the operator allows it.
    const g = fakeCtx([{ aws_account: ACCOUNT }], () => new Response(identityJson));
    const ok = await join(g, {
      env: { AWS_ENDPOINT_URL_STS: "https://sts.evil.example" },
      extra: ["sts.evil.example"],
    });
    expect((await ok.result).type).toBe("result");
  });

  test("a Host header naming another host than the URL is refused before any outbound call", async () => {
    const f = fakeCtx([{ aws_account: ACCOUNT }], () => new Response(identityJson));
    const { result } = await join(f, {
      alter: (sol) => {
        const h = reqOf(sol).headers.find(([k]) => k === "Host")!;
        h[1] = "evil.example";
      },
    });
    await expect(result).rejects.toThrow("Host header does not name the URL's STS host");
    expect(f.fetches).toHaveLength(0);
  });

  test("a missing challenge header is refused", async () => {
    const f = fakeCtx([{ aws_account: ACCOUNT }], () => new Response(identityJson));
    const { result } = await join(f, {
      alter: (sol) => {
        const r = reqOf(sol);
        r.headers = r.headers.filter(([k]) => k !== "X-Teleport-Challenge");
      },
    });
    await expect(result).rejects.toThrow("has no X-Teleport-Challenge header: the challenge is missing");
    expect(f.fetches).toHaveLength(0);
  });

  test("a request signed for an earlier challenge (replayed) is refused, and so is a second answer", async () => {
    const f = fakeCtx([{ aws_account: ACCOUNT }], () => new Response(identityJson));
    const first = await join(f);
    expect((await first.result).type).toBe("result");
    // The same continuation again.
    await expect(first.server.handle(f.ctx, first.req)).rejects.toThrow("already answered");
    // The captured signed request, with a fresh challenge.
    const again = (await first.server.handle(f.ctx, base)) as Extract<JoinResponse, { type: "challenge" }>;
    await expect(
      first.server.handle(f.ctx, { ...base, continuation: again.continuation, solution: first.req.solution }),
    ).rejects.toThrow("is not the challenge issued for this join");
    expect(f.fetches).toHaveLength(1);
  });

  test("a challenge header left out of SignedHeaders is refused", async () => {
    const f = fakeCtx([{ aws_account: ACCOUNT }], () => new Response(identityJson));
    const { result } = await join(f, {
      alter: (sol) => {
        const h = reqOf(sol).headers.find(([k]) => k === "Authorization")!;
        h[1] = h[1].replace(";x-teleport-challenge", "");
      },
    });
    await expect(result).rejects.toThrow("does not sign the X-Teleport-Challenge header");
  });

  test("a body other than GetCallerIdentity, another method or a path is refused", async () => {
    for (const [alter, says] of [
      [
        (r: ReturnType<typeof reqOf>) => (r.body = "Action=AssumeRole&Version=2011-06-15"),
        "body must be exactly",
      ],
      [(r: ReturnType<typeof reqOf>) => (r.method = "GET"), "method must be POST"],
      [
        (r: ReturnType<typeof reqOf>) => (r.url = "https://sts.amazonaws.com/x?a=b"),
        "must be https://sts.amazonaws.com/ exactly",
      ],
      [(r: ReturnType<typeof reqOf>) => (r.url = "http://sts.amazonaws.com/"), "not an AWS STS endpoint"],
    ] as const) {
      const f = fakeCtx([{ aws_account: ACCOUNT }], () => new Response(identityJson));
      const { result } = await join(f, { alter: (sol) => void alter(reqOf(sol)) });
      await expect(result).rejects.toThrow(says);
      expect(f.fetches).toHaveLength(0);
    }
  });

  test("STS's refusal is a denial naming its code (XML and JSON)", async () => {
    const xml =
      '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message></Error><RequestId>r</RequestId></ErrorResponse>';
    const f = fakeCtx([{ aws_account: ACCOUNT }], () => new Response(xml, { status: 403 }));
    const { result } = await join(f);
    await expect(result).rejects.toThrow(
      "STS at sts.amazonaws.com refused the signed GetCallerIdentity request: SignatureDoesNotMatch (The request signature",
    );
    const g = fakeCtx(
      [{ aws_account: ACCOUNT }],
      () =>
        new Response(JSON.stringify({ Error: { Code: "InvalidClientTokenId", Message: "bad" } }), {
          status: 403,
        }),
    );
    await expect((await join(g)).result).rejects.toThrow("InvalidClientTokenId (bad)");
  });

  test("an answer without an identity, and an unreachable STS, are refused", async () => {
    const f = fakeCtx([{ aws_account: ACCOUNT }], () => new Response("<html>hi</html>"));
    await expect((await join(f)).result).rejects.toThrow("answered without an account and ARN");
    const g = fakeCtx(
      [{ aws_account: ACCOUNT }],
      () => new Response(""),
      async () => {
        throw new Error("connect ECONNREFUSED");
      },
    );
    await expect((await join(g)).result).rejects.toThrow("could not be reached");
  });

  test("wrong account, wrong ARN: denied naming the identity and the token", async () => {
    for (const rule of [
      { aws_account: "210987654321" },
      { aws_arn: "arn:aws:sts::123456789012:assumed-role/other/*" },
    ]) {
      const f = fakeCtx([rule], () => new Response(identityJson));
      await expect((await join(f)).result).rejects.toThrow(
        `AWS identity ${ARN} (account ${ACCOUNT}) did not match any allow rule of token "iam-token"`,
      );
      expect(f.finished).toHaveLength(0);
    }
  });

  test("a token of another method is refused at the first message", async () => {
    const f = fakeCtx([{ aws_account: ACCOUNT }], () => new Response(identityJson));
    const server = makeIamJoinServer(() => []);
    await expect(
      server.handle(f.ctx, { ...base, client_init: { ...base.client_init, token_name: "nope" } }),
    ).rejects.toThrow("join token expired or not found");
  });
});

describe("iam client and server against the STS harness (SigV4 checked exactly)", () => {
  let sts: StsHarness;
  const good = { accessKeyId: "AKIAHARNESS", secretAccessKey: "harness-secret" };
  beforeAll(async () => {
    sts = await startSts({
      credentials: [{ ...good, identity: { account: ACCOUNT, arn: ARN, userId: "AROA:i-0abc" } }],
      requiredSignedHeaders: ["x-teleport-challenge"],
    });
  });
  afterAll(() => sts.stop());

  const harnessFetch: JoinContext["fetch"] = (url, init) =>
    fetch(url, { ...init, tls: { ca: sts.ca.caPem } } as RequestInit);

  const run = async (secret: string) => {
    const f = fakeCtx([{ aws_account: ACCOUNT }], () => new Response(""), harnessFetch);
    const server = makeIamJoinServer(() => [`127.0.0.1:${sts.port}`]);
    const first = (await server.handle(f.ctx, base)) as Extract<JoinResponse, { type: "challenge" }>;
    const client = iamJoinClient({
      chain: {
        ...envChain({ AWS_ENDPOINT_URL_STS: sts.url }),
        env: {
          AWS_ACCESS_KEY_ID: good.accessKeyId,
          AWS_SECRET_ACCESS_KEY: secret,
          AWS_ENDPOINT_URL_STS: sts.url,
        },
      },
    });
    const sol = await client.solve!(first.challenge);
    return server.handle(f.ctx, { ...base, continuation: first.continuation, solution: sol });
  };

  test("the right secret joins", async () => {
    expect((await run(good.secretAccessKey)).type).toBe("result");
    expect(sts.requests.at(-1)!.verify.ok).toBe(true);
  });

  test("a wrong secret: STS says SignatureDoesNotMatch and the join is denied with it", async () => {
    await expect(run("wrong-secret")).rejects.toThrow("SignatureDoesNotMatch");
  });
});
