// Safe to leave on the open internet: rate limits from the real Workers Rate
// Limiting binding (Miniflare runs it), bodies refused while they stream,
// registration that does not grow storage, and upstream discovery failures
// that answer 503 without the provider's words. Needs `make build`.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startWorker, rateLimits, DEV_VARS } from "./harness.mjs";
import { Browser, authorizeUrl, formFields, pkcePair, registerClient } from "./browser.mjs";

const json = { "content-type": "application/json" };
const ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef0123456789";
const form = { "content-type": "application/x-www-form-urlencoded" };

/**
 * The binding counts in fixed windows of 60 s. A test that needs N requests in
 * one window waits out the last seconds of a window instead of straddling two.
 */
async function freshWindow() {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 50_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 200));
}

function fromIp(ip, headers = {}) {
  return { ...headers, "cf-connecting-ip": ip };
}

async function register(w, ip, metadata = {}) {
  return w.fetch("/register", {
    method: "POST",
    headers: fromIp(ip, json),
    body: JSON.stringify({ redirect_uris: ["http://127.0.0.1:9/callback"], token_endpoint_auth_method: "none", ...metadata }),
  });
}

async function assertJson429(res) {
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "60");
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  const body = await res.json();
  assert.equal(body.error, "temporarily_unavailable");
  assert.match(body.error_description, /retry after 60 seconds/);
}

