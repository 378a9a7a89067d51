// The MCP endpoint's second URL, /sse (kept for configurations written for the old HTTP+SSE
// transport), and its audience rule: /mcp and /sse are one protected resource with two URLs,
// so a token bound (RFC 8707) to either works at both. Also the 2025-03-26 batch cap and the
// 2026-07-28 `_meta` rule, over HTTP against the built Worker in workerd.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startWorker } from "./harness.mjs";
import { Browser, authorizeCode, redeemCode, authorizeUrl, obtainTokens, pkcePair, registerClient, tokenRequest } from "./browser.mjs";

let w;
let mcpToken; // bound to <origin>/mcp (obtainTokens asks for /mcp)
before(async () => {
  w = await startWorker();
  ({ tokens: { access_token: mcpToken } } = await obtainTokens(w.url, { login: "ada" }));
});
after(async () => { await w?.dispose(); });

/** The authorization code flow with `resource` = `authorizeResource` (and `tokenResource` at /token). */
async function tokensFor(authorizeResource, tokenResource = authorizeResource, login = "sam") {
  const client = await registerClient(w.url);
  const { code, verifier, location } = await authorizeCode(w.url, client, { params: { resource: authorizeResource }, login });
  assert.ok(location, "the flow redirects back to the client");
  const tok = await redeemCode(w.url, client, { code, verifier }, { resource: tokenResource });
  return { ...tok, client };
}

async function rpc(path, body, { token, headers = {} } = {}) {
  const h = { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  const res = await w.fetch(path, { method: "POST", headers: h, body: JSON.stringify(body) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

async function sdkTools(path, token) {
  const transport = new StreamableHTTPClientTransport(new URL(`${w.url}${path}`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "e2e-sse-alias", version: "1.0.0" });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    const who = await client.callTool({ name: "whoami", arguments: {} });
    return { names: tools.map((t) => t.name), who: who.structuredContent };
  } finally {
    await client.close();
  }
}

const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "e2e", version: "0" } } };

describe("/sse serves Streamable HTTP exactly like /mcp", () => {
  test("discovery: a 401 at /sse names the /sse metadata, whose resource is <origin>/sse", async () => {
    const r = await rpc("/sse", initialize);
    assert.equal(r.status, 401);
    const challenge = r.headers.get("www-authenticate");
    assert.ok(challenge.includes(`resource_metadata="${w.url}/.well-known/oauth-protected-resource/sse"`), challenge);
    assert.doesNotMatch(challenge, /error=/);

    const res = await w.fetch("/.well-known/oauth-protected-resource/sse");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    const meta = await res.json();
    assert.equal(meta.resource, `${w.url}/sse`);
    assert.deepEqual(meta.authorization_servers, [w.url]);
    assert.ok(!meta.scopes_supported.includes("offline_access"));

    // /mcp keeps its own metadata.
    const mcpMeta = await (await w.fetch("/.well-known/oauth-protected-resource/mcp")).json();
    assert.equal(mcpMeta.resource, `${w.url}/mcp`);
  });

  test("GET /sse: 405 naming /mcp (the old GET event stream is not served)", async () => {
    const res = await w.fetch("/sse", { headers: { accept: "text/event-stream", authorization: `Bearer ${mcpToken}` } });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "POST, DELETE");
    const body = await res.json();
    assert.match(body.error.message, /\/mcp/);
    assert.match(body.error.message, /Streamable HTTP/);
    // The old transport's second URL does not exist.
    assert.equal((await w.fetch("/messages", { method: "POST" })).status, 404);
  });

  test("a token for <origin>/sse (authorize and token with resource=/sse) works at /sse and /mcp", async () => {
    const tok = await tokensFor(`${w.url}/sse`);
    assert.equal(tok.status, 200, JSON.stringify(tok.body));
    for (const path of ["/sse", "/mcp"]) {
      const r = await sdkTools(path, tok.body.access_token);
      assert.deepEqual(r.names, ["whoami", "calculate", "calculate_all", "list_github_repos"], path);
      assert.equal(r.who.login, "sam", path);
    }
  });

  test("a token for <origin>/mcp works at /sse, sessions included (initialize, DELETE)", async () => {
    const r = await sdkTools("/sse", mcpToken);
    assert.equal(r.who.login, "ada");
    const init = await rpc("/sse", initialize, { token: mcpToken });
    assert.equal(init.status, 200);
    const session = init.headers.get("mcp-session-id");
    assert.ok(session);
    const del = await w.fetch("/sse", { method: "DELETE", headers: { authorization: `Bearer ${mcpToken}`, "mcp-session-id": session } });
    assert.equal(del.status, 204);
  });

  test("mixing the two URLs of this server between /authorize and /token is accepted", async () => {
    const tok = await tokensFor(`${w.url}/sse`, `${w.url}/mcp`, "mia");
    assert.equal(tok.status, 200, JSON.stringify(tok.body));
    const refreshed = await tokenRequest(w.url, { grant_type: "refresh_token", refresh_token: tok.body.refresh_token, client_id: tok.client.client_id, resource: `${w.url}/sse` });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  });

  test("another origin's /sse is still invalid_target, at /authorize and at /token", async () => {
    const c = await registerClient(w.url);
    const { challenge } = pkcePair();
    const res = await new Browser().request(authorizeUrl(w.url, c, { code_challenge: challenge, code_challenge_method: "S256", resource: "https://other.example/sse" }));
    // Before the person interacted, the error stays on our own page (RFC 9700 §4.11.2).
    assert.equal(res.status, 400);
    assert.equal(res.headers.get("location"), null);
    assert.match(await res.text(), /invalid_target/);

    const tok = await tokensFor(`${w.url}/sse`, "https://other.example/sse", "max");
    assert.equal(tok.status, 400);
    assert.equal(tok.body.error, "invalid_target");
  });
});

