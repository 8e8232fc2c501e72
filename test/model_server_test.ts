/**
 * The model-server role and the remote runtime, in one process over loopback HTTP: auth, the
 * session life cycle (404, 409, TTL, cap), refusals that leave sessions as they were, reduced
 * rows equal to what the local kernels compute, and a remote engine whose output equals the
 * local engine's for every strategy, greedy and sampled.
 */
import assert from "node:assert/strict";
import type { Config } from "../src/config.ts";
import { createModelServer, type ModelServerHandle } from "../src/model-server/app.ts";
import { serveModelServer } from "../src/cli/serve-model-server.ts";
import { ConfigError } from "../src/errors.ts";
import { openModels } from "../src/platform/deno.ts";
import { openRemoteEngine, remoteClientOf } from "../src/platform/remote-engine.ts";
import { FailFastEngine } from "../src/engine/engine.ts";
import type { EngineParts } from "../src/engine/engine.ts";
import { decodeFrame, encodeFrame, FRAME_CONTENT_TYPE } from "../src/runtime/wire.ts";
import { RemoteClient, RemoteModelSession } from "../src/runtime/remote.ts";
import { reduceRows } from "../src/policy/reduce-rows.ts";
import { chat, collect } from "./helpers/engine.ts";
import { silentLog, testConfig } from "./helpers/server.ts";

const KEY = "test-model-server-key";

let partsPromise: Promise<EngineParts> | null = null;
function parts(): Promise<EngineParts> {
  partsPromise ??= openModels(testConfig(), silentLog);
  return partsPromise;
}

interface Running {
  url: string;
  handle: ModelServerHandle;
  config: Config;
  stop(): Promise<void>;
}

async function startServer(overrides: Partial<Config> = {}): Promise<Running> {
  const config = testConfig({ modelServerKey: KEY, ...overrides });
  const handle = createModelServer({ config, log: silentLog, parts: await parts() });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handle.fetch);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    handle,
    config,
    async stop() {
      handle.close();
      await server.shutdown();
    },
  };
}

const auth = { authorization: `Bearer ${KEY}` };

/** Asserts a response's status and discards its body. */
async function expectStatus(response: Promise<Response>, status: number, what?: string) {
  const r = await response;
  assert.equal(r.status, status, what ?? `status ${status}`);
  await r.body?.cancel();
}

async function createSession(url: string, model = "verifier"): Promise<string> {
  const r = await fetch(`${url}/v1/sessions`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ model }),
  });
  assert.equal(r.status, 201);
  return (await r.json()).id;
}

function forward(
  url: string,
  id: string,
  header: Record<string, unknown>,
  tokens: number[],
): Promise<Response> {
  return fetch(`${url}/v1/sessions/${id}/forward`, {
    method: "POST",
    headers: { ...auth, "content-type": FRAME_CONTENT_TYPE },
    body: encodeFrame(header, { tokens: Int32Array.from(tokens) }),
  });
}

async function positionsOf(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: auth })).text();
  const m = /failfast_model_server_session_positions\{model="verifier"\} (\d+)/.exec(text);
  return Number(m![1]);
}

Deno.test("model server: a wrong or missing key is 401; /health needs none", async () => {
  const s = await startServer();
  try {
    await expectStatus(fetch(`${s.url}/health`), 200);
    const tries: Record<string, string>[] = [{}, { authorization: "Bearer wrong" }, {
      authorization: KEY,
    }];
    for (const headers of tries) {
      await expectStatus(fetch(`${s.url}/v1/model`, { headers }), 401);
    }
    const ok = await fetch(`${s.url}/v1/model`, { headers: auth });
    assert.equal(ok.status, 200);
    const meta = await ok.json();
    assert.equal(meta.protocol, 1);
    assert.ok(meta.models.verifier && meta.models.drafter && meta.models["ar-drafter"]);
    // the OpenAI API is not served in this role
    await expectStatus(
      fetch(`${s.url}/v1/chat/completions`, {
        method: "POST",
        headers: auth,
      }),
      404,
    );
  } finally {
    await s.stop();
  }
});

