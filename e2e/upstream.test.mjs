// Real upstream identity providers, mocked on loopback: a GitHub-shaped one
// (oauth-mocks behind a recording front) and a Google-shaped / OpenID Connect
// one (oauth2-mock-server). Full sign-ins, upstream refresh and its failure,
// the allow-list, upstream failure modes, and a KV dump that must hold no token.
// Needs `make build` and scripts/mock-deps.sh.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, DEV_VARS } from "./harness.mjs";
import { Browser, authorizeCode, redeemCode, registerClient, tokenRequest } from "./browser.mjs";
import { startGitHubMock, githubMockSignIn, startOidcMock, freePort, MOCK_REPOS } from "./mock-providers.mjs";

const SECRET_KEY = DEV_VARS.SECRET_KEY;
const CLIENT_STATE = "client-state-123";

// Everything secret that must never show up in KV: upstream tokens (from the
// mocks) and the MCP tokens we were issued. Workers are kept for the final dump.
const secrets = new Set();
const workers = [];
const mocks = [];

async function worker(vars) {
  const w = await startWorker({ vars: { SECRET_KEY, ...vars } });
  workers.push(w);
  return w;
}

after(async () => {
  for (const w of workers) await w.dispose().catch(() => {});
  for (const m of mocks) await m.stop().catch(() => {});
});

// ---------------------------------------------------------------- helpers

/** Consent on the Worker; returns where the Worker sent the browser (the provider). */
async function beginFlow(w, { browser = new Browser(), client } = {}) {
  client ??= await registerClient(w.url);
  const { verifier, location, res } = await authorizeCode(w.url, client, { browser });
  assert.ok(location, `expected a redirect to the provider, got HTTP ${res.status}`);
  return { client, verifier, browser, upstreamUrl: location };
}

/** Follows the provider's redirect back into the Worker's /callback. */
async function backToWorker(w, browser, providerRedirect) {
  assert.ok(providerRedirect?.startsWith(`${w.url}/callback?`), `provider redirected to ${providerRedirect}`);
  const { res, location } = await browser.follow(providerRedirect, w.url);
  return { res, location, params: location ? new URL(location).searchParams : undefined };
}

async function redeem(w, client, verifier, code) {
  const tok = await redeemCode(w.url, client, { code, verifier });
  assert.equal(tok.status, 200, JSON.stringify(tok.body));
  secrets.add(tok.body.access_token);
  secrets.add(tok.body.refresh_token);
  return tok.body;
}

async function refresh(w, client, refreshToken) {
  const tok = await tokenRequest(w.url, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: client.client_id });
  if (tok.status === 200) {
    secrets.add(tok.body.access_token);
    secrets.add(tok.body.refresh_token);
  }
  return tok;
}

async function readRpc(res) {
  const text = await res.text();
  if ((res.headers.get("content-type") ?? "").includes("text/event-stream")) {
    const data = text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).filter(Boolean);
    return JSON.parse(data.at(-1));
  }
  return JSON.parse(text);
}

/** initialize, notifications/initialized, tools/call over raw JSON-RPC. Returns { status, result }. */
async function callTool(w, accessToken, name, args = {}) {
  const headers = {
    authorization: `Bearer ${accessToken}`,
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
  };
  const init = await w.fetch("/mcp", {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "e2e", version: "1.0.0" } } }),
  });
  if (init.status !== 200) {
    await init.text();
    return { status: init.status };
  }
  const initBody = await readRpc(init);
  const version = initBody.result.protocolVersion;
  const session = init.headers.get("mcp-session-id");
  const h = { ...headers, "mcp-protocol-version": version, ...(session ? { "mcp-session-id": session } : {}) };
  const note = await w.fetch("/mcp", { method: "POST", headers: h, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) });
  await note.text();
  const res = await w.fetch("/mcp", { method: "POST", headers: h, body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name, arguments: args } }) });
  if (res.status !== 200) {
    await res.text();
    return { status: res.status };
  }
  const body = await readRpc(res);
  assert.ok(body.result, `tools/call ${name}: ${JSON.stringify(body)}`);
  return { status: 200, result: body.result };
}

function assertErrorRedirect(location, w, error) {
  assert.ok(location, "expected a redirect to the client");
  assert.ok(location.startsWith("http://127.0.0.1:9/callback?"), location);
  const p = new URL(location).searchParams;
  assert.equal(p.get("error"), error, location);
  assert.equal(p.get("state"), CLIENT_STATE);
  assert.equal(p.get("iss"), w.url);
  assert.equal(p.get("code"), null);
}

