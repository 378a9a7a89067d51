// Client ID Metadata Documents in real workerd: the Worker fetches each
// document (and JWKS) with its own fetch, which Miniflare's outboundService
// answers here as the web would. Documents are shaped like the real clients
// (Claude, Claude Code, ChatGPT, Codex, VS Code); every refusal of the issue
// gets its documented answer and never a 5xx (except the documented 503 at
// /token for a document that cannot be fetched right now); ChatGPT-like
// assertions are signed with node:crypto (RS256 and ES256) and verified by the
// Worker with WebCrypto; and the MCP SDK's own CIMD mode (`clientMetadataUrl`)
// runs the whole flow and calls a tool.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { startWorker } from "./harness.mjs";
import { ScriptedProvider, authorizeCode, authorizeUrl, consentAndSignIn, obtainTokens, pkcePair, tokenRequest } from "./browser.mjs";

// --- the web, as the Worker sees it --------------------------------------
const web = new Map(); // url -> (request) => Response | Promise<Response>
const seen = []; // { url, accept, redirect }
const json = (doc, headers = {}) => () =>
  new Response(typeof doc === "string" ? doc : JSON.stringify(doc), {
    headers: { "content-type": "application/json", ...headers },
  });
async function outboundService(request) {
  seen.push({ url: request.url, accept: request.headers.get("accept") });
  const handler = web.get(request.url);
  return handler ? handler(request) : new Response("not found", { status: 404 });
}
const fetchesOf = (url) => seen.filter((s) => s.url === url).length;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let w;
before(async () => { w = await startWorker({ outboundService }); });
after(async () => { await w?.dispose(); });

// --- helpers --------------------------------------------------------------
/** A document client as /authorize names it: its URL and the redirect URI it uses. */
const documentClient = (clientId, redirectUri) => ({ client_id: clientId, redirect_uris: [redirectUri] });

/** Consent and sign-in: the code that comes back to `redirectUri`. */
async function codeFor(clientId, redirectUri) {
  const { code, verifier, location, res } = await authorizeCode(w.url, documentClient(clientId, redirectUri), { params: { state: "st-1" } });
  assert.ok(location, `redirected back (got ${res?.status} ${res && (await res.text()).slice(0, 300)})`);
  const back = new URL(location);
  assert.equal(back.origin + back.pathname, new URL(redirectUri).origin + new URL(redirectUri).pathname);
  assert.equal(back.searchParams.get("iss"), w.url);
  return { code, verifier };
}

const redeem = (clientId, redirectUri, { code, verifier }, extra = {}) =>
  tokenRequest(w.url, {
    grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: verifier,
    ...(clientId ? { client_id: clientId } : {}), resource: `${w.url}/mcp`, ...extra,
  });

async function consentPage(clientId, redirectUri) {
  const url = authorizeUrl(w.url, documentClient(clientId, redirectUri), { state: "st-1", code_challenge: pkcePair().challenge, code_challenge_method: "S256" });
  const res = await fetch(url, { redirect: "manual" });
  return { status: res.status, location: res.headers.get("location"), html: await res.text() };
}

const b64url = (x) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");
function sign({ alg, key, kid }, claims) {
  const head = `${b64url({ alg, kid, typ: "JWT" })}.${b64url(claims)}`;
  const sig = alg === "RS256"
    ? crypto.sign("sha256", Buffer.from(head), key)
    : crypto.sign("sha256", Buffer.from(head), { key, dsaEncoding: "ieee-p1363" });
  return `${head}.${sig.toString("base64url")}`;
}
const now = () => Math.floor(Date.now() / 1000);
const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// --- documents shaped like the real clients -------------------------------
const CLAUDE = "https://claude.ai/oauth/mcp-oauth-client-metadata";
const CLAUDE_CB = "https://claude.ai/api/mcp/auth_callback";
web.set(CLAUDE, json({
  client_id: CLAUDE, client_name: "Claude",
  redirect_uris: [CLAUDE_CB, "https://claude.com/api/mcp/auth_callback"],
  grant_types: ["authorization_code", "refresh_token"], response_types: ["code"],
  token_endpoint_auth_method: "none", logo_uri: "https://claude.ai/images/logo.png",
}, { "cache-control": "public, max-age=3600" }));