Deno.test("model server: unknown ids are 404, released ones 409; DELETE frees", async () => {
  const s = await startServer();
  try {
    await expectStatus(forward(s.url, crypto.randomUUID(), { commit: true }, [1, 2]), 404);
    const id = await createSession(s.url);
    const pass = await forward(s.url, id, { commit: true, output: "argmax" }, [5, 6, 7]);
    assert.equal(pass.status, 200);
    assert.equal(decodeFrame(new Uint8Array(await pass.arrayBuffer())).header.length, 3);
    assert.equal(await positionsOf(s.url), 3);
    const del = await fetch(`${s.url}/v1/sessions/${id}`, { method: "DELETE", headers: auth });
    assert.equal(del.status, 204);
    assert.equal(s.handle.sessions.size, 0);
    await expectStatus(forward(s.url, id, { commit: true }, [1]), 409);
    await expectStatus(
      fetch(`${s.url}/v1/sessions/${id}`, { method: "DELETE", headers: auth }),
      409,
    );
  } finally {
    await s.stop();
  }
});

Deno.test("model server: an abandoned session is freed by the TTL", async () => {
  const s = await startServer({ sessionTtlMs: 200 });
  try {
    const id = await createSession(s.url);
    assert.equal(s.handle.sessions.size, 1);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(s.handle.sessions.size, 0);
    await expectStatus(forward(s.url, id, { commit: true }, [1]), 409);
  } finally {
    await s.stop();
  }
});

Deno.test("model server: a full server answers 503 with Retry-After", async () => {
  const s = await startServer({ maxSessions: 2 });
  try {
    await createSession(s.url);
    await createSession(s.url);
    const r = await fetch(`${s.url}/v1/sessions`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ model: "verifier" }),
    });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get("retry-after"), "1");
    await r.body?.cancel();
  } finally {
    await s.stop();
  }
});

Deno.test("model server: malformed and oversized requests are 4xx and change no session", async () => {
  const s = await startServer({ maxBodyBytes: 4096 });
  try {
    const id = await createSession(s.url);
    await expectStatus(forward(s.url, id, { commit: true }, [5, 6, 7, 8]), 200);
    const vocab = s.handle && (await parts()).verifier.dir.config.vocabSize;
    const bad: [string, BodyInit, number][] = [
      ["not a frame", "hello", 400],
      [
        "truncated frame",
        encodeFrame({ commit: true }, { tokens: Int32Array.of(1, 2) }).slice(0, 20),
        400,
      ],
      ["no commit flag", encodeFrame({ keep: 2 }, { tokens: Int32Array.of(1) }), 400],
      [
        "a cut past the cache",
        encodeFrame({ commit: true, keep: 9 }, { tokens: Int32Array.of(1) }),
        400,
      ],
      [
        "an id outside the vocabulary",
        encodeFrame({ commit: true, keep: 1 }, { tokens: Int32Array.of(vocab) }),
        400,
      ],
      [
        "an unknown output",
        encodeFrame({ commit: true, keep: 1, output: "all" }, { tokens: Int32Array.of(1) }),
        400,
      ],
      [
        "a draft ahead of a logits pass",
        encodeFrame({ commit: true, keep: 1, then: { session: "x" } }, {
          tokens: Int32Array.of(1),
        }),
        400,
      ],
      [
        "a draft ahead without its caps",
        encodeFrame({ commit: true, keep: 1, output: "argmax", then: { session: "x" } }, {
          tokens: Int32Array.of(1),
        }),
        400,
      ],
      [
        "sampling hotter than the policy core samples",
        encodeFrame({
          commit: true,
          keep: 1,
          output: "sample",
          sampling: { temperature: 50, topK: 0, topP: 1 },
          seed: 1,
          position: 0,
        }, { tokens: Int32Array.of(1) }),
        400,
      ],
      ["float tokens", encodeFrame({ commit: true, keep: 1 }, { tokens: Float32Array.of(1) }), 400],
      ["oversized", new Uint8Array(8192), 413],
    ];
    for (const [what, body, status] of bad) {
      await expectStatus(
        fetch(`${s.url}/v1/sessions/${id}/forward`, {
          method: "POST",
          headers: { ...auth, "content-type": FRAME_CONTENT_TYPE },
          body,
        }),
        status,
        what,
      );
      assert.equal(await positionsOf(s.url), 4, `${what} left the cache as it was`);
    }
    await expectStatus(
      fetch(`${s.url}/v1/sessions`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ model: "drafter", drafter: { kind: "dllm", plan: {} } }),
      }),
      400,
    );
    assert.equal(s.handle.sessions.size, 1);
  } finally {
    await s.stop();
  }
});

