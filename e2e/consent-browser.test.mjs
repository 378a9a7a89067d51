// The consent page in a real browser (Debian's headless Chromium through
// playwright-core): a person reads who is asking, approves, signs in on the
// development provider, and lands on the client's redirect URI with a code.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";
import { startWorker } from "./harness.mjs";
import { authorizeUrl, pkcePair, registerClient } from "./browser.mjs";

const CHROMIUM = "/usr/bin/chromium";
let w;
let browser;

before(async () => {
  w = await startWorker();
  if (existsSync(CHROMIUM)) {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
    });
  }
});
after(async () => {
  await browser?.close();
  await w?.dispose();
});

test("a person approves the consent page and the client receives a code", { skip: !existsSync(CHROMIUM) && "Debian chromium is not installed (make test installs it)" }, async () => {
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
  await page.waitForURL(/\/dev\/login/);
  await page.fill("#login", "grace");
  await page.click("#sign-in");
  await page.waitForURL(/127\.0\.0\.1:9\/callback/);
  const back = new URL(landed);
  assert.ok(back.searchParams.get("code"));
  assert.equal(back.searchParams.get("state"), "client-state-123");
  assert.equal(back.searchParams.get("iss"), w.url);
  await page.close();
});

test("the consent page refuses to be framed", { skip: !existsSync(CHROMIUM) && "Debian chromium is not installed" }, async () => {
  const client = await registerClient(w.url);
  const { challenge } = pkcePair();
  const page = await browser.newPage();
  const target = authorizeUrl(w.url, client, { code_challenge: challenge, code_challenge_method: "S256" });
  // An attacker's page on another origin frames the consent page.
  await page.route("http://attacker.test/", (route) => route.fulfill({ status: 200, contentType: "text/html", body: `<iframe id="f" src="${target}"></iframe>` }));
  await page.goto("http://attacker.test/");
  await page.waitForTimeout(500);
  const frame = page.frames().find((f) => f.url().includes("/authorize"));
  const approveInFrame = frame ? await frame.locator("#approve").count().catch(() => 0) : 0;
  assert.equal(approveInFrame, 0, "the consent form must not render inside a frame");
  await page.close();
});