const CODE = "https://claude.ai/oauth/claude-code-client-metadata";
web.set(CODE, json({
  client_id: CODE, client_name: "Claude Code",
  redirect_uris: ["http://localhost/callback", "http://127.0.0.1/callback"],
  grant_types: ["authorization_code", "refresh_token"], response_types: ["code"],
  token_endpoint_auth_method: "none",
}));

const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const rsaOther = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const GPT = "https://chatgpt.com/oauth/e2e123/client.json";
const GPT_CB = "https://chatgpt.com/connector/oauth/e2e123";
const GPT_JWKS = "https://chatgpt.com/oauth/e2e123/jwks.json";
web.set(GPT, json({
  client_id: GPT, client_name: "ChatGPT", redirect_uris: [GPT_CB],
  grant_types: ["authorization_code", "refresh_token"], response_types: ["code"],
  token_endpoint_auth_method: "private_key_jwt",
  token_endpoint_auth_methods_supported: ["none", "private_key_jwt"],
  jwks_uri: GPT_JWKS,
}));
web.set(GPT_JWKS, json({ keys: [{ ...rsa.publicKey.export({ format: "jwk" }), kid: "gpt-1", use: "sig", alg: "RS256" }] }));
const gptSigner = { alg: "RS256", key: rsa.privateKey, kid: "gpt-1" };

const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
const EC_CLIENT = "https://agent.example.com/oauth/client.json";
const EC_CB = "https://agent.example.com/callback";
web.set(EC_CLIENT, json({
  client_id: EC_CLIENT, client_name: "ES256 agent", redirect_uris: [EC_CB],
  token_endpoint_auth_method: "private_key_jwt",
  jwks: { keys: [{ ...ec.publicKey.export({ format: "jwk" }), kid: "ec-1" }] },
}));

const CODEX_CB_ID = "c0dex";
const CODEX = `https://codex.example.com/oauth/${CODEX_CB_ID}/client.json?redirect_uri=${encodeURIComponent(`http://127.0.0.1/callback/${CODEX_CB_ID}`)}`;
web.set(CODEX, json({
  client_id: CODEX, client_name: "Codex",
  redirect_uris: [`http://127.0.0.1/callback/${CODEX_CB_ID}`],
  token_endpoint_auth_methods_supported: ["none"],
}));

const VSCODE = "https://vscode.dev/oauth/client-metadata.json";
web.set(VSCODE, json({
  client_id: VSCODE, client_name: "Visual Studio Code",
  redirect_uris: ["http://127.0.0.1:33418/", "https://vscode.dev/redirect"],
  grant_types: ["authorization_code", "refresh_token"], token_endpoint_auth_method: "none",
}));

describe("discovery", () => {
  test("RFC 8414 metadata advertises CIMD, private_key_jwt and its algorithms", async () => {
    for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]) {
      const res = await w.fetch(path);
      const m = await res.json();
      assert.equal(m.client_id_metadata_document_supported, true, path);
      assert.deepEqual(m.token_endpoint_auth_methods_supported, ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]);
      assert.deepEqual(m.token_endpoint_auth_signing_alg_values_supported, ["RS256", "ES256"]);
      assert.ok(m.registration_endpoint, "DCR stays advertised");
    }
  });
});