Deno.test("model server: reduced rows equal the local kernels' and are a few bytes a row", async () => {
  const s = await startServer();
  const p = await parts();
  try {
    const client = new RemoteClient({ url: s.url, key: KEY, timeoutMs: 5000 });
    const remote = new RemoteModelSession(client, "verifier", p.verifier.dir.config, {
      rows: true,
    });
    const local = p.verifier.session;
    const tokens = p.verifier.dir.tokenizer.encode("Question: Tom has 3 apples. Answer: 3");
    const lc = local.createCache();
    const rc = remote.createCache();
    try {
      const want = await local.forward(lc, tokens, { commit: true });
      const before = client.counters.bytesReceived;
      const argmax = await remote.forwardRows!(rc, tokens, { commit: true }, { kind: "argmax" });
      const argmaxBytes = client.counters.bytesReceived - before;
      const exact = reduceRows(p.policy, want.logits, want.rows, want.vocab, { kind: "argmax" });
      assert.deepEqual(Array.from(argmax.ids), Array.from(exact.ids));
      assert.deepEqual(Array.from(argmax.probs!), Array.from(exact.probs!));
      // the session's creation and the frame's header included: far below the rows' logits
      const logitBytes = 4 * tokens.length * want.vocab;
      assert.ok(argmaxBytes < 600, `${argmaxBytes} bytes for ${tokens.length} rows`);
      assert.ok(argmaxBytes * 50 < logitBytes);
      // a cut rides on the next pass; the rows after it are those of the shorter context
      remote.truncate(rc, tokens.length - 3);
      local.truncate(lc, tokens.length - 3);
      const tail = tokens.slice(-3);
      const sampling = { temperature: 0.8, topK: 0, topP: 0.9 };
      const out = { kind: "sample" as const, sampling, seed: 7, position: tokens.length - 3 };
      const sampled = await remote.forwardRows!(rc, tail, { commit: true }, out);
      const w2 = await local.forward(lc, tail, { commit: true });
      assert.deepEqual(
        Array.from(sampled.ids),
        Array.from(reduceRows(p.policy, w2.logits, w2.rows, w2.vocab, out).ids),
      );
      const full = await remote.forward(rc, [9], { commit: false });
      const w3 = await local.forward(lc, [9], { commit: false });
      assert.deepEqual(Array.from(full.logits), Array.from(w3.logits));
      // top-k: the k most likely ids of the row, most likely first, with their softmax probabilities
      const top = await remote.forwardRows!(rc, [9], { commit: false }, { kind: "topk", k: 3 });
      const logits = Array.from(w3.logits);
      const byLogit = logits.map((_, i) => i).sort((a, b) => logits[b] - logits[a]).slice(0, 3);
      assert.deepEqual(Array.from(top.ids), byLogit);
      const max = Math.max(...logits);
      const z = logits.reduce((a, l) => a + Math.exp(l - max), 0);
      byLogit.forEach((id, j) => {
        assert.ok(Math.abs(top.probs![j] - Math.exp(logits[id] - max) / z) < 1e-6, `top-${j + 1}`);
      });
      assert.equal(rc.length, tokens.length);
    } finally {
      local.release(lc);
      remote.release(rc);
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(s.handle.sessions.size, 0, "release freed the server's session");
  } finally {
    await s.stop();
  }
});

Deno.test("model server: a remote engine's output equals the local engine's, every strategy", async () => {
  const s = await startServer();
  const p = await parts();
  const config = testConfig({ remoteUrl: s.url, remoteKey: KEY, backend: "remote" });
  const local = new FailFastEngine(p, config, silentLog, { owns: "none" });
  const remote = await openRemoteEngine(config, silentLog, p.policy);
  try {
    const questions = [
      "Tom has 3 apples and buys 5 more. How many apples does he have?",
      "A class has 12 boys and 15 girls. How many students are there?",
    ];
    for (const strategy of remote.strategies) {
      for (const q of questions) {
        for (const temperature of [0, 0.8]) {
          const req = () => chat(q, { maxTokens: 48, temperature, seed: 11, strategy });
          const want = await collect(local.generate(req()));
          const got = await collect(remote.generate(req()));
          assert.equal(got.text, want.text, `${strategy} T=${temperature}: ${q}`);
        }
      }
    }
    // with full rows of logits, verified by this engine's own policy core, the same text
    const logits = await openRemoteEngine(
      { ...config, remoteOutput: "logits" },
      silentLog,
      p.policy,
    );
    for (const temperature of [0, 0.8]) {
      const req = () => chat(questions[0], { maxTokens: 32, temperature, seed: 5 });
      const want = await collect(local.generate(req()));
      assert.equal(
        (await collect(logits.generate(req()))).text,
        want.text,
        `logits T=${temperature}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(s.handle.sessions.size, 0, "every request released its sessions");
  } finally {
    await remote.close();
    await s.stop();
  }
});

Deno.test("model server: a round costs one call, the next draft riding on the verdict", async () => {
  const s = await startServer();
  const p = await parts();
  const config = testConfig({ remoteUrl: s.url, remoteKey: KEY, backend: "remote" });
  const client = remoteClientOf(config);
  const remote = await openRemoteEngine(config, silentLog, p.policy, { client });
  try {
    const before = client.counters.calls;
    const got = await collect(remote.generate(chat("A pen costs $2. How much do 7 pens cost?", {
      maxTokens: 64,
      temperature: 0,
      strategy: "failfast",
      params: { lookup: false, controller: "fixed" },
    })));
    const calls = client.counters.calls - before;
    // two sessions opened and freed, the prefill, the first draft: the rest is one per round
    assert.ok(got.stats.rounds >= 3);
    assert.ok(calls <= got.stats.rounds + 6, `${calls} calls for ${got.stats.rounds} rounds`);
  } finally {
    await remote.close();
    await s.stop();
  }
});

Deno.test({
  name: "model server: on onnxruntime-web's WebGPU backend it serves the same greedy output",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    if (!("gpu" in navigator)) {
      throw new Error(
        "navigator.gpu is missing: install mesa-vulkan-drivers for the software adapter",
      );
    }
    const gpuConfig = testConfig({
      modelServerKey: KEY,
      backend: "ort-web-webgpu",
      arDrafterDir: "",
    });
    const gpuParts = await openModels(gpuConfig, silentLog);
    const handle = createModelServer({ config: gpuConfig, log: silentLog, parts: gpuParts });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handle.fetch);
    const p = await parts();
    const config = testConfig({
      remoteUrl: `http://127.0.0.1:${server.addr.port}`,
      remoteKey: KEY,
      backend: "remote",
      // software Vulkan is slow: no cost profile, and time for a pass
      controller: "fixed",
      remoteTimeoutMs: 120_000,
    });
    const local = new FailFastEngine(p, config, silentLog, { owns: "none" });
    const remote = await openRemoteEngine(config, silentLog, p.policy);
    try {
      for (const strategy of ["ar", "failfast"] as const) {
        const req = () =>
          chat("Tom has 3 apples and buys 5 more. How many apples does he have?", {
            maxTokens: 32,
            temperature: 0,
            strategy,
          });
        const want = await collect(local.generate(req()));
        const got = await collect(remote.generate(req()));
        assert.equal(got.text, want.text, strategy);
      }
    } finally {
      await remote.close();
      handle.close();
      await server.shutdown();
      await Promise.all([gpuParts.verifier.session.close(), gpuParts.drafter?.session.close()]);
    }
  },
});

Deno.test("model server: a start it cannot serve is a configuration error, before any model loads", () => {
  const cases: [Partial<Config>, RegExp][] = [
    [{ backend: "remote", remoteUrl: "http://127.0.0.1:9" }, /FAILFAST_BACKEND/],
    [{ host: "0.0.0.0", modelServerKey: "" }, /FAILFAST_MODEL_SERVER_KEY/],
  ];
  for (const [overrides, message] of cases) {
    assert.throws(
      () => serveModelServer(testConfig({ role: "model-server", ...overrides }), silentLog),
      (e: unknown) => e instanceof ConfigError && message.test(e.message),
    );
  }
});
