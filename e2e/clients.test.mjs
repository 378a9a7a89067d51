// The client compatibility suite (issue 19): for each fixture in e2e/clients/
// (what one real MCP client sends, with its public sources), the whole flow
// against the built Worker in workerd: registration (metadata document served
// through Miniflare's outbound service, DCR, or a client made by the operator
// through the admin API), /authorize with the redirect URI the client really
// uses, consent and sign-in, the code exchange with the client's own
// authentication and `resource` habit, a tool call with the MCP TypeScript SDK,
// and the client's refresh habit, then a second tool call. Warp's appended
// query must fail. Then: CLIENT_POLICY=listed, the block list, REGISTRATION=off,
// and docs/clients.md checked against the fixtures.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startWorker } from "./harness.mjs";
import { authorizeCode, pkcePair, tokenRequest } from "./browser.mjs";
import { loadFixtures } from "../scripts/clients-doc.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef0123456789";
const THIRTY_DAYS = 30 * 86400;
const fixtures = loadFixtures();

// --- the web, as the Worker sees it: every document fixture, and ChatGPT's JWKS
const web = new Map();
const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
for (const f of fixtures) {
  if (f.document) web.set(f.document.client_id, f.document);
  if (f.document?.jwks_uri) {
    web.set(f.document.jwks_uri, { keys: [{ ...rsa.publicKey.export({ format: "jwk" }), kid: "compat-1", use: "sig", alg: "RS256" }] });
  }
}
async function outboundService(request) {
  const doc = web.get(request.url);
  if (!doc) return new Response("not found", { status: 404 });
  return new Response(JSON.stringify(doc), { headers: { "content-type": "application/json" } });
}

