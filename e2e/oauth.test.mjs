// The authorization server, end to end in real workerd: the MCP TypeScript
// SDK's OAuth client drives discovery, registration, PKCE, consent (a scripted
// user with a cookie jar), tokens and refresh; raw requests prove each MUST
// of the spec by trying to break it.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError, refreshAuthorization, discoverAuthorizationServerMetadata } from "@modelcontextprotocol/sdk/client/auth.js";
import { DEV_VARS, startWorker } from "./harness.mjs";
import { accessKey, forgeAccessRecord } from "./forge.mjs";
import { Browser, ScriptedProvider, authorizeCode, authorizeUrl, consentAndSignIn, formFields, obtainTokens, pkcePair, registerClient, tokenRequest } from "./browser.mjs";

let w;
before(async () => { w = await startWorker(); });
after(async () => { await w?.dispose(); });

const mcpCall = (token, body, headers = {}) =>
  fetch(`${w.url}/mcp`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: JSON.stringify(body),
  });
const initialize = (token) => mcpCall(token, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "e2e", version: "1" } } });

describe("the MCP SDK's OAuth client, start to finish", () => {
  test("discovers from the 401, registers, authorizes with PKCE through consent, gets and refreshes tokens", async () => {
    const provider = new ScriptedProvider("http://127.0.0.1:5555/oauth/callback");
    let transport = new StreamableHTTPClientTransport(new URL(`${w.url}/mcp`), { authProvider: provider });
    await assert.rejects(new Client({ name: "e2e", version: "1" }).connect(transport), UnauthorizedError);

    assert.ok(provider.clientInformation()?.client_id, "the SDK registered a client (RFC 7591)");
    const authUrl = provider.authUrl;
    assert.equal(authUrl.origin + authUrl.pathname, `${w.url}/authorize`);
    assert.equal(authUrl.searchParams.get("code_challenge_method"), "S256");
    assert.equal(authUrl.searchParams.get("resource"), `${w.url}/mcp`);

    const { location } = await consentAndSignIn(w.url, authUrl.toString());
    const back = new URL(location);
    assert.equal(back.origin + back.pathname, "http://127.0.0.1:5555/oauth/callback");
    assert.equal(back.searchParams.get("state"), "sdk-state-42");
    assert.equal(back.searchParams.get("iss"), w.url, "RFC 9207 iss equals the issuer");
    await transport.finishAuth(back.searchParams.get("code"));
    const first = provider.tokens();
    assert.ok(first.access_token && first.refresh_token);

    transport = new StreamableHTTPClientTransport(new URL(`${w.url}/mcp`), { authProvider: provider });
    const client = new Client({ name: "e2e", version: "1" });
    await client.connect(transport);
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === "whoami"));
    const who = await client.callTool({ name: "whoami", arguments: {} });
    assert.match(JSON.stringify(who), /ada/);
    await client.close();

    // Refresh with rotation, through the SDK's own refresh function.
    const metadata = await discoverAuthorizationServerMetadata(new URL(w.url));
    const second = await refreshAuthorization(new URL(w.url), {
      metadata, clientInformation: provider.clientInformation(), refreshToken: first.refresh_token, resource: new URL(`${w.url}/mcp`),
    });
    assert.notEqual(second.refresh_token, first.refresh_token, "the refresh token rotates");
    assert.notEqual(second.access_token, first.access_token);
    assert.equal((await initialize(second.access_token)).status, 200, "the new access token works");
  });
});

