// The consent page in a real browser (Debian's headless Chromium through
// playwright-core): a person reads who is asking, approves, signs in on the
// development provider, and lands on the client's redirect URI with a code.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { devSignIn, launchChromium } from "./chromium.mjs";
import { startWorker } from "./harness.mjs";
import { authorizeUrl, pkcePair, registerClient } from "./browser.mjs";

let w;
let browser;

before(async () => {
  // No skipping: without the browser this suite fails (launchChromium names the install step).
  w = await startWorker();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await w?.dispose();
});

test("a person approves the consent page and the client receives a code", async () => {
  const client = await registerClient(w.url, { client_name: "Browser <b>Test</b> Client", redirect_uris: ["http://127.0.0.1:9/callback"] });
  const { challenge } = pkcePair();
  const page = await browser.newPage();
  // The client's redirect URI is not served by anything: capture it instead.
  let landed;
  await page.route("http://127.0.0.1:9/**", (route) => { landed = route.request().url(); route.fulfill({ status: 200, body: "client" }); });
  await page.goto(authorizeUrl(w.url, client, { code_challenge: challenge, code_challenge_method: "S256" }));

  assert.equal(await page.textContent("#client-name"), "Browser <b>Test</b> Client", "the name is shown as text, not markup");
  assert.equal(await page.locator("#client-name b").count(), 0);
  assert.equal(await page.textContent("#redirect-host"), "127.0.0.1");
  assert.match(await page.textContent("#scopes"), /github:repos/);

  await page.click("#approve");
  await devSignIn(page, "grace");
  await page.waitForURL(/127\.0\.0\.1:9\/callback/);
  const back = new URL(landed);
  assert.ok(back.searchParams.get("code"));
  assert.equal(back.searchParams.get("state"), "client-state-123");
  assert.equal(back.searchParams.get("iss"), w.url);
  await page.close();
});

test("the consent page refuses to be framed", async (t) => {
  const client = await registerClient(w.url);
  const { challenge } = pkcePair();
  const target = authorizeUrl(w.url, client, { code_challenge: challenge, code_challenge_method: "S256" });
  // An attacker's page on another origin (another site: localhost, not 127.0.0.1,
  // and another port) frames the consent page. It is served over loopback like the
  // Worker, so Chromium's local-network-access checks do not block the frame
  // before the Worker's own headers are even read.
  const attacker = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(`<!doctype html><title>attacker</title><iframe id="f" src="${target}"></iframe>`);
  });
  await new Promise((resolve) => attacker.listen(0, "127.0.0.1", resolve));
  t.after(() => attacker.close());
  const attackerUrl = `http://localhost:${attacker.address().port}/`;
  const isConsent = (url) => url.startsWith(`${w.url}/authorize`);

  // Control: the same page with its anti-framing headers stripped on the way does
  // render inside the frame, so the probe below would see a framed consent form.
  const control = await browser.newPage();
  await control.route((url) => isConsent(url.toString()), async (route) => {
    const response = await route.fetch();
    const headers = { ...response.headers() };
    delete headers["content-security-policy"];
    delete headers["x-frame-options"];
    await route.fulfill({ response, headers });
  });
  await control.goto(attackerUrl);
  const controlFrame = await (await control.waitForSelector("#f")).contentFrame();
  await controlFrame.waitForSelector("#approve", { timeout: 10_000 });
  assert.equal(await controlFrame.locator("#approve").count(), 1, "control: without the headers the form renders framed");
  await control.close();

  // The real headers: the Worker serves the page to the frame, and Chromium
  // refuses to show it, saying why.
  const page = await browser.newPage();
  const messages = [];
  page.on("console", (m) => messages.push(m.text()));
  const served = page.waitForResponse((r) => isConsent(r.url()), { timeout: 10_000 });
  const blocked = page.waitForEvent("requestfailed", { predicate: (r) => isConsent(r.url()), timeout: 10_000 });
  await page.goto(attackerUrl);
  assert.equal((await served).status(), 200, "the consent page itself reached the frame");
  assert.equal((await blocked).failure()?.errorText, "net::ERR_BLOCKED_BY_RESPONSE", "Chromium blocked the frame because of the response's headers");
  const refused = /frame-ancestors 'none'|X-Frame-Options/i;
  for (let i = 0; i < 50 && !messages.some((m) => refused.test(m)); i++) await page.waitForTimeout(100);
  assert.ok(messages.some((m) => refused.test(m)), `Chromium reports the refusal; console: ${JSON.stringify(messages)}`);
  const frame = await (await page.waitForSelector("#f")).contentFrame();
  assert.equal(await frame.locator("#approve").count(), 0, "the consent form must not render inside a frame");
  assert.ok(!isConsent(frame.url()), `the frame shows an error page, not the consent page: ${frame.url()}`);
  await page.close();
});