const b64url = (x) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");
function assertion(clientId, aud) {
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64url({ alg: "RS256", kid: "compat-1", typ: "JWT" })}.${b64url({
    iss: clientId, sub: clientId, aud, iat: now, exp: now + 60, jti: crypto.randomUUID(),
  })}`;
  return `${head}.${crypto.sign("sha256", Buffer.from(head), rsa.privateKey).toString("base64url")}`;
}

async function adminCall(w, method, p, body) {
  const res = await w.fetch(p, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: await res.json().catch(() => undefined) };
}

async function script(w, ...args) {
  const { stdout } = await promisify(execFile)("sh", [path.join(root, "scripts", "admin.sh"), ...args], {
    env: { ...process.env, ADMIN_URL: w.url, ADMIN_TOKEN },
  });
  return JSON.parse(stdout);
}

const fill = (value, port) => JSON.parse(JSON.stringify(value ?? null).replaceAll("{port}", String(port)));

/** Registers the fixture's client the way the real one does: { clientId, secret }. */
async function registerAs(w, f, port) {
  if (f.registers === "cimd") return { clientId: f.document.client_id };
  const body = fill(f.registration, port);
  if (f.registers === "admin") {
    const made = await script(w, "create-client", body.client_name, ...body.redirect_uris, ...(f.auth === "client_secret_post" ? ["--post"] : []));
    assert.ok(made.client_secret, "the secret is shown once, at creation");
    assert.equal(made.client_secret_expires_at, 0);
    return { clientId: made.client_id, secret: made.client_secret };
  }
  const res = await w.fetch("/register", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = await res.json();
  assert.equal(res.status, 201, JSON.stringify(json));
  assert.deepEqual(json.redirect_uris, body.redirect_uris, "every redirect URI registered as sent");
  return { clientId: json.client_id, secret: json.client_secret };
}

/** The client's authentication at /token, added to `form`; returns the headers. */
function authenticate(w, f, reg, form) {
  if (f.auth === "private_key_jwt") {
    form.client_assertion_type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    form.client_assertion = assertion(reg.clientId, f.assertion_aud === "issuer" ? w.url : `${w.url}/token`);
    return {};
  }
  if (f.auth === "client_secret_post") {
    Object.assign(form, { client_id: reg.clientId, client_secret: reg.secret });
    return {};
  }
  if (f.auth === "client_secret_basic") {
    const basic = Buffer.from(`${encodeURIComponent(reg.clientId)}:${encodeURIComponent(reg.secret)}`).toString("base64");
    return { authorization: `Basic ${basic}` };
  }
  form.client_id = reg.clientId;
  return {};
}

async function scopeOf(w, f) {
  if (f.scope !== "$scopes_supported") return f.scope;
  const prm = await (await w.fetch("/.well-known/oauth-protected-resource/mcp")).json();
  return prm.scopes_supported.join(" ");
}

/** /authorize, consent, sign-in: the code at the client's redirect URI. */
async function authorizeAs(w, f, reg, redirect) {
  const scope = await scopeOf(w, f);
  const params = { state: "compat-state", scope: scope || null, resource: f.resource.authorize ? `${w.url}/mcp` : null };
  const { location, res, verifier } = await authorizeCode(w.url, { client_id: reg.clientId, redirect_uris: [redirect] }, { params });
  return { location, res, verifier };
}

async function exchange(w, f, reg, redirect, code, verifier) {
  const form = { grant_type: "authorization_code", code, redirect_uri: redirect, code_verifier: verifier };
  if (f.resource.token) form.resource = `${w.url}/mcp`;
  const headers = authenticate(w, f, reg, form);
  return tokenRequest(w.url, form, headers);
}

async function refresh(w, f, reg, refreshToken) {
  const form = { grant_type: "refresh_token", refresh_token: refreshToken };
  if (f.resource.refresh) form.resource = `${w.url}/mcp`;
  const headers = authenticate(w, f, reg, form);
  return tokenRequest(w.url, form, headers);
}

async function whoami(w, accessToken) {
  const transport = new StreamableHTTPClientTransport(new URL(`${w.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${accessToken}` } },
  });
  const client = new Client({ name: "compat", version: "1" });
  await client.connect(transport);
  try {
    const r = await client.callTool({ name: "whoami", arguments: {} });
    assert.equal(r.isError, false, JSON.stringify(r));
    return r.structuredContent;
  } finally {
    await client.close();
  }
}

/** The whole flow as `f`. Returns what a later test may reuse. */
async function connectAs(w, f) {
  const port = 20000 + Math.floor(Math.random() * 40000);
  if (f.strict_resource) {
    const prm = await (await w.fetch("/.well-known/oauth-protected-resource/mcp")).json();
    assert.equal(prm.resource, `${w.url}/mcp`, "the resource is the server URL exactly");
  }
  const reg = await registerAs(w, f, port);
  const redirect = fill(f.redirect, port);
  const { location, res, verifier } = await authorizeAs(w, f, reg, redirect);
  assert.ok(location, `redirected back (got ${res?.status} ${res && (await res.text()).slice(0, 400)})`);
  const back = new URL(location);
  assert.equal(`${back.protocol}//${back.host}${back.pathname}`, `${new URL(redirect).protocol}//${new URL(redirect).host}${new URL(redirect).pathname}`);
  assert.equal(back.searchParams.get("state"), "compat-state");
  assert.equal(back.searchParams.get("iss"), w.url);
  const tok = await exchange(w, f, reg, redirect, back.searchParams.get("code"), verifier);
  assert.equal(tok.status, 200, JSON.stringify(tok.body));
  assert.equal(tok.body.token_type, "Bearer");
  assert.equal(tok.body.expires_in, THIRTY_DAYS, "ACCESS_TOKEN_TTL of 30 days is accepted and used");
  // RFC 6749 §3.3: the response says what was granted; unknown scopes were dropped.
  const granted = tok.body.scope.split(" ");
  assert.ok(granted.includes("mcp"));
  for (const s of granted) assert.ok(["mcp", "github:repos"].includes(s), `granted only known scopes: ${tok.body.scope}`);
  const who = await whoami(w, tok.body.access_token);
  assert.equal(who.client_id, reg.clientId);
  assert.deepEqual(who.scopes, granted);
  return { reg, redirect, tokens: tok.body };
}