describe("rate limits (Workers Rate Limiting binding, small limits)", () => {
  let w;
  before(async () => {
    w = await startWorker({
      rateLimits: rateLimits(1000, { RL_REGISTER: 3, RL_TOKEN_IP: 4, RL_TOKEN_CLIENT: 2, RL_BROWSER: 3, RL_BEARER_FAILURE: 2 }),
    });
  });
  after(async () => { await w?.dispose(); });

  test("/register per client IP: the request over the limit gets 429 with Retry-After; other addresses are not affected", async () => {
    await freshWindow();
    for (let i = 0; i < 3; i++) {
      const res = await register(w, "198.51.100.10", { client_name: `app ${i}` });
      assert.equal(res.status, 201, await res.text());
    }
    await assertJson429(await register(w, "198.51.100.10", { client_name: "one too many" }));
    assert.equal((await register(w, "198.51.100.11", { client_name: "elsewhere" })).status, 201);
    // An IPv6 address counts as its /64.
    for (let i = 0; i < 3; i++) assert.equal((await register(w, `2001:db8:5:6::${i + 1}`, { client_name: `v6 ${i}` })).status, 201);
    await assertJson429(await register(w, "2001:db8:5:6:ffff::1", { client_name: "same /64" }));
  });

  test("CORS preflights are not counted", async () => {
    await freshWindow();
    for (let i = 0; i < 6; i++) {
      const res = await w.fetch("/register", { method: "OPTIONS", headers: fromIp("198.51.100.12") });
      assert.equal(res.status, 204);
    }
    assert.equal((await register(w, "198.51.100.12")).status, 201);
  });

  test("/token per client_id at one address, in the form or in Basic credentials; other networks keep the app", async () => {
    await freshWindow();
    const token = (ip, body, headers = {}) => w.fetch("/token", { method: "POST", headers: fromIp(ip, { ...form, ...headers }), body });
    const bad = "grant_type=refresh_token&refresh_token=nope&client_id=limited-client";
    const ip = "203.0.113.1";
    assert.notEqual((await token(ip, bad)).status, 429);
    assert.notEqual((await token(ip, bad)).status, 429);
    await assertJson429(await token(ip, bad));
    // The same client named by HTTP Basic is the same counter.
    const basic = "Basic " + Buffer.from("limited-client:secret").toString("base64");
    await assertJson429(await token(ip, "grant_type=refresh_token&refresh_token=nope", { authorization: basic }));
    // Users of the same app on other networks are not locked out by this address.
    for (const elsewhere of ["203.0.113.2", "198.51.100.77"]) {
      assert.notEqual((await token(elsewhere, bad)).status, 429, elsewhere);
    }
  });

  test("/token and /revoke per client IP, whatever client they name", async () => {
    await freshWindow();
    const ip = "203.0.113.20";
    for (let i = 0; i < 2; i++) {
      const res = await w.fetch("/token", { method: "POST", headers: fromIp(ip, form), body: `grant_type=refresh_token&refresh_token=x&client_id=c${i}` });
      assert.notEqual(res.status, 429);
    }
    for (let i = 2; i < 4; i++) {
      const res = await w.fetch("/revoke", { method: "POST", headers: fromIp(ip, form), body: `token=x&client_id=c${i}` });
      assert.notEqual(res.status, 429);
    }
    await assertJson429(await w.fetch("/revoke", { method: "POST", headers: fromIp(ip, form), body: "token=x&client_id=c9" }));
  });

  test("/authorize and /callback per client IP answer an HTML page with 429 and Retry-After", async () => {
    await freshWindow();
    const ip = "192.0.2.30";
    for (let i = 0; i < 2; i++) {
      const res = await w.fetch("/authorize?client_id=nobody", { headers: fromIp(ip) });
      assert.equal(res.status, 400);
      await res.text();
    }
    assert.equal((await w.fetch("/callback?state=x", { headers: fromIp(ip) })).status, 400);
    const res = await w.fetch("/callback?state=x", { headers: fromIp(ip) });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), "60");
    assert.match(res.headers.get("content-type"), /^text\/html/);
    assert.match(await res.text(), /Too many requests/);
    assert.equal(res.headers.get("location"), null);
  });

  test("/account and /dev/login are counted per client IP as browser pages", async () => {
    await freshWindow();
    const ip = "192.0.2.50";
    assert.equal((await w.fetch("/account", { headers: fromIp(ip), redirect: "manual" })).status, 302);
    assert.equal((await w.fetch("/account/login", { headers: fromIp(ip), redirect: "manual" })).status, 302);
    const login = await w.fetch("/dev/login?state=x", { headers: fromIp(ip) });
    assert.notEqual(login.status, 429);
    await login.text();
    for (const p of ["/account", "/dev/login?state=x"]) {
      const res = await w.fetch(p, { headers: fromIp(ip), redirect: "manual" });
      assert.equal(res.status, 429, p);
      assert.equal(res.headers.get("retry-after"), "60");
      assert.match(await res.text(), /Too many requests/);
    }
    assert.equal((await w.fetch("/account", { headers: fromIp("192.0.2.51"), redirect: "manual" })).status, 302, "another address");
  });

  test("a /token request that authenticates by assertion alone is counted per client (the assertion's iss)", async () => {
    await freshWindow();
    const ip = "203.0.113.60";
    const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const jwt = `${b64({ alg: "ES256", typ: "JWT" })}.${b64({ iss: "https://app.example/client.json", sub: "https://app.example/client.json" })}.c2ln`;
    const body = new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: "x",
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: jwt,
    }).toString();
    // RL_TOKEN_CLIENT is 2 (RL_TOKEN_IP 4): the third from this client at this address is refused.
    for (let i = 0; i < 2; i++) {
      const res = await w.fetch("/token", { method: "POST", headers: fromIp(ip, form), body });
      assert.notEqual(res.status, 429);
      await res.text();
    }
    await assertJson429(await w.fetch("/token", { method: "POST", headers: fromIp(ip, form), body }));
    // Another client at the same address still has the address's budget.
    const other = await w.fetch("/token", { method: "POST", headers: fromIp(ip, form), body: "grant_type=refresh_token&refresh_token=x&client_id=someone" });
    assert.notEqual(other.status, 429);
    await other.text();
  });

  test("/mcp counts refused bearer tokens per IP, not requests without a token", async () => {
    await freshWindow();
    const ip = "192.0.2.40";
    const mcp = (headers = {}) => w.fetch("/mcp", { method: "POST", headers: fromIp(ip, { ...json, accept: "application/json, text/event-stream", ...headers }), body: "{}" });
    for (let i = 0; i < 4; i++) assert.equal((await mcp()).status, 401, "discovery probes are never limited");
    assert.equal((await mcp({ authorization: "Bearer guess-1" })).status, 401);
    assert.equal((await mcp({ authorization: "Bearer guess-2" })).status, 401);
    await assertJson429(await mcp({ authorization: "Bearer guess-3" }));
    const elsewhere = await w.fetch("/mcp", { method: "POST", headers: fromIp("192.0.2.41", { ...json, authorization: "Bearer guess" }), body: "{}" });
    assert.equal(elsewhere.status, 401);
  });
});

