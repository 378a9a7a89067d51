// The MCP Inspector CLI (2.x, a real third-party MCP client) against the built Worker over
// TCP, authenticated with an OAuth access token. scripts/inspector.sh installs the Inspector
// and a Node 22 into .tools/ (scripts/tools.sh does it before `make test`); if that is
// impossible the tests fail: a missing dependency is a failure, never a skip.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { startWorker } from "./harness.mjs";
import { obtainTokens } from "./browser.mjs";

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const script = path.join(root, "scripts", "inspector.sh");

let w;
let token;
before(async () => {
  // Installs on first use (about 30 s); later runs find .tools/ populated.
  await run(script, ["--install-only"], { cwd: root, timeout: 240_000 });
  w = await startWorker();
  ({ tokens: { access_token: token } } = await obtainTokens(w.url));
});
after(async () => { await w?.dispose(); });

async function inspector(...args) {
  const { stdout } = await run(
    script,
    ["--cli", `${w.url}/mcp`, "--transport", "http", "--header", `Authorization: Bearer ${token}`, ...args],
    { cwd: root, timeout: 60_000 },
  );
  return JSON.parse(stdout);
}

test("Inspector CLI: tools/list with a bearer token", async () => {
  const out = await inspector("--method", "tools/list");
  assert.deepEqual(out.tools.map((t) => t.name), ["whoami", "calculate", "list_github_repos"]);
  assert.equal(out.tools[1].inputSchema.required[0], "expression");
});

test("Inspector CLI: tools/call calculate 6*7", async () => {
  const out = await inspector("--method", "tools/call", "--tool-name", "calculate", "--tool-arg", "expression=6*7");
  assert.equal(out.isError, false);
  assert.equal(out.structuredContent.result, 42);
  assert.match(out.content[0].text, /42/);
});

test("Inspector CLI: tools/call whoami reports the OAuth user", async () => {
  const out = await inspector("--method", "tools/call", "--tool-name", "whoami");
  assert.equal(out.structuredContent.login, "ada");
  assert.equal(out.structuredContent.provider, "dev");
});

test("Inspector CLI: a bad token is refused; the Inspector then wants interactive OAuth", async () => {
  await assert.rejects(
    run(script, ["--cli", `${w.url}/mcp`, "--transport", "http", "--header", "Authorization: Bearer nope", "--method", "tools/list"], { cwd: root, timeout: 60_000 }),
    (e) => e.code !== 0 && /auth_required|401|unauthori[sz]ed|invalid_token/i.test(`${e.stdout}${e.stderr}`),
  );
});