describe("documents shaped like the real clients", () => {
  test("Claude (web): consent names the verified host, the flow completes, the document is fetched once", async () => {
    const page = await consentPage(CLAUDE, CLAUDE_CB);
    assert.equal(page.status, 200);
    assert.match(page.html, /id="verified-host">claude\.ai</);
    assert.match(page.html, /calls itself/);
    assert.match(page.html, /id="client-name">Claude</);
    assert.match(page.html, /id="redirect-host">claude\.ai</);
    assert.doesNotMatch(page.html, /<img|logo\.png/, "no images from the document");
    assert.doesNotMatch(page.html, /loopback-warning/);
    const grant = await codeFor(CLAUDE, CLAUDE_CB);
    const tok = await redeem(CLAUDE, CLAUDE_CB, grant);
    assert.equal(tok.status, 200, JSON.stringify(tok.body));
    const refreshed = await tokenRequest(w.url, { grant_type: "refresh_token", refresh_token: tok.body.refresh_token, client_id: CLAUDE });
    assert.equal(refreshed.status, 200);
    assert.equal(fetchesOf(CLAUDE), 1, "cached per Cache-Control, not fetched per request");
    assert.ok(seen.filter((s) => s.url === CLAUDE).every((s) => s.accept === "application/json"));
  });

  test("Claude Code: portless loopback redirects match an ephemeral port; the page warns", async () => {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const redirect = `http://localhost:${port}/callback`;
    const page = await consentPage(CODE, redirect);
    assert.equal(page.status, 200);
    assert.match(page.html, /id="loopback-warning"/);
    assert.match(page.html, /id="redirect-host">localhost</);
    const tok = await redeem(CODE, redirect, await codeFor(CODE, redirect));
    assert.equal(tok.status, 200, JSON.stringify(tok.body));
    // The port is free, the path is not.
    const wrong = await consentPage(CODE, `http://localhost:${port}/callback/x`);
    assert.equal(wrong.status, 400);
    assert.equal(wrong.location, null);
  });

  test("ChatGPT: private_key_jwt (RS256, jwks_uri) for the code and the refresh", async () => {
    const claims = (jti) => ({ iss: GPT, sub: GPT, aud: `${w.url}/token`, iat: now(), exp: now() + 60, jti });
    const tok = await redeem(GPT, GPT_CB, await codeFor(GPT, GPT_CB), {
      client_assertion_type: JWT_BEARER, client_assertion: sign(gptSigner, claims(crypto.randomUUID())),
    });
    assert.equal(tok.status, 200, JSON.stringify(tok.body));
    // RFC 7523 §3: client_id may be left out; the assertion's iss names the client.
    const refreshed = await tokenRequest(w.url, {
      grant_type: "refresh_token", refresh_token: tok.body.refresh_token,
      client_assertion_type: JWT_BEARER, client_assertion: sign(gptSigner, claims(crypto.randomUUID())),
    });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.equal(fetchesOf(GPT_JWKS), 1, "the JWKS is cached");
  });

  test("ChatGPT: the credential-less path works too, because its document lists none", async () => {
    const tok = await redeem(GPT, GPT_CB, await codeFor(GPT, GPT_CB));
    assert.equal(tok.status, 200, JSON.stringify(tok.body));
  });

  test("an ES256 client with inline jwks, aud = the issuer", async () => {
    const signer = { alg: "ES256", key: ec.privateKey, kid: "ec-1" };
    const claims = { iss: EC_CLIENT, sub: EC_CLIENT, aud: w.url, exp: now() + 60, jti: crypto.randomUUID() };
    const grant = await codeFor(EC_CLIENT, EC_CB);
    const none = await redeem(EC_CLIENT, EC_CB, grant);
    assert.equal(none.status, 401, "private_key_jwt only: no credential is refused");
    assert.equal(none.body.error, "invalid_client");
    const tok = await redeem(EC_CLIENT, EC_CB, grant, { client_assertion_type: JWT_BEARER, client_assertion: sign(signer, claims) });
    assert.equal(tok.status, 200, JSON.stringify(tok.body));
  });

  test("Codex: a client_id with a query string, fetched with its query", async () => {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const redirect = `http://127.0.0.1:${port}/callback/${CODEX_CB_ID}`;
    const tok = await redeem(CODEX, redirect, await codeFor(CODEX, redirect));
    assert.equal(tok.status, 200, JSON.stringify(tok.body));
    assert.equal(fetchesOf(CODEX), 1);
  });

  test("VS Code: its fixed-port loopback redirect also matches another port", async () => {
    const redirect = "http://127.0.0.1:33419/";
    const tok = await redeem(VSCODE, redirect, await codeFor(VSCODE, redirect));
    assert.equal(tok.status, 200, JSON.stringify(tok.body));
  });

  test("Dynamic Client Registration keeps working alongside", async () => {
    const { tokens } = await obtainTokens(w.url);
    assert.ok(tokens.access_token);
  });
});