describe("2025-03-26 batches have a cap", () => {
  let session;
  before(async () => {
    const init = await rpc("/mcp", initialize, { token: mcpToken });
    session = init.headers.get("mcp-session-id");
  });
  const batch = (n) => Array.from({ length: n }, (_, i) => ({ jsonrpc: "2.0", id: i + 1, method: "ping" }));

  test("32 entries are answered; 33 are refused whole with -32600 naming the cap", async () => {
    const ok = await rpc("/mcp", batch(32), { token: mcpToken, headers: { "mcp-session-id": session } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.length, 32);

    const over = await rpc("/mcp", batch(33), { token: mcpToken, headers: { "mcp-session-id": session } });
    assert.equal(over.status, 400);
    assert.ok(!Array.isArray(over.json), "one error for the whole batch");
    assert.equal(over.json.id, null);
    assert.equal(over.json.error.code, -32600);
    assert.equal(over.json.error.data.maxBatchLength, 32);
    assert.match(over.json.error.message, /at most 32/);
  });
});

describe("2026-07-28 requests need a complete _meta", () => {
  const headers = { "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" };
  for (const [why, params] of [
    ["no _meta", {}],
    ["no protocolVersion", { _meta: { "io.modelcontextprotocol/clientCapabilities": {} } }],
    ["no clientCapabilities", { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28" } }],
  ]) {
    test(`${why}: 400, -32602, the request id kept`, async () => {
      const r = await rpc("/mcp", { jsonrpc: "2.0", id: "abc-42", method: "tools/list", params }, { token: mcpToken, headers });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.code, -32602);
      assert.equal(r.json.id, "abc-42");
    });
  }

  test("complete _meta: served, with ttlMs and cacheScope", async () => {
    const params = { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } };
    const r = await rpc("/sse", { jsonrpc: "2.0", id: 5, method: "tools/list", params }, { token: mcpToken, headers });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result.cacheScope, "private");
    assert.equal(typeof r.json.result.ttlMs, "number");
  });
});