describe("metadata", () => {
  test("RFC 8414 metadata: issuer byte-identical, S256 only, iss parameter, CORS", async () => {
    for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]) {
      const res = await w.fetch(path);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
      const m = await res.json();
      assert.equal(m.issuer, w.url);
      assert.deepEqual(m.code_challenge_methods_supported, ["S256"]);
      assert.deepEqual(m.response_types_supported, ["code"]);
      assert.ok(m.token_endpoint_auth_methods_supported.includes("none"));
      assert.equal(m.authorization_response_iss_parameter_supported, true);
      assert.equal(m.token_endpoint, `${w.url}/token`);
      assert.equal(m.registration_endpoint, `${w.url}/register`);
      assert.equal(m.revocation_endpoint, `${w.url}/revoke`);
    }
  });

  test("RFC 9728 metadata at both locations names the resource exactly and no offline_access", async () => {
    for (const path of ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]) {
      const m = await (await w.fetch(path)).json();
      assert.equal(m.resource, `${w.url}/mcp`);
      assert.deepEqual(m.authorization_servers, [w.url]);
      assert.ok(!m.scopes_supported.includes("offline_access"));
    }
  });

  test("repeated metadata requests get the same answer, each origin its own (the entry module's copies)", async () => {
    // From the second GET of a URL on, entry.js answers from the parts wasm made the
    // first time; each answer must be the one wasm would give for that URL.
    const get = async (base, path) => {
      const res = await w.mf.dispatchFetch(`${base}${path}`);
      return { status: res.status, type: res.headers.get("content-type"), cors: res.headers.get("access-control-allow-origin"), cache: res.headers.get("cache-control"), body: await res.text() };
    };
    for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/oauth-protected-resource/mcp", "/health"]) {
      const first = await get(w.url, path);
      assert.equal(first.status, 200, path);
      for (let i = 0; i < 3; i++) assert.deepEqual(await get(w.url, `${path}?n=${i}`), first, path);
      const other = "https://mcp.example.com";
      for (let i = 0; i < 2; i++) {
        const there = await get(other, path);
        assert.equal(there.status, 200);
        if (path === "/health") continue;
        assert.ok(!there.body.includes(w.url), `${path} at ${other} names only ${other}: ${there.body}`);
        assert.ok(there.body.includes(other), there.body);
      }
      assert.deepEqual(await get(w.url, path), first, `${path} at ${w.url} again`);
    }
  });

  test("preflight requests are answered for browser clients", async () => {
    const res = await w.fetch("/token", { method: "OPTIONS", headers: { origin: "http://localhost:6274", "access-control-request-method": "POST" } });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
  });
});

describe("registration (RFC 7591)", () => {
  test("refuses dangerous redirect URIs with invalid_redirect_uri", async () => {
    for (const uri of ["javascript:alert(1)", "data:text/html,x", "file:///etc/passwd", "https://user@evil.example/cb", "https://a.example/cb#frag", "http://evil.example/cb"]) {
      const res = await w.fetch("/register", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: [uri], token_endpoint_auth_method: "none" }) });
      assert.equal(res.status, 400, uri);
      assert.equal((await res.json()).error, "invalid_redirect_uri", uri);
    }
  });

  test("accepts the real clients' redirect URIs in one request (Cursor) and returns no management URI", async () => {
    const c = await registerClient(w.url, { redirect_uris: ["cursor://anysphere.cursor-mcp/oauth/callback", "https://claude.ai/api/mcp/auth_callback", "http://localhost:6274/oauth/callback", "http://127.0.0.1:33418/"] });
    assert.ok(c.client_id);
    assert.equal(c.registration_client_uri, undefined);
    assert.equal(c.client_secret, undefined, "public clients get no secret");
  });

  test("confidential clients get a secret once; it is stored only hashed", async () => {
    const c = await registerClient(w.url, { token_endpoint_auth_method: "client_secret_post" });
    assert.ok(c.client_secret.length >= 32);
    const stored = await w.kv.get(`client:${c.client_id}`);
    assert.ok(stored && !stored.includes(c.client_secret));
  });

  test("malformed and oversized bodies get clear errors, not 500", async () => {
    let res = await w.fetch("/register", { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error, "invalid_client_metadata");
    res = await w.fetch("/register", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: ["https://a.example/cb"], client_name: "x".repeat(20000) }) });
    assert.equal(res.status, 413);
  });
});

