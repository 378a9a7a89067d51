// Debian's headless Chromium for the browser suites (Playwright's own download
// does not work offline). A missing browser fails the suite, naming the install
// step: scripts/tools.sh installs it, and `make test` runs that.
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

export async function launchChromium() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Debian's chromium is not installed at ${CHROMIUM}: run scripts/tools.sh (make test runs it) to install it`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
  });
}

/**
 * Waits for the development provider's sign-in page and signs in there as
 * `login` (with `email`, when given): the step every browser walk through
 * /authorize or /account takes.
 */
export async function devSignIn(page, login, email) {
  await page.waitForURL(/\/dev\/login/);
  await page.fill("#login", login);
  if (email !== undefined) await page.fill("#email", email);
  await page.click("#sign-in");
}