// ---------------------------------------------------------------- GitHub

describe("GitHub-shaped provider (oauth-mocks)", () => {
  let gh, w;
  const githubVars = (m, extra = {}) => ({
    UPSTREAM_PROVIDER: "github",
    GITHUB_CLIENT_ID: "gh-client-id",
    GITHUB_CLIENT_SECRET: "gh-client-secret",
    GITHUB_AUTHORIZE_URL: m.authorizeUrl,
    GITHUB_TOKEN_URL: m.tokenUrl,
    GITHUB_API_URL: m.apiUrl,
    ...extra,
  });

  before(async () => {
    gh = await startGitHubMock();
    mocks.push(gh);
    w = await worker(githubVars(gh));
  });

  /** Consent, sign in at the mock as `email`, come back. */
  async function signIn(email, opts = {}) {
    const flow = await beginFlow(w, opts);
    assert.ok(flow.upstreamUrl.startsWith(gh.authorizeUrl), flow.upstreamUrl);
    const up = await githubMockSignIn(flow.upstreamUrl, email);
    assert.equal(up.status, 302);
    return { ...flow, providerRedirect: up.location };
  }

  test("full flow: code, state and iss back to the client; tokens work on /mcp (whoami, list_github_repos)", async () => {
    const flow = await signIn("octo.cat@example.com");
    const authz = new URL(flow.upstreamUrl).searchParams;
    assert.equal(authz.get("client_id"), "gh-client-id");
    assert.equal(authz.get("redirect_uri"), `${w.url}/callback`);
    assert.equal(authz.get("scope"), "read:user user:email");
    assert.equal(authz.get("code_challenge_method"), "S256");

    const { location, params } = await backToWorker(w, flow.browser, flow.providerRedirect);
    assert.ok(location.startsWith("http://127.0.0.1:9/callback?"), location);
    assert.ok(params.get("code"));
    assert.equal(params.get("state"), CLIENT_STATE);
    assert.equal(params.get("iss"), w.url);

    // The Worker exchanged the code with client credentials and PKCE, asking for JSON.
    const exchange = gh.requests.findLast((r) => r.path === "/login/oauth/access_token");
    const form = new URLSearchParams(exchange.body);
    assert.equal(form.get("client_id"), "gh-client-id");
    assert.equal(form.get("client_secret"), "gh-client-secret");
    assert.ok(form.get("code_verifier"));
    assert.match(exchange.headers.accept, /application\/json/);

    const tokens = await redeem(w, flow.client, flow.verifier, params.get("code"));
    const who = await callTool(w, tokens.access_token, "whoami");
    assert.equal(who.status, 200);
    const user = who.result.structuredContent;
    assert.equal(user.provider, "github");
    assert.equal(user.login, "octocat");
    assert.equal(user.email, "octo.cat@example.com");
    assert.match(user.id, /^github:\d+$/);

    const repos = await callTool(w, tokens.access_token, "list_github_repos");
    assert.equal(repos.status, 200);
    assert.ok(!repos.result.isError, JSON.stringify(repos.result));
    const text = JSON.stringify(repos.result);
    for (const r of MOCK_REPOS) assert.ok(text.includes(r.full_name), `${r.full_name} missing from ${text}`);
    // The tool used the upstream token the mock issued for this user.
    const call = gh.requests.findLast((r) => r.path === "/api/user/repos");
    assert.ok(gh.issued.has(call.headers.authorization.replace(/^Bearer /, "")));

    // Refreshing a non-expiring GitHub token does not touch the provider.
    const before = gh.requests.length;
    const r = await refresh(w, flow.client, tokens.refresh_token);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(gh.requests.filter((x) => x.path === "/login/oauth/access_token").length,
      gh.requests.slice(0, before).filter((x) => x.path === "/login/oauth/access_token").length);
  });

  test("a callback whose state was already used gets a clear 400 page, not a second code", async () => {
    const flow = await signIn("replay@example.com");
    const saved = new Map(flow.browser.cookies); // includes the state-<grant> binding cookie
    const first = await backToWorker(w, flow.browser, flow.providerRedirect);
    assert.ok(first.params.get("code"));
    // Replay, even with the state cookie restored (so only single use can stop it).
    for (const [k, v] of saved) flow.browser.cookies.set(k, v);
    const { res, location } = await flow.browser.follow(flow.providerRedirect, w.url);
    assert.equal(location, undefined);
    assert.equal(res.status, 400);
    assert.match(res.headers.get("content-type"), /text\/html/);
    assert.match(await res.text(), /already completed|start again/i);
  });

  test("user denies at the provider → error=access_denied with state and iss", async () => {
    gh.override("GET", "/login/oauth/authorize", (req, _body, res) => {
      const q = new URL(req.url, "http://x").searchParams;
      res.writeHead(302, { location: `${q.get("redirect_uri")}?error=access_denied&error_description=The+user+has+denied&state=${encodeURIComponent(q.get("state"))}` });
      res.end();
    });
    try {
      const flow = await beginFlow(w);
      const up = await fetch(flow.upstreamUrl, { redirect: "manual" });
      const { location } = await backToWorker(w, flow.browser, up.headers.get("location"));
      assertErrorRedirect(location, w, "access_denied");
    } finally {
      gh.clearOverrides();
    }
  });

  test("token endpoint answers HTTP 200 with an error (GitHub style) → error=server_error", async () => {
    gh.override("POST", "/login/oauth/access_token", (_req, _body, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "bad_verification_code", error_description: "The code passed is incorrect or expired.", error_uri: "https://docs.github.com" }));
    });
    try {
      const flow = await signIn("err200@example.com");
      const { location } = await backToWorker(w, flow.browser, flow.providerRedirect);
      assertErrorRedirect(location, w, "server_error");
    } finally {
      gh.clearOverrides();
    }
  });

  test("token endpoint answers HTTP 200 form-encoded error (no JSON) → error=server_error", async () => {
    gh.override("POST", "/login/oauth/access_token", (_req, _body, res) => {
      res.writeHead(200, { "content-type": "application/x-www-form-urlencoded" });
      res.end("error=incorrect_client_credentials&error_description=The+client_id+and%2For+client_secret+passed+are+incorrect.");
    });
    try {
      const flow = await signIn("errform@example.com");
      const { location } = await backToWorker(w, flow.browser, flow.providerRedirect);
      assertErrorRedirect(location, w, "server_error");
    } finally {
      gh.clearOverrides();
    }
  });

  test("malformed JSON from the token endpoint → error=server_error", async () => {
    gh.override("POST", "/login/oauth/access_token", (_req, _body, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"access_token": "gho_trunc');
    });
    try {
      const flow = await signIn("badjson@example.com");
      const { location } = await backToWorker(w, flow.browser, flow.providerRedirect);
      assertErrorRedirect(location, w, "server_error");
    } finally {
      gh.clearOverrides();
    }
  });

  test("token endpoint unreachable (closed port) → error=temporarily_unavailable", async () => {
    const closed = await freePort();
    const down = await worker(githubVars(gh, { GITHUB_TOKEN_URL: `http://127.0.0.1:${closed}/login/oauth/access_token` }));
    const flow = await beginFlow(down);
    const up = await githubMockSignIn(flow.upstreamUrl, "down@example.com");
    const { location } = await backToWorker(down, flow.browser, up.location);
    assertErrorRedirect(location, down, "temporarily_unavailable");
  });

  test("allow-list: a user not on ALLOWED_USERS ends on a 403 page naming them, and the client gets no code", async () => {
    const strict = await worker(githubVars(gh, { ALLOWED_USERS: "someone-else" }));
    const flow = await beginFlow(strict);
    const up = await githubMockSignIn(flow.upstreamUrl, "intruder@example.com");
    const { res, location } = await backToWorker(strict, flow.browser, up.location);
    assert.equal(location, undefined, "no redirect to the client");
    assert.equal(res.status, 403);
    const html = await res.text();
    assert.match(html, /intruder@example\.com/);
    assert.doesNotMatch(html, /code=/);
    // The abandoned sign-in cannot be resumed either.
    const again = await flow.browser.follow(up.location, strict.url);
    assert.equal(again.location, undefined);
    assert.equal(again.res.status, 400);
    // And a user on the list gets through on the same Worker.
    const ok = await worker(githubVars(gh, { ALLOWED_USERS: "someone-else, intruder" }));
    const flow2 = await beginFlow(ok);
    const up2 = await githubMockSignIn(flow2.upstreamUrl, "intruder@example.com");
    const back = await backToWorker(ok, flow2.browser, up2.location);
    assert.ok(back.params.get("code"));
  });

  after(() => { for (const t of gh?.issued ?? []) secrets.add(t); });
});