describe("authorization endpoint", () => {
  test("an unregistered redirect_uri is refused on a local page, never redirected", async () => {
    const c = await registerClient(w.url);
    const { verifier, challenge } = pkcePair(); void verifier;
    const res = await new Browser().request(authorizeUrl(w.url, c, { redirect_uri: "https://evil.example/cb", code_challenge: challenge, code_challenge_method: "S256" }));
    assert.equal(res.status, 400);
    assert.equal(res.headers.get("location"), null);
    assert.match(await res.text(), /not registered/);
  });

  test("an unknown client is refused on a local page", async () => {
    const res = await new Browser().request(`${w.url}/authorize?response_type=code&client_id=nope&redirect_uri=https://evil.example/cb`);
    assert.equal(res.status, 400);
    assert.equal(res.headers.get("location"), null);
  });

  // RFC 9700 §4.11.2: before the person did anything, no error goes back to the
  // client's redirect URI, or any registered client could use us to redirect.
  test("plain or missing PKCE is shown on our own page, naming the app's host, never redirected", async () => {
    const c = await registerClient(w.url);
    for (const params of [{ code_challenge: "x".repeat(43), code_challenge_method: "plain" }, {}]) {
      const res = await new Browser().request(authorizeUrl(w.url, c, params));
      assert.equal(res.status, 400);
      assert.equal(res.headers.get("location"), null);
      const html = await res.text();
      assert.match(html, /invalid_request/);
      assert.match(html, new RegExp(new URL(c.redirect_uris[0]).hostname.replaceAll(".", "\\.")));
    }
  });

  test("a resource other than this server's /mcp is invalid_target, on our own page", async () => {
    const c = await registerClient(w.url);
    const { challenge } = pkcePair();
    const res = await new Browser().request(authorizeUrl(w.url, c, { code_challenge: challenge, code_challenge_method: "S256", resource: "https://other.example/mcp" }));
    assert.equal(res.status, 400);
    assert.equal(res.headers.get("location"), null);
    assert.match(await res.text(), /invalid_target/);
  });

  test("the consent page escapes the client's name and forbids framing", async () => {
    const c = await registerClient(w.url, { client_name: "<script>alert('x')</script>" });
    const { challenge } = pkcePair();
    const res = await new Browser().request(authorizeUrl(w.url, c, { code_challenge: challenge, code_challenge_method: "S256" }));
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.ok(!html.includes("<script>alert('x')</script>"));
    assert.match(html, /&#60;script&#62;/);
    assert.match(res.headers.get("content-security-policy"), /frame-ancestors 'none'/);
  });

  test("denying consent sends access_denied with state and iss", async () => {
    const c = await registerClient(w.url);
    const { challenge } = pkcePair();
    const { location } = await consentAndSignIn(w.url, authorizeUrl(w.url, c, { code_challenge: challenge, code_challenge_method: "S256" }), { action: "deny" });
    const loc = new URL(location);
    assert.equal(loc.searchParams.get("error"), "access_denied");
    assert.equal(loc.searchParams.get("state"), "client-state-123");
    assert.equal(loc.searchParams.get("iss"), w.url);
  });

  test("a consent POST without the browser's CSRF cookie is refused", async () => {
    const c = await registerClient(w.url);
    const { challenge } = pkcePair();
    const victim = new Browser();
    const page = await (await victim.request(authorizeUrl(w.url, c, { code_challenge: challenge, code_challenge_method: "S256" }))).text();
    const fields = formFields(page);
    const attacker = new Browser(); // no cookies: a cross-site form post
    const res = await attacker.request(`${w.url}/authorize`, { method: "POST", form: { ...fields, action: "approve" } });
    assert.equal(res.status, 403);
    // A forged CSRF value with the victim's cookie also fails.
    const res2 = await victim.request(`${w.url}/authorize`, { method: "POST", form: { ...fields, csrf: "forged", action: "approve" } });
    assert.equal(res2.status, 403);
    // A tampered ticket fails its signature.
    const res3 = await victim.request(`${w.url}/authorize`, { method: "POST", form: { ...fields, ticket: fields.ticket.replace(/^./, (ch) => (ch === "A" ? "B" : "A")), action: "approve" } });
    assert.equal(res3.status, 400);
  });

  test("a public client with a loopback redirect gets the consent page every time (RFC 8252 §8.6)", async () => {
    const c = await registerClient(w.url); // http://127.0.0.1:9/callback
    const browser = new Browser();
    const first = pkcePair();
    const done = await consentAndSignIn(w.url, authorizeUrl(w.url, c, { code_challenge: first.challenge, code_challenge_method: "S256" }), { browser });
    assert.ok(done.location?.startsWith("http://127.0.0.1:9/callback?code="), "the first authorization completes");
    assert.ok(!browser.cookies.has("approved"), "nothing remembered");
    const again = await browser.request(authorizeUrl(w.url, c, { code_challenge: pkcePair().challenge, code_challenge_method: "S256" }));
    assert.equal(again.status, 200);
    assert.match(await again.text(), /name="ticket"/);
  });

  test("an approved client skips the consent page next time; a tampered approval cookie does not", async () => {
    const c = await registerClient(w.url, { redirect_uris: ["https://app.example.com/callback"] });
    const browser = new Browser();
    const first = pkcePair();
    await consentAndSignIn(w.url, authorizeUrl(w.url, c, { code_challenge: first.challenge, code_challenge_method: "S256" }), { browser });
    assert.ok(browser.cookies.has("approved"));
    const second = pkcePair();
    const res = await browser.request(authorizeUrl(w.url, c, { code_challenge: second.challenge, code_challenge_method: "S256" }));
    assert.equal(res.status, 302, "skips straight to sign-in");
    assert.match(res.headers.get("location"), /\/dev\/login\?state=/);
    browser.cookies.set("approved", browser.cookies.get("approved").replace(/.$/, (ch) => (ch === "A" ? "B" : "A")));
    const res2 = await browser.request(authorizeUrl(w.url, c, { code_challenge: second.challenge, code_challenge_method: "S256" }));
    assert.equal(res2.status, 200, "tampered approval: consent is shown again");
  });
});

describe("transport security", () => {
  test("the consent flow is refused over plain http on a public host", async () => {
    const res = await w.mf.dispatchFetch("http://mcp.example.com/authorize?client_id=x", { redirect: "manual" });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /https only/);
  });

  test("the development sign-in answers only on loopback hosts", async () => {
    const res = await w.mf.dispatchFetch("https://mcp.example.com/dev/login?state=x", { redirect: "manual" });
    assert.equal(res.status, 403);
    assert.doesNotMatch(await res.text(), /name="login"/);
    const local = await w.fetch("/dev/login?state=x");
    assert.equal(local.status, 200);
    assert.match(await local.text(), /name="login"/);
  });
});

