// Lifecycle gaps closed against the built Worker in workerd: the browser
// binding of a sign-in cannot be derived from its callback URL, a consent form
// is used once, a refresh replayed in the grace window still obeys the
// sign-in policy, signing out of /account ends the session on the server,
// public client ids survive a key rotation, and the rate limits cover
// /account, /admin and /dev/login.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { DEV_VARS, startWorker } from "./harness.mjs";
import { Browser, authorizeUrl, formFields, obtainTokens, pkcePair, registerClient, tokenRequest } from "./browser.mjs";

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
    srv.on("error", reject);
  });
}

const sha256hex = (s) => crypto.createHash("sha256").update(s).digest("hex");

let w;
before(async () => { w = await startWorker(); });
after(async () => { await w?.dispose(); });

/** Consent and dev sign-in in `browser`, up to (not including) the callback. */
async function reachCallback(browser = new Browser()) {
  const c = await registerClient(w.url);
  const { challenge } = pkcePair();
  let { res } = await browser.follow(authorizeUrl(w.url, c, { code_challenge: challenge, code_challenge_method: "S256" }), w.url);
  const fields = formFields(await res.text());
  res = await browser.request(`${w.url}/authorize`, { method: "POST", form: { ...fields, action: "approve" } });
  const toProvider = res.headers.get("location");
  const login = await browser.request(new URL(toProvider, w.url).toString());
  const state = formFields(await login.text()).state;
  res = await browser.request(`${w.url}/dev/login`, { method: "POST", form: { state, login: "ada", name: "Ada", email: "ada@example.com" } });
  const callback = new URL(res.headers.get("location"), w.url).toString();
  return { browser, callback, state, urls: [toProvider, callback] };
}

describe("browser binding of a sign-in", () => {
  test("a cookie computed from the callback URL's state does not bind (authorization)", async () => {
    const { browser, callback, state, urls } = await reachCallback();
    const name = [...browser.cookies.keys()].find((k) => k.startsWith("state-"));
    const value = browser.cookies.get(name);
    // The binding value is random and never appears in a URL.
    assert.notEqual(value, sha256hex(state));
    for (const u of urls) assert.ok(!u.includes(value.split(".")[0]), u);
    // Someone who sees the callback URL computes what they can from it.
    const thief = new Browser();
    thief.cookies.set(name, sha256hex(state));
    const stolen = await thief.request(callback);
    assert.equal(stolen.status, 400);
    assert.equal(stolen.headers.get("location"), null);
    // The browser that started it completes it.
    const ok = await browser.request(callback);
    assert.equal(ok.status, 302);
    assert.ok(new URL(ok.headers.get("location")).searchParams.get("code"));
  });

  test("a cookie computed from the callback URL's state does not bind (account sign-in)", async () => {
    const browser = new Browser();
    const start = await browser.request(`${w.url}/account/login`);
    assert.equal(start.status, 302);
    const toProvider = start.headers.get("location");
    const state = new URL(toProvider, w.url).searchParams.get("state");
    assert.ok(state.startsWith("account."));
    const name = [...browser.cookies.keys()].find((k) => k.startsWith("account-state"));
    const value = browser.cookies.get(name);
    assert.notEqual(value, sha256hex(state));
    assert.ok(!toProvider.includes(value.split(".")[0]));
    const login = await browser.request(new URL(toProvider, w.url).toString());
    const fields = formFields(await login.text());
    const res = await browser.request(`${w.url}/dev/login`, { method: "POST", form: { ...fields, login: "ada", name: "Ada", email: "ada@example.com" } });
    const callback = new URL(res.headers.get("location"), w.url).toString();
    const thief = new Browser();
    thief.cookies.set(name, sha256hex(state));
    const stolen = await thief.request(callback);
    assert.equal(stolen.status, 400);
    assert.equal(stolen.headers.getSetCookie().filter((c) => c.includes("account=")).length, 0, "no session for the thief");
    const ok = await browser.request(callback);
    assert.equal(ok.status, 302);
    assert.equal(ok.headers.get("location"), "/account");
  });
});