describe("the MCP SDK client's own CIMD mode", () => {
  const SDK = "https://sdk-client.example.com/oauth/client-metadata.json";
  const SDK_CB = "http://127.0.0.1:5556/oauth/callback";
  web.set(SDK, json({
    client_id: SDK, client_name: "SDK CIMD client", redirect_uris: ["http://127.0.0.1/oauth/callback"],
    grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none",
  }));

  test("uses the URL as client_id (no registration), completes the flow and calls a tool", async () => {
    const provider = new ScriptedProvider(SDK_CB, { clientMetadataUrl: SDK, clientName: "SDK CIMD client", state: "sdk-cimd-state" });
    const registrationsBefore = (await w.kv.list({ prefix: "client:" })).keys.length;
    let transport = new StreamableHTTPClientTransport(new URL(`${w.url}/mcp`), { authProvider: provider });
    await assert.rejects(new Client({ name: "e2e", version: "1" }).connect(transport), UnauthorizedError);
    assert.equal(provider.clientInformation()?.client_id, SDK);
    assert.equal(provider.authUrl.searchParams.get("client_id"), SDK);
    const { location } = await consentAndSignIn(w.url, provider.authUrl.toString());
    const back = new URL(location);
    assert.equal(back.searchParams.get("state"), "sdk-cimd-state");
    await transport.finishAuth(back.searchParams.get("code"));
    assert.ok(provider.tokens()?.access_token);
    transport = new StreamableHTTPClientTransport(new URL(`${w.url}/mcp`), { authProvider: provider });
    const client = new Client({ name: "e2e", version: "1" });
    await client.connect(transport);
    const who = await client.callTool({ name: "whoami", arguments: {} });
    assert.match(JSON.stringify(who), /ada/);
    await client.close();
    assert.equal((await w.kv.list({ prefix: "client:" })).keys.length, registrationsBefore, "nothing was registered");
  });
});