describe("callback", () => {
  async function reachCallback() {
    const c = await registerClient(w.url);
    const { challenge } = pkcePair();
    const browser = new Browser();
    let { res } = await browser.follow(authorizeUrl(w.url, c, { code_challenge: challenge, code_challenge_method: "S256" }), w.url);
    const fields = formFields(await res.text());
    res = await browser.request(`${w.url}/authorize`, { method: "POST", form: { ...fields, action: "approve" } });
    const login = await browser.request(new URL(res.headers.get("location"), w.url).toString());
    const state = formFields(await login.text()).state;
    res = await browser.request(`${w.url}/dev/login`, { method: "POST", form: { state, login: "ada", name: "Ada", email: "ada@example.com" } });
    return { browser, callback: new URL(res.headers.get("location"), w.url).toString() };
  }

  // Each sign-in in flight has its own binding cookie, named after its grant.
  const stateCookie = (browser) => [...browser.cookies.keys()].find((k) => k.startsWith("state-"));

  test("a state is single use: replaying the callback fails on a local page", async () => {
    const { browser, callback } = await reachCallback();
    const name = stateCookie(browser);
    assert.ok(name, "the sign-in is bound to this browser by a cookie");
    const cookie = browser.cookies.get(name);
    const ok = await browser.request(callback);
    assert.equal(ok.status, 302);
    browser.cookies.set(name, cookie);
    const replay = await browser.request(callback);
    assert.equal(replay.status, 400);
    assert.equal(replay.headers.get("location"), null);
  });

  test("the callback must come back to the browser that started it (tampered or missing state cookie)", async () => {
    const { browser, callback } = await reachCallback();
    browser.cookies.set(stateCookie(browser), "0".repeat(64));
    assert.equal((await browser.request(callback)).status, 400);
    const other = await new Browser().request(callback);
    assert.equal(other.status, 400);
  });
});

