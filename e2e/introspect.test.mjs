// RFC 7662 token introspection against the built Worker in workerd: each state
// of a token gives its documented answer, and nothing leaks about tokens that
// are not the caller's own and live.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, DEV_VARS } from "./harness.mjs";
import { authorizeCode, registerClient, tokenRequest } from "./browser.mjs";
import { forgeAccessRecord } from "./forge.mjs";

const ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef0123456789";
let w;

before(async () => { w = await startWorker({ extraVars: { ADMIN_TOKEN } }); });
after(async () => { await w?.dispose(); });

const basic = (client) => `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString("base64")}`;

/** A confidential client (client_secret_basic) that `login` authorized. */
async function confidential(login = "ada", name = "Robot") {
  const client = await registerClient(w.url, { client_name: name, token_endpoint_auth_method: "client_secret_basic" });
  assert.ok(client.client_secret);
  const { code, verifier } = await authorizeCode(w.url, client, { login, email: `${login}@example.com` });
  const tok = await tokenRequest(w.url, { grant_type: "authorization_code", code, redirect_uri: client.redirect_uris[0], code_verifier: verifier }, { authorization: basic(client) });
  assert.equal(tok.status, 200, JSON.stringify(tok.body));
  return { client, tokens: tok.body };
}

async function introspect(token, authorization) {
  const headers = { "content-type": "application/x-www-form-urlencoded" };
  if (authorization) headers.authorization = authorization;
  const res = await w.fetch("/introspect", { method: "POST", headers, body: new URLSearchParams({ token }).toString() });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const INACTIVE = { active: false };

test("metadata advertises the introspection endpoint, with CORS like /token", async () => {
  const m = await (await w.fetch("/.well-known/oauth-authorization-server")).json();
  assert.equal(m.introspection_endpoint, `${w.url}/introspect`);
  assert.deepEqual(m.introspection_endpoint_auth_methods_supported, ["client_secret_basic", "client_secret_post", "private_key_jwt"]);
  const pre = await w.fetch("/introspect", { method: "OPTIONS", headers: { origin: "http://localhost:6274", "access-control-request-method": "POST" } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), "*");
});

test("a live access token and a live refresh token are described", async () => {
  const { client, tokens } = await confidential();
  const before = Math.floor(Date.now() / 1000);
  const a = await introspect(tokens.access_token, basic(client));
  assert.equal(a.status, 200);
  assert.equal(a.headers.get("access-control-allow-origin"), "*");
  assert.equal(a.headers.get("cache-control"), "no-store");
  assert.deepEqual(Object.keys(a.body).sort(), ["active", "aud", "client_id", "exp", "iat", "scope", "sub", "token_type"]);
  assert.equal(a.body.active, true);
  assert.equal(a.body.client_id, client.client_id);
  assert.equal(a.body.sub, "dev:ada");
  assert.equal(a.body.aud, `${w.url}/mcp`);
  assert.equal(a.body.scope, tokens.scope);
  assert.equal(a.body.token_type, "access_token");
  assert.ok(Math.abs(a.body.iat - before) < 30, `iat ${a.body.iat}`);
  assert.equal(a.body.exp - a.body.iat, tokens.expires_in);
  const r = await introspect(tokens.refresh_token, basic(client));
  assert.equal(r.body.active, true);
  assert.equal(r.body.token_type, "refresh_token");
  assert.equal(r.body.client_id, client.client_id);
});

test("a refresh token rotated away is inactive; the new pair is live", async () => {
  const { client, tokens } = await confidential();
  const next = await tokenRequest(w.url, { grant_type: "refresh_token", refresh_token: tokens.refresh_token }, { authorization: basic(client) });
  assert.equal(next.status, 200);
  assert.deepEqual((await introspect(tokens.refresh_token, basic(client))).body, INACTIVE);
  assert.equal((await introspect(next.body.refresh_token, basic(client))).body.active, true);
  assert.equal((await introspect(next.body.access_token, basic(client))).body.active, true);
});

test("revoked tokens are inactive", async () => {
  const { client, tokens } = await confidential();
  const res = await w.fetch("/revoke", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client) }, body: new URLSearchParams({ token: tokens.refresh_token }).toString() });
  assert.equal(res.status, 200);
  assert.deepEqual((await introspect(tokens.access_token, basic(client))).body, INACTIVE);
  assert.deepEqual((await introspect(tokens.refresh_token, basic(client))).body, INACTIVE);
});

test("an expired access token is inactive", async () => {
  const { client, tokens } = await confidential();
  // Control: the same token, before it expires, is active.
  const live = await introspect(tokens.access_token, basic(client));
  assert.equal(live.body.active, true, JSON.stringify(live.body));
  // Time cannot be moved in workerd: the record is re-sealed with an expiry in
  // the past, exactly as the Worker would have written it an hour ago.
  const past = Math.floor(Date.now() / 1000) - 5;
  await forgeAccessRecord(w.kv, DEV_VARS.SECRET_KEY, tokens.access_token, { expires_at: past });
  assert.deepEqual((await introspect(tokens.access_token, basic(client))).body, INACTIVE);
  // Control of the forge: the same re-sealing with a future expiry is active
  // again, with that expiry, so only the expiry refused it above.
  const future = Math.floor(Date.now() / 1000) + 600;
  await forgeAccessRecord(w.kv, DEV_VARS.SECRET_KEY, tokens.access_token, { expires_at: future });
  const again = await introspect(tokens.access_token, basic(client));
  assert.equal(again.body.active, true, JSON.stringify(again.body));
  assert.equal(again.body.exp, future);
});

test("another client's token is inactive to a client, and live to the admin token", async () => {
  const mine = await confidential("ada", "Mine");
  const theirs = await confidential("bob", "Theirs");
  assert.deepEqual((await introspect(theirs.tokens.access_token, basic(mine.client))).body, INACTIVE);
  assert.deepEqual((await introspect(theirs.tokens.refresh_token, basic(mine.client))).body, INACTIVE);
  const admin = await introspect(theirs.tokens.access_token, `Bearer ${ADMIN_TOKEN}`);
  assert.equal(admin.body.active, true);
  assert.equal(admin.body.sub, "dev:bob");
});

test("unknown tokens are inactive; callers without credentials are refused", async () => {
  const { client, tokens } = await confidential();
  for (const junk of ["nope", "mcpa.AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"]) {
    assert.deepEqual((await introspect(junk, basic(client))).body, INACTIVE);
  }
  assert.equal((await introspect(tokens.access_token)).status, 401);
  assert.equal((await introspect(tokens.access_token, `Bearer ${ADMIN_TOKEN}x`)).status, 401);
  const pub = await registerClient(w.url, { client_name: "Public" });
  const res = await w.fetch("/introspect", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token: tokens.access_token, client_id: pub.client_id }).toString() });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error, "invalid_client");
});