describe("refusals at /authorize: our own page, never a redirect, never a 5xx", () => {
  const R = "https://bad.example.com";
  const cb = `${R}/cb`;
  const good = (id, more = {}) => ({ client_id: id, client_name: "Bad", redirect_uris: [cb], ...more });
  const cases = [
    ["client_id mismatch", `${R}/mismatch.json`, json(good(`${R}/other.json`)), /differs from the URL/],
    // 1 MB, streamed: the Worker stops reading past 5 KB. Every fetch failure
    // reads the same (issue 18): the detail is in the Worker's log only.
    ["oversized", `${R}/big.json`, () => new Response(JSON.stringify(good(`${R}/big.json`, { pad: "x".repeat(1 << 20) })), { headers: { "content-type": "application/json" } }),
      /could not be fetched from its URL/],
    ["missing redirect_uris", `${R}/noredirect.json`, json({ client_id: `${R}/noredirect.json`, client_name: "Bad" }), /no redirect_uris/],
    ["a secret inside", `${R}/secret.json`, json(good(`${R}/secret.json`, { client_secret: "s3cr3t" })), /must not carry a secret/],
    ["not JSON", `${R}/html.json`, () => new Response("<html>hello</html>", { headers: { "content-type": "text/html" } }), /served as &#39;text\/html&#39;, not as application\/json/],
    ["JSON type, not JSON", `${R}/broken.json`, () => new Response("<html>hello</html>", { headers: { "content-type": "application/json" } }), /not valid JSON/],
    ["404", `${R}/missing.json`, null, /could not be fetched from its URL/],
    ["slow", `${R}/slow.json`, async () => { await sleep(4500); return json(good(`${R}/slow.json`))(); }, /could not be fetched from its URL/],
    ["a redirect response", `${R}/moved.json`, () => new Response(null, { status: 302, headers: { location: `${R}/target.json` } }), /could not be fetched from its URL/],
    ["an http URL", "http://bad.example.com/doc.json", null, /must use https/],
    ["a fragment", `${R}/doc.json#frag`, null, /must not have a fragment/],
    ["userinfo", "https://user@bad.example.com/doc.json", null, /must not contain user information/],
  ];
  web.set(`${R}/target.json`, json(good(`${R}/moved.json`)));
  for (const [name, url, handler, why] of cases) {
    if (handler) web.set(url, handler);
    test(name, async () => {
      const page = await consentPage(url, cb);
      assert.equal(page.status, 400, page.html.slice(0, 400));
      assert.equal(page.location, null, "never redirected");
      assert.match(page.html, why);
    });
  }
  test("the redirect response was not followed", () => {
    assert.equal(fetchesOf(`${R}/target.json`), 0);
  });
  test("a redirect URI the document does not list", async () => {
    const page = await consentPage(CLAUDE, "https://evil.example.com/api/mcp/auth_callback");
    assert.equal(page.status, 400);
    assert.equal(page.location, null);
    assert.match(page.html, /not registered for this application/);
  });
});

describe("refusals at /token", () => {
  const R = "https://bad.example.com";
  test("a document that cannot be fetched now: 503 temporarily_unavailable with Retry-After", async () => {
    const url = `${R}/slow-token.json`;
    web.set(url, async () => { await sleep(4500); return new Response("{}"); });
    const res = await tokenRequest(w.url, { grant_type: "refresh_token", refresh_token: "x", client_id: url });
    assert.equal(res.status, 503);
    assert.equal(res.body.error, "temporarily_unavailable");
    assert.ok(Number(res.headers.get("retry-after")) > 0);
  });
  test("a fetched, invalid document: 401 invalid_client", async () => {
    const res = await tokenRequest(w.url, { grant_type: "refresh_token", refresh_token: "x", client_id: `${R}/secret.json` });
    assert.equal(res.status, 401);
    assert.equal(res.body.error, "invalid_client");
  });

  describe("private_key_jwt assertions", () => {
    let grant;
    before(async () => { grant = await codeFor(GPT, GPT_CB); });
    const claims = (over = {}) => ({ iss: GPT, sub: GPT, aud: `${w.url}/token`, iat: now(), exp: now() + 60, jti: crypto.randomUUID(), ...over });
    const attempt = (assertion) => redeem(GPT, GPT_CB, grant, { client_assertion_type: JWT_BEARER, client_assertion: assertion });
    const refused = async (assertion, why) => {
      const res = await attempt(assertion);
      assert.equal(res.status, 401, JSON.stringify(res.body));
      assert.equal(res.body.error, "invalid_client");
      assert.match(res.body.error_description, why);
    };
    test("wrong aud", () => refused(sign(gptSigner, claims({ aud: "https://elsewhere.example.com/token" })), /aud/));
    test("expired", () => refused(sign(gptSigner, claims({ exp: now() - 5 })), /expired/));
    test("exp too far ahead", () => refused(sign(gptSigner, claims({ exp: now() + 3600 })), /ahead/));
    test("bad signature (another key)", () => refused(sign({ ...gptSigner, key: rsaOther.privateKey }, claims()), /signature/));
    test("bad signature (tampered payload)", () => {
      const [h, , s] = sign(gptSigner, claims()).split(".");
      return refused(`${h}.${b64url(claims({ sub: GPT }))}.${s}`, /signature/);
    });
    test("a replayed jti is refused", async () => {
      const jwt = sign(gptSigner, claims());
      // A bogus code: the assertion passes client authentication (and spends its
      // jti), then the code is refused.
      const bogus = await tokenRequest(w.url, {
        grant_type: "authorization_code", code: "mcpc.AAAAAAAAAAAAAAAAAAAAAA.x", redirect_uri: GPT_CB,
        code_verifier: "v".repeat(43), client_assertion_type: JWT_BEARER, client_assertion: jwt,
      });
      assert.equal(bogus.status, 400, JSON.stringify(bogus.body));
      assert.equal(bogus.body.error, "invalid_grant", "client authentication passed");
      await refused(jwt, /already used \(jti replay\)/);
    });
    test("two concurrent uses of one jti: the AssertionReplay object lets exactly one through", async () => {
      // Two live codes, one assertion, both requests in flight at once: had the
      // replay register let both pass, both would redeem (200, 200).
      const grants = [await codeFor(GPT, GPT_CB), await codeFor(GPT, GPT_CB)];
      const jwt = sign(gptSigner, claims());
      const results = await Promise.all(grants.map((g) => redeem(GPT, GPT_CB, g, { client_assertion_type: JWT_BEARER, client_assertion: jwt })));
      const bodies = JSON.stringify(results.map((r) => ({ status: r.status, body: r.body })));
      const passed = results.filter((r) => r.status === 200);
      const replayed = results.filter((r) => r.status === 401 && r.body.error === "invalid_client"
        && r.body.error_description === "this client_assertion was already used (jti replay)");
      assert.equal(passed.length, 1, `exactly one passes client authentication: ${bodies}`);
      assert.ok(passed[0].body.access_token, bodies);
      assert.equal(replayed.length, 1, `the other gets the replay refusal: ${bodies}`);
      // The refusal was client authentication's: the loser's code was not spent,
      // and redeems with a fresh assertion.
      const loser = grants[results.findIndex((r) => r.status === 401)];
      const again = await redeem(GPT, GPT_CB, loser, { client_assertion_type: JWT_BEARER, client_assertion: sign(gptSigner, claims()) });
      assert.equal(again.status, 200, JSON.stringify(again.body));
    });
    test("after all of that, a good assertion still redeems the code", async () => {
      const res = await attempt(sign(gptSigner, claims()));
      assert.equal(res.status, 200, JSON.stringify(res.body));
    });
  });
});