// ---------------------------------------------------------------- Google / OIDC

describe("Google-shaped provider (oauth2-mock-server)", () => {
  let op, w;

  before(async () => {
    op = await startOidcMock({ claims: { sub: "g-12345", email: "grace@example.com", email_verified: true, name: "Grace Hopper" } });
    mocks.push(op);
    w = await worker({
      UPSTREAM_PROVIDER: "google",
      GOOGLE_CLIENT_ID: "google-client-id",
      GOOGLE_CLIENT_SECRET: "google-client-secret",
      GOOGLE_AUTHORIZE_URL: `${op.issuer}/authorize`,
      GOOGLE_TOKEN_URL: `${op.issuer}/token`,
      GOOGLE_USERINFO_URL: `${op.issuer}/userinfo`,
      GOOGLE_ISSUER: op.issuer,
    });
  });

  async function signIn() {
    const flow = await beginFlow(w);
    assert.ok(flow.upstreamUrl.startsWith(`${op.issuer}/authorize?`), flow.upstreamUrl);
    const up = await fetch(flow.upstreamUrl, { redirect: "manual" });
    assert.equal(up.status, 302);
    const back = await backToWorker(w, flow.browser, up.headers.get("location"));
    return { ...flow, ...back };
  }

  test("full flow, profile from the ID token; upstream refresh; refresh failure; re-auth replaces the profile", async () => {
    op.tokenResponse = { expires_in: 60 }; // inside the Worker's 300 s refresh margin
    const first = await signIn();
    const authz = new URL(first.upstreamUrl).searchParams;
    assert.ok(authz.get("nonce"));
    assert.equal(authz.get("access_type"), "offline");
    assert.match(authz.get("scope"), /\bopenid\b/);
    assert.equal(first.params.get("state"), CLIENT_STATE);
    assert.equal(first.params.get("iss"), w.url);

    const tokens = await redeem(w, first.client, first.verifier, first.params.get("code"));
    const who = await callTool(w, tokens.access_token, "whoami");
    assert.equal(who.status, 200);
    assert.deepEqual(
      { ...who.result.structuredContent, scopes: undefined, client_id: undefined },
      { id: "google:g-12345", login: "grace@example.com", email: "grace@example.com", name: "Grace Hopper", provider: "google", scopes: undefined, client_id: undefined },
    );

    // Upstream refresh: our refresh_token grant refreshes upstream first.
    const seen = op.tokenRequests.length;
    const r1 = await refresh(w, first.client, tokens.refresh_token);
    assert.equal(r1.status, 200, JSON.stringify(r1.body));
    const upstreamRefresh = op.tokenRequests.slice(seen).find((t) => t.grant_type === "refresh_token");
    assert.ok(upstreamRefresh, "the mock saw grant_type=refresh_token");
    assert.ok(op.issued.has(upstreamRefresh.refresh_token), "with the refresh token it issued");
    assert.equal((await callTool(w, r1.body.access_token, "whoami")).status, 200);

    // Upstream refresh failure: invalid_grant → our refresh fails invalid_grant, grant revoked.
    op.failTokens = { status: 400, body: { error: "invalid_grant", error_description: "Token has been expired or revoked." } };
    const r2 = await refresh(w, first.client, r1.body.refresh_token);
    assert.equal(r2.status, 400, JSON.stringify(r2.body));
    assert.equal(r2.body.error, "invalid_grant");
    assert.equal((await callTool(w, r1.body.access_token, "whoami")).status, 401, "old access token no longer works");
    const r3 = await refresh(w, first.client, r1.body.refresh_token);
    assert.equal(r3.status, 400);
    op.failTokens = null;

    // Re-authorization with a changed profile gives working tokens and the NEW profile.
    op.claims.name = "Grace B. Hopper";
    op.claims.email = "grace.hopper@example.com";
    const second = await signIn();
    const tokens2 = await redeem(w, second.client, second.verifier, second.params.get("code"));
    const who2 = await callTool(w, tokens2.access_token, "whoami");
    assert.equal(who2.status, 200);
    assert.equal(who2.result.structuredContent.name, "Grace B. Hopper");
    assert.equal(who2.result.structuredContent.email, "grace.hopper@example.com");
    assert.equal(who2.result.structuredContent.id, "google:g-12345");
    op.tokenResponse = {};
  });

  test("an unverified email is not used as login", async () => {
    op.claims = { sub: "g-777", email: "mallory@example.com", email_verified: false, name: "Mallory" };
    try {
      const flow = await signIn();
      const tokens = await redeem(w, flow.client, flow.verifier, flow.params.get("code"));
      const who = await callTool(w, tokens.access_token, "whoami");
      assert.equal(who.status, 200);
      // src/upstream/oidc.rs: an email whose email_verified is not true is dropped
      // (and the UserInfo endpoint is not asked, since the ID token had one), so
      // the login falls back to the subject.
      const { id, login, name, email, provider } = who.result.structuredContent;
      assert.deepEqual({ id, login, name, email, provider }, { id: "google:g-777", login: "g-777", name: "Mallory", email: null, provider: "google" });
    } finally {
      op.claims = { sub: "g-12345", email: "grace@example.com", email_verified: true, name: "Grace Hopper" };
    }
  });

  test("user denies at the provider → error=access_denied", async () => {
    const deny = (redirect) => {
      redirect.url.searchParams.delete("code");
      redirect.url.searchParams.set("error", "access_denied");
    };
    op.server.service.once("beforeAuthorizeRedirect", deny);
    const flow = await beginFlow(w);
    const up = await fetch(flow.upstreamUrl, { redirect: "manual" });
    const { location } = await backToWorker(w, flow.browser, up.headers.get("location"));
    assertErrorRedirect(location, w, "access_denied");
  });

  after(() => { for (const t of op?.issued ?? []) secrets.add(t); });
});