let w;
before(async () => {
  w = await startWorker({ outboundService, extraVars: { ADMIN_TOKEN, ACCESS_TOKEN_TTL: String(THIRTY_DAYS) } });
});
after(async () => { await w?.dispose(); });

describe("each client, through to a tool call and its refresh habit", () => {
  for (const f of fixtures) {
    test(`${f.name}: ${f.expect}`, async () => {
      if (f.expect === "refused") {
        const port = 20000 + Math.floor(Math.random() * 40000);
        const reg = await registerAs(w, f, port);
        const { location, res } = await authorizeAs(w, f, reg, fill(f.redirect, port));
        assert.equal(location, undefined, "never sent back to the client");
        assert.equal(res.status, 400);
        assert.match(await res.text(), /not registered for this application/);
        return;
      }
      const conn = await connectAs(w, f);
      if (f.refresh === "reauthorize") {
        // Its habit: a new authorization when the access token expires...
        const again = await connectAs(w, f);
        assert.notEqual(again.tokens.access_token, conn.tokens.access_token);
      }
      // ...and the refresh, with its own resource and authentication habits.
      const r = await refresh(w, f, conn.reg, conn.tokens.refresh_token);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.notEqual(r.body.refresh_token, conn.tokens.refresh_token, "rotated");
      assert.equal(r.body.scope, conn.tokens.scope);
      assert.equal((await whoami(w, r.body.access_token)).client_id, conn.reg.clientId);
    });
  }
});

describe("client admission (CLIENT_POLICY=listed, REGISTRATION=off)", () => {
  let listed;
  before(async () => {
    listed = await startWorker({
      outboundService,
      extraVars: { ADMIN_TOKEN, ACCESS_TOKEN_TTL: String(THIRTY_DAYS), CLIENT_POLICY: "listed", ALLOWED_CLIENTS: "https://chatgpt.com/oauth/*", REGISTRATION: "off" },
    });
  });
  after(async () => { await listed?.dispose(); });
  const byName = (n) => fixtures.find((f) => f.name === n);

  test("an unlisted document client is refused on our page, naming it", async () => {
    const f = byName("Claude.ai");
    const { location, res } = await authorizeAs(listed, f, { clientId: f.document.client_id }, f.redirect);
    assert.equal(location, undefined);
    assert.equal(res.status, 403);
    const html = await res.text();
    assert.match(html, /Claude/);
    assert.ok(html.includes(f.document.client_id), "names the client id");
    assert.match(html, /operator has not allowed/);
  });

  test("a listed one connects (a prefix pattern admits ChatGPT and Codex)", async () => {
    await connectAs(listed, byName("ChatGPT (private_key_jwt)"));
    await connectAs(listed, byName("Codex"));
  });

  test("REGISTRATION=off closes /register and stops advertising it; operator clients still connect", async () => {
    const res = await listed.fetch("/register", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(byName("Cursor").registration) });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).error, "access_denied");
    const meta = await (await listed.fetch("/.well-known/oauth-authorization-server")).json();
    assert.equal(meta.registration_endpoint, undefined);
    await connectAs(listed, byName("Gemini Enterprise"));
  });
});

