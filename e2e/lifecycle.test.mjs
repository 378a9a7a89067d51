// The grant lifecycle rules that need a real workerd: a SECRET_KEY rotation
// across a restart, the base scope at /mcp, remembered consent that covers only
// what was approved, several sign-ins in one browser, lenient cookie parsing.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { DEV_VARS, startWorker } from "./harness.mjs";
import { Browser, authorizeUrl, consentAndSignIn, formFields, obtainTokens, pkcePair, registerClient, tokenRequest } from "./browser.mjs";

const cleanup = [];
after(async () => { for (const f of cleanup.reverse()) await f(); });

async function started(opts) {
  const w = await startWorker(opts);
  cleanup.push(() => w.dispose());
  return w;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
    srv.on("error", reject);
  });
}

const initialize = (w, token) => fetch(`${w.url}/mcp`, {
  method: "POST",
  headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "e2e", version: "1" } } }),
});
const refresh = (w, client, refresh_token, extra = {}) =>
  tokenRequest(w.url, { grant_type: "refresh_token", refresh_token, client_id: client.client_id, ...extra });

test("rotating SECRET_KEY with SECRET_KEY_PREVIOUS signs nobody out; without it, tokens are invalid, never a 5xx", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mcp-rotation-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const OLD = DEV_VARS.SECRET_KEY;
  const NEW = "rotated-secret-key-0123456789abcdef-0123456789";

  let w = await startWorker({ port, persistTo: dir });
  const { client, tokens } = await obtainTokens(w.url);
  assert.equal((await initialize(w, tokens.access_token)).status, 200);
  await w.dispose();

  // Deployed again with a new key, the old one kept as SECRET_KEY_PREVIOUS.
  w = await startWorker({ port, persistTo: dir, vars: { ...DEV_VARS, SECRET_KEY: NEW, SECRET_KEY_PREVIOUS: OLD } });
  assert.equal((await initialize(w, tokens.access_token)).status, 200, "an access token from before the rotation");
  const r1 = await refresh(w, client, tokens.refresh_token);
  assert.equal(r1.status, 200, JSON.stringify(r1.body));
  await w.dispose();

  // The previous key dropped: what the new key made still works...
  w = await startWorker({ port, persistTo: dir, vars: { ...DEV_VARS, SECRET_KEY: NEW } });
  assert.equal((await initialize(w, r1.body.access_token)).status, 200);
  const r2 = await refresh(w, client, r1.body.refresh_token);
  assert.equal(r2.status, 200, JSON.stringify(r2.body));
  await w.dispose();

  // ...and a key that opens nothing makes tokens invalid, not a server error.
  w = await started({ port, persistTo: dir, vars: { ...DEV_VARS, SECRET_KEY: "yet-another-secret-key-0123456789abcdef-01" } });
  const res = await initialize(w, r2.body.access_token);
  assert.equal(res.status, 401);
  assert.match(res.headers.get("www-authenticate"), /invalid_token/);
  const r3 = await refresh(w, client, r2.body.refresh_token);
  assert.equal(r3.status, 400, JSON.stringify(r3.body));
  assert.equal(r3.body.error, "invalid_grant");
});

test("/mcp needs the base scope: a token narrowed to github:repos gets 403 insufficient_scope", async () => {
  const w = await started();
  const { client, tokens } = await obtainTokens(w.url, { params: { scope: "mcp github:repos" } });
  const narrowed = await refresh(w, client, tokens.refresh_token, { scope: "github:repos" });
  assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
  const res = await initialize(w, narrowed.body.access_token);
  assert.equal(res.status, 403);
  const challenge = res.headers.get("www-authenticate");
  assert.match(challenge, /error="insufficient_scope"/);
  assert.match(challenge, /scope="mcp"/);
  assert.equal((await res.json()).error, "insufficient_scope");
  const empty = await refresh(w, client, narrowed.body.refresh_token, { scope: "" });
  assert.equal(empty.status, 400);
  assert.equal(empty.body.error, "invalid_scope");
});

test("remembered consent covers the approved scopes only", async () => {
  const w = await started();
  // An https redirect: the only kind of public client whose approval is remembered.
  const client = await registerClient(w.url, { redirect_uris: ["https://app.example.com/callback"] });
  const browser = new Browser();
  const { challenge } = pkcePair();
  const pkce = { code_challenge: challenge, code_challenge_method: "S256" };
  const first = await consentAndSignIn(w.url, authorizeUrl(w.url, client, { ...pkce, scope: "mcp" }), { browser });
  assert.ok(first.location, "the first authorization completes");
  const same = await browser.request(authorizeUrl(w.url, client, { ...pkce, scope: "mcp" }));
  assert.equal(same.status, 302, "the same request skips the consent page");
  assert.match(same.headers.get("location"), /\/dev\/login\?/);
  const wider = await browser.request(authorizeUrl(w.url, client, { ...pkce, scope: "mcp github:repos" }));
  assert.equal(wider.status, 200, "a scope never approved shows the consent page again");
  assert.match(await wider.text(), /github:repos/);
});

test("two authorizations in flight in one browser both complete, whatever the order", async () => {
  const w = await started();
  const browser = new Browser();
  const a = await registerClient(w.url, { redirect_uris: ["http://127.0.0.1:9/a"] });
  const b = await registerClient(w.url, { redirect_uris: ["http://127.0.0.1:9/b"] });
  const pageOf = async (client) => {
    const { challenge } = pkcePair();
    const res = await browser.request(authorizeUrl(w.url, client, { code_challenge: challenge, code_challenge_method: "S256" }));
    assert.equal(res.status, 200);
    return formFields(await res.text());
  };
  const formA = await pageOf(a);
  const formB = await pageOf(b);
  const approve = async (fields) => {
    const res = await browser.request(`${w.url}/authorize`, { method: "POST", form: { ...fields, action: "approve" } });
    assert.equal(res.status, 302, `consent: ${res.status}`);
    return new URL(res.headers.get("location"), w.url).toString();
  };
  const loginA = await approve(formA);
  const loginB = await approve(formB);
  const signIn = async (loginUrl) => {
    const state = new URL(loginUrl).searchParams.get("state");
    const res = await browser.request(`${w.url}/dev/login`, { method: "POST", form: { state, login: "ada", name: "Ada", email: "ada@example.com" } });
    const cb = await browser.request(new URL(res.headers.get("location"), w.url).toString());
    assert.equal(cb.status, 302, `callback: ${cb.status} ${await cb.text()}`);
    return new URL(cb.headers.get("location"));
  };
  const backB = await signIn(loginB);
  const backA = await signIn(loginA);
  assert.equal(backA.pathname, "/a");
  assert.equal(backB.pathname, "/b");
  assert.ok(backA.searchParams.get("code") && backB.searchParams.get("code"));
});

test("a malformed cookie pair from elsewhere on the host does not hide ours", async () => {
  const w = await started();
  const client = await registerClient(w.url);
  const browser = new Browser();
  const { challenge } = pkcePair();
  const page = await browser.request(authorizeUrl(w.url, client, { code_challenge: challenge, code_challenge_method: "S256" }));
  const fields = formFields(await page.text());
  const res = await fetch(`${w.url}/authorize`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: `garbage; ${browser.cookieHeader()}; =x` },
    body: new URLSearchParams({ ...fields, action: "approve" }).toString(),
  });
  assert.equal(res.status, 302);
});