describe("generic OpenID Connect provider (OIDC_ISSUER, discovery)", () => {
  let op, w;
  before(async () => {
    op = await startOidcMock({ claims: { sub: "o-1", email: "olga@example.com", email_verified: true, name: "Olga" } });
    mocks.push(op);
    w = await worker({ UPSTREAM_PROVIDER: "oidc", OIDC_ISSUER: op.issuer, OIDC_CLIENT_ID: "oidc-client-id", OIDC_CLIENT_SECRET: "oidc-client-secret" });
  });

  async function toCallback() {
    const flow = await beginFlow(w);
    const up = await fetch(flow.upstreamUrl, { redirect: "manual" });
    return { flow, ...(await backToWorker(w, flow.browser, up.headers.get("location"))) };
  }

  test("full flow through discovery", async () => {
    const { flow, params } = await toCallback();
    const tokens = await redeem(w, flow.client, flow.verifier, params.get("code"));
    const who = await callTool(w, tokens.access_token, "whoami");
    assert.equal(who.result.structuredContent.provider, "oidc");
    assert.equal(who.result.structuredContent.id, "oidc:o-1");
    assert.equal(who.result.structuredContent.email, "olga@example.com");
  });

  test("token endpoint answers HTTP 400 → error=server_error", async () => {
    op.failTokens = { status: 400, body: { error: "invalid_client", error_description: "bad client" } };
    try {
      const { location } = await toCallback();
      assertErrorRedirect(location, w, "server_error");
    } finally {
      op.failTokens = null;
    }
  });

  test("an ID token without the sign-in's nonce is refused → error=server_error", async () => {
    const strip = (token) => { if (!("scope" in token.payload)) token.payload.nonce = "not-the-nonce"; };
    op.server.service.on("beforeTokenSigning", strip);
    try {
      const { location } = await toCallback();
      assertErrorRedirect(location, w, "server_error");
    } finally {
      op.server.service.off("beforeTokenSigning", strip);
    }
  });

  after(() => { for (const t of op?.issued ?? []) secrets.add(t); });
});

// ---------------------------------------------------------------- KV dump

test("KV holds none of the upstream or MCP tokens", async () => {
  const tokens = [...secrets].filter((s) => typeof s === "string" && s.length >= 8);
  assert.ok(tokens.length >= 10, `collected ${tokens.length} tokens`);
  let keys = 0;
  for (const w of workers) {
    let cursor;
    do {
      const page = await w.kv.list({ cursor });
      for (const { name } of page.keys) {
        keys++;
        const value = (await w.kv.get(name)) ?? "";
        for (const t of tokens) {
          assert.ok(!value.includes(t), `KV key ${name} holds a token (${t.slice(0, 6)}…)`);
          assert.ok(!name.includes(t), `KV key name ${name} holds a token`);
        }
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
  }
  assert.ok(keys > 0, "KV was used (clients at least)");
});