describe("token endpoint", () => {
  async function codeFor(params = {}, metadata = {}) {
    const client = await registerClient(w.url, metadata);
    const { code, verifier, location, res } = await authorizeCode(w.url, client, { params });
    assert.ok(code, `the flow came back with a code (${location ?? res?.status})`);
    return { client, pkce: { verifier }, code };
  }
  const redeem = (client, code, verifier, extra = {}) =>
    tokenRequest(w.url, { grant_type: "authorization_code", code, redirect_uri: client.redirect_uris[0], code_verifier: verifier, client_id: client.client_id, ...extra });

  test("token responses are not cached and carry CORS", async () => {
    const { client, pkce, code } = await codeFor();
    const r = await redeem(client, code, pkce.verifier);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("cache-control"), "no-store");
    assert.equal(r.headers.get("access-control-allow-origin"), "*");
    assert.equal(r.body.token_type, "Bearer");
  });

  test("a wrong PKCE verifier is invalid_grant, and burns the code", async () => {
    const { client, pkce, code } = await codeFor();
    const bad = await redeem(client, code, pkcePair().verifier);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, "invalid_grant");
    assert.equal(bad.headers.get("cache-control"), "no-store");
    assert.equal((await redeem(client, code, pkce.verifier)).body.error, "invalid_grant");
  });

  test("a replayed code fails and revokes the tokens of its first redemption", async () => {
    const { client, pkce, code } = await codeFor();
    const first = await redeem(client, code, pkce.verifier);
    assert.equal(first.status, 200);
    assert.equal((await initialize(first.body.access_token)).status, 200);
    const again = await redeem(client, code, pkce.verifier);
    assert.equal(again.body.error, "invalid_grant");
    assert.equal((await initialize(first.body.access_token)).status, 401, "the first redemption's token is revoked");
  });

  test("redirect_uri must match the authorization request", async () => {
    const { client, pkce, code } = await codeFor();
    const r = await redeem(client, code, pkce.verifier, { redirect_uri: "http://127.0.0.1:9/other" });
    assert.equal(r.body.error, "invalid_grant");
  });

  test("resource must match the grant (RFC 8707)", async () => {
    const { client, pkce, code } = await codeFor();
    const r = await redeem(client, code, pkce.verifier, { resource: "https://other.example/mcp" });
    assert.equal(r.body.error, "invalid_target");
  });

  test("an unknown client gets 401 invalid_client", async () => {
    const r = await tokenRequest(w.url, { grant_type: "authorization_code", code: "x", client_id: "no-such-client", code_verifier: "v" });
    assert.equal(r.status, 401);
    assert.equal(r.body.error, "invalid_client");
  });

  test("a confidential client must authenticate with its registered method", async () => {
    const { client, pkce, code } = await codeFor({}, { token_endpoint_auth_method: "client_secret_basic" });
    const noSecret = await redeem(client, code, pkce.verifier);
    assert.equal(noSecret.status, 401);
    const basic = "Basic " + Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64");
    const wrong = "Basic " + Buffer.from(`${client.client_id}:wrong`).toString("base64");
    assert.equal((await tokenRequest(w.url, { grant_type: "authorization_code", code, redirect_uri: client.redirect_uris[0], code_verifier: pkce.verifier }, { authorization: wrong })).status, 401);
    const ok = await tokenRequest(w.url, { grant_type: "authorization_code", code, redirect_uri: client.redirect_uris[0], code_verifier: pkce.verifier }, { authorization: basic });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test("bad requests get RFC 6749 errors, never 500", async () => {
    // RFC 6749 §5.2: no client authentication at all is invalid_client.
    const cases = [
      [{}, "invalid_client"],
      [{ grant_type: "password", client_id: "x" }, "invalid_client"],
    ];
    for (const [form, error] of cases) {
      const r = await tokenRequest(w.url, form);
      assert.equal(r.body.error, error, JSON.stringify(form));
    }
    const { client } = await codeFor();
    const r = await tokenRequest(w.url, { grant_type: "password", client_id: client.client_id });
    assert.equal(r.body.error, "unsupported_grant_type");
    const noGrant = await tokenRequest(w.url, { client_id: client.client_id });
    assert.equal(noGrant.body.error, "invalid_request");
    const dup = await fetch(`${w.url}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `grant_type=refresh_token&grant_type=authorization_code&client_id=${client.client_id}` });
    assert.equal((await dup.json()).error, "invalid_request", "repeated parameters are refused");
    const json = await fetch(`${w.url}/token`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(json.status, 400);
    assert.equal((await json.json()).error, "invalid_request");
  });

  test("N concurrent redemptions of one code: exactly one wins, and the replays revoke its tokens", async () => {
    const { client, pkce, code } = await codeFor();
    const results = await Promise.all(Array.from({ length: 8 }, () => redeem(client, code, pkce.verifier)));
    const wins = results.filter((r) => r.status === 200);
    assert.equal(wins.length, 1, results.map((r) => r.status).join(","));
    const losses = results.filter((r) => r.status !== 200);
    assert.ok(losses.every((r) => r.status === 400 && r.body.error === "invalid_grant"), JSON.stringify(losses.map((r) => r.body)));
    // RFC 6749 §4.1.2: the other attempts are replays of a used code, so the server
    // revokes the tokens issued for it. The winner's pair is dead after the race.
    const [win] = wins;
    assert.ok(win.body.access_token && win.body.refresh_token);
    const atMcp = await initialize(win.body.access_token);
    assert.equal(atMcp.status, 401, "the winner's access token is revoked");
    assert.match(atMcp.headers.get("www-authenticate"), /error="invalid_token"/);
    const refreshed = await tokenRequest(w.url, { grant_type: "refresh_token", refresh_token: win.body.refresh_token, client_id: client.client_id });
    assert.equal(refreshed.status, 400);
    assert.equal(refreshed.body.error, "invalid_grant", "the winner's refresh token is revoked");
  });

  test("concurrent refreshes with one token never fork the grant: one rotation, the same pair for all", async () => {
    const { client, tokens } = await obtainTokens(w.url);
    const refresh = () => tokenRequest(w.url, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id });
    const results = await Promise.all(Array.from({ length: 8 }, refresh));
    assert.ok(results.every((r) => r.status === 200), results.map((r) => JSON.stringify(r.body)).join("\n"));
    const pairs = new Set(results.map((r) => `${r.body.access_token}|${r.body.refresh_token}`));
    assert.equal(pairs.size, 1, "every retry within the grace window gets the same new pair");
    const next = results[0].body;
    const again = await tokenRequest(w.url, { grant_type: "refresh_token", refresh_token: next.refresh_token, client_id: client.client_id });
    assert.equal(again.status, 200, "the grant continues from the one new refresh token");
  });

  test("reuse of a spent refresh token revokes the grant (theft detection)", async () => {
    const { client, tokens } = await obtainTokens(w.url);
    const r1 = tokens.refresh_token;
    const step = (rt) => tokenRequest(w.url, { grant_type: "refresh_token", refresh_token: rt, client_id: client.client_id });
    const second = (await step(r1)).body;
    const third = (await step(second.refresh_token)).body;
    assert.ok(third.refresh_token);
    const reuse = await step(r1);
    assert.equal(reuse.body.error, "invalid_grant");
    assert.equal((await step(third.refresh_token)).body.error, "invalid_grant", "the whole grant is revoked");
    assert.equal((await initialize(third.access_token)).status, 401);
  });

  test("a refresh may narrow the scope but not widen it", async () => {
    const { client, tokens } = await obtainTokens(w.url, { params: { scope: "mcp" } });
    assert.equal(tokens.scope, "mcp");
    const wider = await tokenRequest(w.url, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id, scope: "mcp github:repos" });
    assert.equal(wider.body.error, "invalid_scope");
  });
});

describe("revocation (RFC 7009)", () => {
  test("revoking the access token ends the grant's tokens; unknown tokens are fine", async () => {
    const { client, tokens } = await obtainTokens(w.url);
    const revoke = (token) => fetch(`${w.url}/revoke`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token, client_id: client.client_id }) });
    assert.equal((await revoke(tokens.access_token)).status, 200);
    assert.equal((await initialize(tokens.access_token)).status, 401);
    const refreshed = await tokenRequest(w.url, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id });
    assert.equal(refreshed.body.error, "invalid_grant");
    assert.equal((await revoke("not-a-token")).status, 200);
  });

  test("revoking the refresh token ends the access token too", async () => {
    const { client, tokens } = await obtainTokens(w.url);
    const res = await fetch(`${w.url}/revoke`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token: tokens.refresh_token, client_id: client.client_id }) });
    assert.equal(res.status, 200);
    assert.equal((await initialize(tokens.access_token)).status, 401);
  });
});

describe("resource server", () => {
  // The access record's fields are bound into its wrapped key, so a record merely
  // edited in KV is refused by that integrity check before expiry or audience
  // matter. To reach those checks themselves, these tests either present an
  // untouched record where it does not belong, or forge an edited record that is
  // consistent (e2e/forge.mjs re-wraps the grant key with SECRET_KEY and the token).
  const status = async (res) => ({ status: res.status, challenge: res.headers.get("www-authenticate"), body: await res.text() });
  /** `initialize` at `<base>/mcp`: the same Worker reached at any origin (its resource there is `<base>/mcp`). */
  const initializeAt = (base, token) => w.mf.dispatchFetch(`${base}/mcp`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "e2e", version: "1" } } }),
  });
  /** The RFC 8707 refusal: 401 invalid_token saying why (src/oauth/resource.rs `refuse`), not the generic one. */
  const ANOTHER_RESOURCE = "the access token was issued for another resource";
  const assertIssuedForAnotherResource = (res) => {
    assert.equal(res.status, 401, res.body);
    assert.match(res.challenge, /^Bearer error="invalid_token", error_description="the access token was issued for another resource", resource_metadata="/);
    assert.deepEqual(JSON.parse(res.body), { error: "invalid_token", error_description: ANOTHER_RESOURCE });
  };

  // Each test edits the record before the token's first use: an isolate trusts a token
  // it has accepted for 5 s without reading its record again, while refusals are never
  // kept, so a refused token can be followed by an accepted one, not the other way round.
  test("a consistently re-wrapped record with no change is still accepted (the forging is right)", async () => {
    const { tokens } = await obtainTokens(w.url);
    // The forge is precise: a field changed without re-wrapping is refused...
    const key = accessKey(tokens.access_token);
    const original = await w.kv.get(key);
    await w.kv.put(key, JSON.stringify({ ...JSON.parse(original), user_id: "dev:mallory" }));
    assert.equal((await initialize(tokens.access_token)).status, 401);
    await w.kv.put(key, original);
    // ...while a consistent re-wrap of the same fields is accepted.
    const { before, after } = await forgeAccessRecord(w.kv, DEV_VARS.SECRET_KEY, tokens.access_token, {});
    assert.ok(!JSON.stringify(before).includes(tokens.access_token), "the token is stored only as the hash in the key");
    assert.notEqual(after.wrapped_key, before.wrapped_key, "the key was wrapped again (fresh nonce)");
    const res = await status(await initialize(tokens.access_token));
    assert.equal(res.status, 200, res.body);
  });

  test("a token for another resource is refused by audience", async () => {
    // The same Worker, the same KV, reached at another origin: there its resource
    // is https://mcp.example.com/mcp, while the token (and its untouched record)
    // was issued for this origin's /mcp. Nothing but the audience differs.
    const { tokens } = await obtainTokens(w.url);
    const home = await status(await initializeAt(w.url, tokens.access_token));
    assert.equal(home.status, 200, `control: the token works at the resource it was issued for: ${home.body}`);
    const elsewhere = await status(await initializeAt("https://mcp.example.com", tokens.access_token));
    assertIssuedForAnotherResource(elsewhere);
    assert.match(elsewhere.challenge, /resource_metadata="https:\/\/mcp\.example\.com\/\.well-known\/oauth-protected-resource\/mcp"/);
  });

  test("an expired access token is refused with invalid_token", async () => {
    const { tokens } = await obtainTokens(w.url);
    // Age the record instead of waiting an hour, and re-wrap its key so the record
    // stays consistent: only the expiry check can refuse it now.
    const { after } = await forgeAccessRecord(w.kv, DEV_VARS.SECRET_KEY, tokens.access_token, { expires_at: Math.floor(Date.now() / 1000) - 1 });
    assert.ok(after.expires_at < Date.now() / 1000);
    const res = await status(await initialize(tokens.access_token));
    assert.equal(res.status, 401, res.body);
    assert.match(res.challenge, /error="invalid_token"/);
    // Control: the same forge with a live expiry is accepted.
    await forgeAccessRecord(w.kv, DEV_VARS.SECRET_KEY, tokens.access_token, { expires_at: Math.floor(Date.now() / 1000) + 600 });
    assert.equal((await initialize(tokens.access_token)).status, 200);
  });

  test("a token record moved to another resource is refused (audience, RFC 8707)", async () => {
    const { tokens } = await obtainTokens(w.url);
    // A consistent record for another resource: it unwraps, is unexpired, and names
    // this grant, client and user; only the audience check can refuse it.
    await forgeAccessRecord(w.kv, DEV_VARS.SECRET_KEY, tokens.access_token, { resource: "https://other.example/mcp" });
    const res = await status(await initializeAt(w.url, tokens.access_token));
    assertIssuedForAnotherResource(res);
    // Control: the same token, with the same forged record, works at the resource
    // the record now names (the Worker reached at that origin).
    const there = await status(await initializeAt("https://other.example", tokens.access_token));
    assert.equal(there.status, 200, `control: accepted at its own resource: ${there.body}`);
  });

  test("tokens are accepted only in the Authorization header", async () => {
    const { tokens } = await obtainTokens(w.url);
    const res = await fetch(`${w.url}/mcp?access_token=${tokens.access_token}`, { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }) });
    assert.equal(res.status, 401);
  });
});