describe("the block list", () => {
  test("a blocked DCR client stays blocked after it registers again", async () => {
    const f = fixtures.find((x) => x.name === "Cursor");
    const conn = await connectAs(w, f);
    const blocked = await script(w, "block", "client_id", conn.reg.clientId);
    assert.equal(blocked.client_deleted, true);
    assert.ok(blocked.revoked_grants >= 1);
    // Registering the same metadata again gives the same id, which is refused.
    const again = await w.fetch("/register", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(f.registration) });
    assert.equal(again.status, 403);
    assert.equal((await again.json()).error, "access_denied");
    const { location, res } = await authorizeAs(w, f, conn.reg, f.redirect);
    assert.equal(location, undefined);
    assert.equal(res.status, 403, "named as blocked, though its record is gone");
    const html = await res.text();
    assert.ok(html.includes(conn.reg.clientId));
    assert.match(html, /operator has not allowed this application: it has been blocked/);
    assert.equal((await refresh(w, f, conn.reg, conn.tokens.refresh_token)).status, 401);
    // Unblocked, it registers and connects again.
    assert.equal((await script(w, "unblock", "client_id", conn.reg.clientId)).removed, true);
    await connectAs(w, f);
  });

  test("a blocked document host refuses sign-in on our page and refreshes at /token", async () => {
    const f = fixtures.find((x) => x.name === "Zed");
    const conn = await connectAs(w, f);
    const listed = await script(w, "block", "document_host", "ZED.dev");
    assert.deepEqual(listed.blocked, { kind: "document_host", value: "zed.dev" });
    const { location, res } = await authorizeAs(w, f, conn.reg, fill(f.redirect, 4242));
    assert.equal(location, undefined);
    assert.equal(res.status, 403);
    assert.match(await res.text(), /Zed/);
    const r = await refresh(w, f, conn.reg, conn.tokens.refresh_token);
    assert.equal(r.status, 400);
    assert.equal(r.body.error, "unauthorized_client");
    const list = await adminCall(w, "GET", "/admin/blocks");
    assert.ok(list.json.blocks.some((b) => b.kind === "document_host" && b.value === "zed.dev"));
    await script(w, "unblock", "document_host", "zed.dev");
    await connectAs(w, f);
  });

  test("a blocked document URL ends its grants at once and refuses it; other documents of the host still connect", async () => {
    const f = fixtures.find((x) => x.name === "ChatGPT (none)");
    const conn = await connectAs(w, f);
    const blocked = await script(w, "block", "document_url", f.document.client_id);
    assert.ok(blocked.revoked_grants >= 1, JSON.stringify(blocked));
    const res = await w.fetch("/mcp", {
      method: "POST",
      headers: { authorization: `Bearer ${conn.tokens.access_token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "e2e", version: "1" } } }),
    });
    await res.arrayBuffer();
    assert.equal(res.status, 401, "its access token stopped working");
    const again = await authorizeAs(w, f, conn.reg, f.redirect);
    assert.equal(again.location, undefined);
    assert.equal(again.res.status, 403);
    await connectAs(w, fixtures.find((x) => x.name === "ChatGPT (private_key_jwt)"));
    await script(w, "unblock", "document_url", f.document.client_id);
    await connectAs(w, f);
  });

  test("bad block requests get a clear 400", async () => {
    for (const body of [{}, { client_id: "https://a.example/x" }, { document_host: "https://zed.dev" }, { client_id: "a", document_host: "b.example" }]) {
      const r = await adminCall(w, "POST", "/admin/blocks", body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.json.error, "invalid_request");
    }
  });
});

describe("operator-made clients", () => {
  test("POST /admin/clients refuses a public client and a bad redirect, clearly", async () => {
    for (const body of [
      { redirect_uris: ["https://vertexaisearch.cloud.google.com/oauth-redirect"], token_endpoint_auth_method: "none" },
      { redirect_uris: ["http://vertexaisearch.cloud.google.com/oauth-redirect"] },
      { client_name: "no redirect" },
    ]) {
      const r = await adminCall(w, "POST", "/admin/clients", body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.ok(r.json.error_description, JSON.stringify(r.json));
    }
  });

  test("the secret works once shown and a wrong one is refused", async () => {
    const made = await script(w, "create-client", "Basic client", "https://ops.example.com/cb");
    assert.equal(made.token_endpoint_auth_method, "client_secret_basic");
    const listedClients = await adminCall(w, "GET", "/admin/clients?limit=100");
    const row = listedClients.json.clients.find((c) => c.client_id === made.client_id);
    assert.equal(row.expires_at, 0, "never expires");
    assert.equal(JSON.stringify(row).includes(made.client_secret), false, "the secret is not shown again");
    const bad = await tokenRequest(w.url, { grant_type: "refresh_token", refresh_token: "x" }, {
      authorization: `Basic ${Buffer.from(`${made.client_id}:wrong`).toString("base64")}`,
    });
    assert.equal(bad.status, 401);
  });
});

test("Goose's consent page shows only what is granted (its openid profile email are dropped)", async () => {
  const f = fixtures.find((x) => x.name === "Goose");
  const u = new URL(`${w.url}/authorize`);
  const params = {
    response_type: "code", client_id: f.document.client_id, redirect_uri: fill(f.redirect, 51515), state: "s",
    code_challenge: pkcePair().challenge, code_challenge_method: "S256", scope: f.scope, resource: `${w.url}/mcp`,
  };
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  const res = await fetch(u, { redirect: "manual" });
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /name="ticket"/);
  const list = html.match(/<ul id="scopes">([\s\S]*?)<\/ul>/)?.[1] ?? "";
  const shown = [...list.matchAll(/<strong>([^<]+)<\/strong>/g)].map((m) => m[1]);
  assert.deepEqual(shown, ["mcp"], "only the granted scope is listed");
  assert.doesNotMatch(list, /unknown permission/i);
});

test("SEP-3149: a document whose methods share none with ours is refused on our page, saying so", async () => {
  const id = "https://client.acmecorp.com/oauth/client-metadata.json";
  web.set(id, {
    client_id: id, client_name: "Basic-only agent", redirect_uris: ["https://client.acmecorp.com/cb"],
    // Neither is ours, and neither rests on a shared secret (a document listing one of
    // those is refused for that reason first, as the draft says).
    token_endpoint_auth_methods_supported: ["tls_client_auth", "self_signed_tls_client_auth"],
  });
  const f = { scope: null, resource: { authorize: true } };
  const { location, res } = await authorizeAs(w, f, { clientId: id }, "https://client.acmecorp.com/cb");
  assert.equal(location, undefined);
  assert.equal(res.status, 400);
  assert.match(await res.text(), /none of the document(&#39;|&#x27;|')s authentication methods \(tls_client_auth, self_signed_tls_client_auth\) is supported here/);
});

test("a policy setting that does not parse stops the Worker with a message naming it", async () => {
  for (const [vars, name, fragment] of [
    [{ CLIENT_POLICY: "closed" }, "CLIENT_POLICY", /'closed' is not a policy/],
    [{ CLIENT_POLICY: "listed", ALLOWED_CLIENTS: "*" }, "ALLOWED_CLIENTS", /would allow every client/],
    [{ CLIENT_POLICY: "listed", ALLOWED_CLIENTS: "https://*.com/*" }, "ALLOWED_CLIENTS", /whole top-level domain/],
    [{ ALLOWED_CLIENTS: "https://chatgpt.com/oauth/*" }, "ALLOWED_CLIENTS", /CLIENT_POLICY is open/],
    [{ REGISTRATION: "sometimes" }, "REGISTRATION", /neither on nor off/],
    [{ ACCESS_TOKEN_TTL: String(THIRTY_DAYS + 1) }, "ACCESS_TOKEN_TTL", /out of range/],
  ]) {
    const bad = await startWorker({ extraVars: vars });
    try {
      for (const p of ["/health", "/.well-known/oauth-authorization-server"]) {
        const res = await bad.fetch(p);
        assert.equal(res.status, 500, `${name} at ${p}`);
        const body = await res.json();
        assert.equal(body.error, "server_misconfigured");
        assert.ok(body.error_description.startsWith(`${name} is invalid`), body.error_description);
        assert.match(body.error_description, fragment);
      }
    } finally {
      await bad.dispose();
    }
  }
});

test("docs/clients.md and the README's client paragraph are rendered from the fixtures", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(root, "scripts", "clients-doc.mjs"), "--check"]);
  assert.match(stdout, /up to date/);
});