test("a consent form is used once: posting it again begins no second grant", async () => {
  const browser = new Browser();
  const c = await registerClient(w.url);
  const { challenge } = pkcePair();
  const { res } = await browser.follow(authorizeUrl(w.url, c, { code_challenge: challenge, code_challenge_method: "S256" }), w.url);
  const fields = formFields(await res.text());
  const csrfName = [...browser.cookies.keys()].find((k) => k.startsWith("csrf-"));
  const csrf = browser.cookies.get(csrfName);
  const first = await browser.request(`${w.url}/authorize`, { method: "POST", form: { ...fields, action: "approve" } });
  assert.equal(first.status, 302);
  // A copy of the form and of its cookie (another tab, a replay by whoever
  // kept them) within the form's 15 minutes.
  browser.cookies.set(csrfName, csrf);
  const again = await browser.request(`${w.url}/authorize`, { method: "POST", form: { ...fields, action: "approve" } });
  assert.equal(again.status, 400);
  assert.equal(again.headers.get("location"), null);
  assert.match(await again.text(), /already sent/);
  // The first one still completes.
  const login = await browser.request(new URL(first.headers.get("location"), w.url).toString());
  const state = formFields(await login.text()).state;
  const signed = await browser.request(`${w.url}/dev/login`, { method: "POST", form: { state, login: "ada", name: "Ada", email: "ada@example.com" } });
  const back = await browser.request(new URL(signed.headers.get("location"), w.url).toString());
  assert.equal(back.status, 302);
  assert.ok(new URL(back.headers.get("location")).searchParams.get("code"));
});

test("public client ids survive a SECRET_KEY rotation: a client that registers on each connection keeps refreshing", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mcp-ids-"));
  const port = await freePort();
  const OLD = DEV_VARS.SECRET_KEY;
  const NEW = "rotated-secret-key-0123456789abcdef-0123456789";
  const metadata = { client_name: "Re-registering client" };
  let v;
  try {
    v = await startWorker({ port, persistTo: dir });
    const { client, tokens } = await obtainTokens(v.url, { metadata });
    await v.dispose();

    // Rotated, the previous key kept: the client registers again, as it does
    // on each connection, and refreshes with the id it is given.
    v = await startWorker({ port, persistTo: dir, vars: { ...DEV_VARS, SECRET_KEY: NEW, SECRET_KEY_PREVIOUS: OLD } });
    const again = await registerClient(v.url, metadata);
    assert.equal(again.client_id, client.client_id, "the same id after the rotation");
    const r1 = await tokenRequest(v.url, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: again.client_id });
    assert.equal(r1.status, 200, JSON.stringify(r1.body));
    await v.dispose();

    // The previous key dropped: still the same id.
    v = await startWorker({ port, persistTo: dir, vars: { ...DEV_VARS, SECRET_KEY: NEW } });
    const third = await registerClient(v.url, metadata);
    assert.equal(third.client_id, client.client_id);
    const r2 = await tokenRequest(v.url, { grant_type: "refresh_token", refresh_token: r1.body.refresh_token, client_id: third.client_id });
    assert.equal(r2.status, 200, JSON.stringify(r2.body));
  } finally {
    await v?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a refresh replayed in the grace window re-checks ALLOWED_USERS", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mcp-grace-"));
  const port = await freePort();
  let v;
  try {
    v = await startWorker({ port, persistTo: dir });
    const { client, tokens } = await obtainTokens(v.url, { login: "ada" });
    const r1 = await tokenRequest(v.url, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id });
    assert.equal(r1.status, 200);
    await v.dispose();
    // Ada is taken off the list; within the 60 s grace the same refresh is sent again.
    v = await startWorker({ port, persistTo: dir, vars: { ...DEV_VARS, ALLOWED_USERS: "someone-else@example.com" } });
    const replay = await tokenRequest(v.url, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id });
    assert.equal(replay.status, 400, JSON.stringify(replay.body));
    assert.equal(replay.body.error, "invalid_grant");
    assert.match(replay.body.error_description, /no longer allowed/);
  } finally {
    await v?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A Browser signed in to /account as `login` (dev provider). */
async function accountSignIn(login = "ada") {
  const browser = new Browser();
  const start = await browser.request(`${w.url}/account/login`);
  const page = await browser.request(new URL(start.headers.get("location"), w.url).toString());
  const fields = formFields(await page.text());
  const res = await browser.request(`${w.url}/dev/login`, { method: "POST", form: { ...fields, login, name: login, email: `${login}@example.com` } });
  const back = await browser.request(new URL(res.headers.get("location"), w.url).toString());
  assert.equal(back.headers.get("location"), "/account");
  return browser;
}

test("signing out of /account ends the session on the server: a copied cookie no longer works", async () => {
  await obtainTokens(w.url, { login: "sophie" });
  const browser = await accountSignIn("sophie");
  const copy = new Browser();
  for (const [k, v] of browser.cookies) copy.cookies.set(k, v);
  assert.equal((await copy.request(`${w.url}/account`)).status, 200, "the copy works while signed in");
  const out = await browser.request(`${w.url}/account/logout`, { method: "POST", form: {} });
  assert.equal(out.status, 302);
  const after = await copy.request(`${w.url}/account`);
  assert.equal(after.status, 302);
  assert.equal(after.headers.get("location"), "/account/login");
  const csrf = "x";
  const revoke = await copy.request(`${w.url}/account/revoke`, { method: "POST", form: { csrf, all: "1" } });
  assert.equal(revoke.status, 401);
});