describe("an address over the bearer-failure limit at /mcp", () => {
  let w;
  before(async () => {
    w = await startWorker({ rateLimits: rateLimits(1000, { RL_BEARER_FAILURE: 2 }), countStorage: true, extraVars: { ADMIN_TOKEN } });
  });
  after(async () => { await w?.dispose(); });

  test("has its next token counted and refused before any KV read", async () => {
    await freshWindow();
    const ip = "192.0.2.70";
    const mcp = (token) => w.fetch("/mcp", { method: "POST", headers: fromIp(ip, { ...json, accept: "application/json, text/event-stream", authorization: `Bearer ${token}` }), body: "{}" });
    // Shaped like our access tokens, so each is looked up in KV.
    const guess = (n) => `mcpa.guessguessguessguess.${String(n).repeat(40)}`;
    for (const n of [1, 2]) {
      await w.storageCounts({ reset: true });
      assert.equal((await mcp(guess(n))).status, 401);
      assert.equal((await w.storageCounts())["kv.get"], 1, "a guess below the limit is looked up");
    }
    await assertJson429(await mcp(guess(3)));
    await w.storageCounts({ reset: true });
    await assertJson429(await mcp(guess(4)));
    const counts = await w.storageCounts();
    assert.equal(counts["kv.get"] ?? 0, 0, JSON.stringify(counts));
  });
});

describe("wrong admin tokens", () => {
  let w;
  before(async () => {
    w = await startWorker({ rateLimits: rateLimits(1000, { RL_BEARER_FAILURE: 2 }), extraVars: { ADMIN_TOKEN } });
  });
  after(async () => { await w?.dispose(); });

  test("are counted per address; once over, even the right token is refused there", async () => {
    await freshWindow();
    const admin = (ip, token) => w.fetch("/admin/clients", { headers: fromIp(ip, { authorization: `Bearer ${token}` }) });
    const ip = "192.0.2.80";
    for (let i = 0; i < 2; i++) assert.equal((await admin(ip, `wrong-admin-token-${i}-0123456789abcdef0123`)).status, 401);
    for (const token of ["wrong-admin-token-3-0123456789abcdef0123", ADMIN_TOKEN]) {
      const res = await admin(ip, token);
      assert.equal(res.status, 429);
      assert.equal(res.headers.get("retry-after"), "60");
      assert.equal((await res.json()).error, "temporarily_unavailable");
    }
    const elsewhere = await admin("192.0.2.81", ADMIN_TOKEN);
    assert.equal(elsewhere.status, 200);
    await elsewhere.text();
  });
});

describe("without the rate limit bindings", () => {
  let w;
  before(async () => { w = await startWorker({ rateLimits: {} }); });
  after(async () => { await w?.dispose(); });

  test("nothing is limited, and /health warns instead of failing", async () => {
    const health = await w.fetch("/health");
    assert.equal(health.status, 200);
    const body = await health.json();
    assert.equal(body.status, "ok");
    assert.match(body.warnings.join(" "), /rate limiting is off for RL_REGISTER, RL_TOKEN_IP, RL_TOKEN_CLIENT, RL_BROWSER, RL_BEARER_FAILURE/);
    for (let i = 0; i < 12; i++) assert.equal((await register(w, "198.51.100.99", { client_name: `n${i}` })).status, 201);
  });

  test("/health carries no warning when the bindings are there", async () => {
    const other = await startWorker();
    try {
      const body = await (await other.fetch("/health")).json();
      assert.equal(body.warnings, undefined);
    } finally {
      await other.dispose();
    }
  });
});

