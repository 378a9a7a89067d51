// The connected-applications page in headless Chromium: a person who
// connected two clients signs in to /account, sees both, revokes one; its
// refresh token and access token stop working while the other keeps working.
// Cross-site requests and framing are refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { devSignIn, launchChromium } from "./chromium.mjs";
import { startWorker } from "./harness.mjs";
import { authorizeUrl, mcpStatus as mcpStatusAt, obtainTokens, pkcePair, refreshConnection, registerClient } from "./browser.mjs";

let w;
let browser;

before(async () => {
  w = await startWorker();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await w?.dispose();
});

const mcpStatus = (token) => mcpStatusAt(w.url, token);
const refresh = (conn) => refreshConnection(w.url, conn);

/** A browser context signed in to /account as `login` through the dev provider. */
async function signedIn(login, base = w.url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/account`);
  // Not signed in: straight to the identity provider's sign-in.
  await devSignIn(page, login, `${login}@example.com`);
  await page.waitForURL(`${base}/account`);
  assert.equal(await page.textContent("#login"), login);
  return { context, page };
}

/** An attacker's page on another site (localhost, another port) with `html`. */
async function attackerSite(t, html) {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(html);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  return `http://localhost:${server.address().port}/`;
}

test("a person sees both connections, revokes one, and only that one stops working", async () => {
  const alpha = await obtainTokens(w.url, { login: "carol", metadata: { client_name: "Alpha <i>App</i>" } });
  const beta = await obtainTokens(w.url, { login: "carol", metadata: { client_name: "Beta App" } });
  const { context, page } = await signedIn("carol");

  const grants = page.locator("li.grant");
  assert.equal(await grants.count(), 2);
  const names = (await page.locator("li.grant .name").allTextContents()).sort();
  assert.deepEqual(names, ["Alpha <i>App</i>", "Beta App"], "names are text, not markup");
  assert.equal(await page.locator("li.grant .name i").count(), 0);
  const alphaRow = page.locator("li.grant", { hasText: "Alpha" });
  assert.match(await alphaRow.textContent(), /127\.0\.0\.1/, "the redirect host");
  assert.match(await alphaRow.textContent(), /mcp/, "the scope");
  assert.match(await alphaRow.textContent(), new RegExp(`${w.url}/mcp`), "the resource");
  assert.match(await alphaRow.textContent(), /Connected \d{4}-\d\d-\d\d .* last refreshed never .* expires \d{4}-/s);

  // Beta refreshes once; the page says when.
  assert.equal((await refresh(beta)).status, 200);
  await page.reload();
  assert.doesNotMatch(await page.locator("li.grant", { hasText: "Beta" }).textContent(), /last refreshed never/);

  // Used just before: this isolate now trusts the token for a few seconds, and the
  // revocation below must end that at once.
  assert.equal(await mcpStatus(alpha.tokens.access_token), 200);
  await alphaRow.locator("button.revoke").click();
  await page.waitForURL(/\/account\?revoked=1$/);
  assert.match(await page.textContent("#notice"), /1 connection was revoked/);
  assert.deepEqual(await page.locator("li.grant .name").allTextContents(), ["Beta App"]);

  assert.deepEqual(await refresh(alpha), { status: 400, error: "invalid_grant" });
  assert.equal(await mcpStatus(alpha.tokens.access_token), 401);
  assert.equal(await mcpStatus(beta.tokens.access_token), 200);
  assert.equal((await refresh(beta)).status, 200);
  await context.close();
});

test("revoke all ends every connection of the person", async () => {
  const one = await obtainTokens(w.url, { login: "dave" });
  const two = await obtainTokens(w.url, { login: "dave" });
  const { context, page } = await signedIn("dave");
  assert.equal(await page.locator("li.grant").count(), 2);
  for (const conn of [one, two]) assert.equal(await mcpStatus(conn.tokens.access_token), 200);
  await page.click("#revoke-all");
  await page.waitForURL(/\/account\?revoked=2$/);
  assert.equal(await page.locator("#empty").count(), 1);
  for (const conn of [one, two]) assert.equal(await mcpStatus(conn.tokens.access_token), 401);
  await context.close();
});

test("cross-site requests revoke nothing", async (t) => {
  const conn = await obtainTokens(w.url, { login: "erin" });
  const { context, page } = await signedIn("erin");
  const grant = await page.locator("li.grant").getAttribute("data-grant");

  // Another site auto-submits a revoke-all form to the Worker in the same browser.
  const evil = await attackerSite(t, `<!doctype html><form id="f" method="post" action="${w.url}/account/revoke"><input name="csrf" value="guess"><input name="all" value="1"></form><script>document.getElementById("f").submit()</script>`);
  const attack = await context.newPage();
  const answered = attack.waitForResponse((r) => r.url() === `${w.url}/account/revoke`);
  await attack.goto(evil);
  const status = (await answered).status();
  assert.ok(status === 401 || status === 403, `refused, got ${status}`);
  // Same browser, with the session cookie but without the page's CSRF value.
  const forged = await context.request.post(`${w.url}/account/revoke`, { form: { csrf: "guess", grant }, maxRedirects: 0 });
  assert.equal(forged.status(), 403);
  const missing = await context.request.post(`${w.url}/account/revoke`, { form: { grant }, maxRedirects: 0 });
  assert.equal(missing.status(), 400);

  assert.equal(await mcpStatus(conn.tokens.access_token), 200);
  await page.reload();
  assert.equal(await page.locator("li.grant").count(), 1);
  await context.close();
});