describe("registration and storage", () => {
  let w;
  before(async () => { w = await startWorker({ countStorage: true }); });
  after(async () => { await w?.dispose(); });

  test("identical public registrations share one client, and only the first writes to KV", async () => {
    const metadata = { client_name: "Shared app", redirect_uris: ["https://app.example/cb", "http://127.0.0.1:7777/cb"] };
    await w.storageCounts({ reset: true });
    const first = await registerClient(w.url, metadata);
    const firstOps = await w.storageCounts({ reset: true });
    assert.equal(firstOps["kv.put"], 1, JSON.stringify(firstOps));
    const again = [];
    for (let i = 0; i < 5; i++) again.push(await registerClient(w.url, metadata));
    const againOps = await w.storageCounts({ reset: true });
    assert.equal(againOps["kv.put"] ?? 0, 0, `re-registrations wrote: ${JSON.stringify(againOps)}`);
    // At most one read each: the isolate keeps the clients it read (or wrote) for 60 s.
    assert.ok((againOps["kv.get"] ?? 0) <= 5, JSON.stringify(againOps));
    for (const c of again) {
      assert.equal(c.client_id, first.client_id);
      assert.equal(c.client_id_issued_at, first.client_id_issued_at);
      assert.deepEqual(c, first);
    }
    const keys = (await w.kv.list({ prefix: "client:" })).keys.map((k) => k.name);
    assert.equal(keys.filter((k) => k === `client:${first.client_id}`).length, 1);
  });

  test("a different public registration is a different client", async () => {
    const a = await registerClient(w.url, { client_name: "App A" });
    const b = await registerClient(w.url, { client_name: "App B" });
    assert.notEqual(a.client_id, b.client_id);
  });

  test("confidential registrations still get a new client and secret each time (one write each)", async () => {
    await w.storageCounts({ reset: true });
    const metadata = { client_name: "Server app", token_endpoint_auth_method: "client_secret_basic" };
    const a = await registerClient(w.url, metadata);
    const b = await registerClient(w.url, metadata);
    assert.notEqual(a.client_id, b.client_id);
    assert.ok(a.client_secret && b.client_secret && a.client_secret !== b.client_secret);
    const ops = await w.storageCounts({ reset: true });
    assert.equal(ops["kv.put"], 2, JSON.stringify(ops));
  });

  test("too many redirect URIs, oversized fields and oversized bodies are refused with clear errors", async () => {
    const post = (body, headers = json) => w.fetch("/register", { method: "POST", headers, body });
    let res = await post(JSON.stringify({ redirect_uris: Array.from({ length: 11 }, (_, i) => `https://a.example/cb${i}`), token_endpoint_auth_method: "none" }));
    assert.equal(res.status, 400);
    let body = await res.json();
    assert.equal(body.error, "invalid_redirect_uri");
    assert.match(body.error_description, /at most 10 redirect_uris/);

    res = await post(JSON.stringify({ redirect_uris: [`https://a.example/${"p".repeat(2100)}`], token_endpoint_auth_method: "none" }));
    body = await res.json();
    assert.equal(body.error, "invalid_redirect_uri");
    assert.match(body.error_description, /longer than 2000/);

    for (const field of ["client_name", "software_id", "software_version"]) {
      res = await post(JSON.stringify({ redirect_uris: ["https://a.example/cb"], token_endpoint_auth_method: "none", [field]: "n".repeat(201) }));
      body = await res.json();
      assert.equal(body.error, "invalid_client_metadata", field);
      assert.match(body.error_description, new RegExp(`${field} must be at most 200 characters`));
    }
    res = await post(JSON.stringify({ redirect_uris: ["https://a.example/cb"], logo_uri: `https://a.example/${"l".repeat(2100)}` }));
    assert.equal((await res.json()).error, "invalid_client_metadata");

    // Over 16 KiB with a Content-Length: refused before it is read.
    res = await post(JSON.stringify({ redirect_uris: ["https://a.example/cb"], contacts: ["x".repeat(17 * 1024)] }));
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error, "payload_too_large");
  });
});

// A client Worker beside ours sends an endless chunked body over a service
// binding (no socket in between, so nothing but our Worker decides when the
// upload stops) and reports how many bytes its body source had to produce.
const ENDLESS_CLIENT = `
export default {
  async fetch(request, env) {
    const { path, headers } = await request.json();
    let produced = 0;
    const chunk = new Uint8Array(8 * 1024).fill(0x20);
    const body = new ReadableStream({ pull(c) { produced += chunk.length; c.enqueue(chunk); } });
    const res = await env.TARGET.fetch("http://127.0.0.1" + path, { method: "POST", headers, body });
    const text = await res.text();
    return Response.json({ status: res.status, text, produced });
  },
};`;

const DRAIN_CAP = 8 * 1024 * 1024;