test("the account page refuses to be framed", async (t) => {
  await obtainTokens(w.url, { login: "fay" });
  const { context } = await signedIn("fay");
  // In a cross-site frame the SameSite=Lax session cookie is not sent, so the
  // frame is sent on to sign in; every page on that way forbids framing.
  const onWorker = (url) => url.startsWith(`${w.url}/`);
  const evil = await attackerSite(t, `<!doctype html><title>attacker</title><iframe id="f" src="${w.url}/account"></iframe>`);
  const page = await context.newPage();
  const blocked = page.waitForEvent("requestfailed", { predicate: (r) => onWorker(r.url()), timeout: 10_000 });
  await page.goto(evil);
  const failed = await blocked;
  assert.equal(failed.failure()?.errorText, "net::ERR_BLOCKED_BY_RESPONSE", `blocked: ${failed.url()}`);
  const frame = await (await page.waitForSelector("#f")).contentFrame();
  assert.equal(await frame.locator("button.revoke").count(), 0, "no revoke button renders inside a frame");
  assert.equal(await frame.locator("#sign-in").count(), 0, "no sign-in form renders inside a frame");
  await page.close();
  // The signed-in page itself carries the same refusal.
  const own = await context.request.get(`${w.url}/account`, { maxRedirects: 0 });
  assert.equal(own.status(), 200);
  assert.match(own.headers()["content-security-policy"], /frame-ancestors 'none'/);
  assert.equal(own.headers()["x-frame-options"], "DENY");
  await context.close();
});

test("the consent page links to the account page, and the page loads nothing from elsewhere", async () => {
  const res = await w.fetch("/account/nope");
  assert.equal(res.status, 404);
  await res.arrayBuffer();
  const client = await registerClient(w.url);
  const { challenge } = pkcePair();
  const page = await browser.newPage();
  await page.goto(authorizeUrl(w.url, client, { code_challenge: challenge, code_challenge_method: "S256" }));
  await page.click("#account-link");
  await page.waitForURL(/\/dev\/login/);
  await page.close();
  // The signed-in page itself: no framing, nothing loaded from anywhere.
  const { context } = await signedIn("gil");
  const own = await context.request.get(`${w.url}/account`, { maxRedirects: 0 });
  assert.equal(own.status(), 200);
  const csp = own.headers()["content-security-policy"];
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, /default-src 'none'/);
  const html = await own.text();
  assert.doesNotMatch(html, /<script|<link|<img|<iframe|src=/i, "no third-party (or any) assets");
  await context.close();
});

// Issue 21 (account fan-out): a person with more grants than a page holds sees
// them 20 at a time; one grant whose object cannot be read just now leaves the
// page standing with a notice; "revoke all" ends a batch per request and
// continues where it stopped. Faults are injected by the harness
// (e2e/count-storage.mjs), not by the product.
test("many connections: pages of 20, a partial page with a notice, revoke all in batches", async () => {
  const fw = await startWorker({ countStorage: true });
  try {
    const conns = [];
    for (let i = 0; i < 23; i += 1) conns.push(await obtainTokens(fw.url, { login: "paula" }));
    const { context, page } = await signedIn("paula", fw.url);
    const ids = () => page.locator("li.grant").evaluateAll((els) => els.map((e) => e.dataset.grant));

    const first = await ids();
    assert.equal(first.length, 20, "one page holds 20");
    assert.equal(await page.locator("#first").count(), 0);
    await page.click("#next");
    await page.waitForURL(/\/account\?cursor=\d+\.[\w-]+$/);
    const second = await ids();
    assert.equal(second.length, 3);
    assert.equal(await page.locator("#next").count(), 0, "the last page");
    assert.equal(await page.locator("#first").count(), 1);
    assert.equal(new Set([...first, ...second]).size, 23, "every grant once");

    // A cursor this server did not make: a clear 400 page, not a 5xx.
    for (const bad of ["x", "1.short", "0.aaaaaaaaaaaaaaaaaaaa", "99999999999999999999999.aaaaaaaaaaaaaaaaaaaa"]) {
      const res = await page.goto(`${fw.url}/account?cursor=${encodeURIComponent(bad)}`);
      assert.equal(res.status(), 400, bad);
      assert.match(await page.textContent("body"), /Open \/account/);
    }

    // One grant's object cannot be read just now: the page is shown without it.
    await fw.fetch("/__faults?fail_next=do.storage.get&times=1", { method: "POST" }).then((r) => r.text());
    const partial = await page.goto(`${fw.url}/account`);
    assert.equal(partial.status(), 200);
    assert.match(await page.textContent("#partial"), /1 connection on this page could not be read just now/);
    assert.equal((await ids()).length, 19);
    await page.reload();
    assert.equal(await page.locator("#partial").count(), 0);
    assert.equal((await ids()).length, 20, "nothing was lost");

    // Revoke all, with one grant failing to end: it stops with 19 ended and
    // says so; pressed again it ends the rest (the failed one included).
    await fw.fetch("/__faults?fail_next=do.storage.get&times=1", { method: "POST" }).then((r) => r.text());
    await page.click("#revoke-all");
    await page.waitForURL(/\/account\?revoked=19&left=1&failed=1$/);
    assert.match(await page.textContent("#notice"), /19 connections were revoked\. Some connections remain \(1 could not be revoked just now\)/);
    assert.equal((await ids()).length, 4);
    await page.click("#revoke-all");
    await page.waitForURL(/\/account\?revoked=4$/);
    assert.equal(await page.locator("#empty").count(), 1);
    for (const conn of conns) assert.equal(await mcpStatusAt(fw.url, conn.tokens.access_token), 401);
    await context.close();
  } finally {
    await fw.dispose();
  }
});