describe("bounded bodies", () => {
  let w, client;
  before(async () => {
    w = await startWorker({ clients: [{ name: "endless-client", script: ENDLESS_CLIENT }] });
    client = await w.mf.getWorker("endless-client");
  });
  after(async () => { await w?.dispose(); });

  for (const [path, limit, headers] of [
    ["/register", 16 * 1024, json],
    ["/token", 16 * 1024, form],
    ["/mcp", 256 * 1024, { ...json, accept: "application/json, text/event-stream", authorization: "Bearer x" }],
  ]) {
    test(`an endless chunked body to ${path} gets 413 once it passes ${limit} bytes, and is read no further than the drain cap`, async () => {
      const res = await client.fetch("http://client/", { method: "POST", body: JSON.stringify({ path, headers }), signal: AbortSignal.timeout(20_000) });
      const { status, text, produced } = await res.json();
      assert.equal(status, 413, text);
      const body = JSON.parse(text);
      assert.equal(body.error, "payload_too_large");
      assert.match(body.error_description, new RegExp(`larger than ${limit} bytes`));
      // The source was asked for the limit, then at most the 8 MiB the Worker
      // reads and drops so that a client still writing reads the 413
      // (src/cloudflare/body.rs, DRAIN_CAP), and a little read-ahead: never
      // more, however long the client goes on.
      assert.ok(produced > limit && produced <= limit + DRAIN_CAP + 64 * 1024, `produced ${produced} bytes`);
    });
  }

  test("a chunked body under the limit is read whole", async () => {
    const text = JSON.stringify({ client_name: "chunked", redirect_uris: ["http://127.0.0.1:9/cb"], token_endpoint_auth_method: "none" });
    const bytes = new TextEncoder().encode(text);
    const body = new ReadableStream({
      start(c) {
        for (let i = 0; i < bytes.length; i += 7) c.enqueue(bytes.slice(i, i + 7));
        c.close();
      },
    });
    const res = await w.fetch("/register", { method: "POST", headers: json, body, duplex: "half" });
    assert.equal(res.status, 201, await res.clone().text());
    assert.equal((await res.json()).client_name, "chunked");
  });
});

describe("OpenID Connect discovery failure", () => {
  let w, upstream, hits = 0;
  before(async () => {
    // An "identity provider" whose discovery document is broken, and chatty about it.
    upstream = http.createServer((req, res) => {
      hits++;
      res.writeHead(500, { "content-type": "text/plain" });
      res.end("stack trace: db password hunter2 at 10.1.2.3");
    });
    await new Promise((r) => upstream.listen(0, "127.0.0.1", r));
    const issuer = `http://127.0.0.1:${upstream.address().port}`;
    w = await startWorker({ vars: { ...DEV_VARS, UPSTREAM_PROVIDER: "oidc", OIDC_ISSUER: issuer, OIDC_CLIENT_ID: "cid", OIDC_CLIENT_SECRET: "csecret" } });
  });
  after(async () => {
    await w?.dispose();
    await new Promise((r) => upstream?.close(r));
  });

  async function approve() {
    const client = await registerClient(w.url);
    const { challenge } = pkcePair();
    const browser = new Browser();
    const page = await browser.request(authorizeUrl(w.url, client, { code_challenge: challenge, code_challenge_method: "S256" }));
    assert.equal(page.status, 200);
    const fields = formFields(await page.text());
    return browser.request(`${w.url}/authorize`, { method: "POST", form: { ...fields, action: "approve" } });
  }

  test("answers 503 with Retry-After, as a page for the person in the browser, without the provider's text", async () => {
    assert.equal((await w.fetch("/health")).status, 200, "health does not contact the provider");
    const res = await approve();
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), "30");
    assert.match(res.headers.get("content-type"), /^text\/html/);
    const text = await res.text();
    assert.match(text, /The sign-in service is not answering/);
    assert.match(text, /try again in 30 seconds/);
    for (const leak of ["hunter2", "10.1.2.3", "stack trace", "500", "127.0.0.1"]) assert.ok(!text.includes(leak), `${leak} in ${text}`);
  });

  test("a failed discovery is not fetched again for every request", async () => {
    const before = hits;
    const res = await approve();
    assert.equal(res.status, 503);
    const retry = Number(res.headers.get("retry-after"));
    assert.ok(retry >= 1 && retry <= 30, `Retry-After ${retry}`);
    assert.equal(hits, before, "the provider was asked again within the retry window");
  });
});
