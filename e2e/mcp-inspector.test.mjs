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
  assert.deepEqual(out.tools.map((t) => t.name), ["whoami", "calculate", "calculate_all", "list_github_repos"]);
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

test("Inspector CLI: resources/list shows only the shipped resource, and reads it as the OAuth user", async () => {
  const list = await inspector("--method", "resources/list");
  assert.deepEqual(list.resources.map((r) => r.uri), ["account://profile"]);
  const read = await inspector("--method", "resources/read", "--uri", "account://profile");
  assert.equal(read.contents[0].mimeType, "application/json");
  const profile = JSON.parse(read.contents[0].text);
  assert.equal(profile.login, "ada");
  assert.equal(profile.provider, "dev");
});

test("Inspector CLI: the resource template is listed and a URI it matches is read", async () => {
  const templates = await inspector("--method", "resources/templates/list");
  assert.deepEqual(templates.resourceTemplates.map((t) => t.uriTemplate), ["account://profile/{field}"]);
  const read = await inspector("--method", "resources/read", "--uri", "account://profile/login");
  assert.equal(read.contents[0].text, "ada");
});

test("Inspector CLI: prompts/list and prompts/get with arguments", async () => {
  const list = await inspector("--method", "prompts/list");
  assert.deepEqual(list.prompts.map((p) => p.name), ["review_repository"]);
  assert.deepEqual(list.prompts[0].arguments.map((a) => [a.name, a.required]), [["repository", true], ["focus", false]]);
  const got = await inspector("--method", "prompts/get", "--prompt-name", "review_repository",
    "--prompt-args", "repository=octo/hello", "focus=tests");
  assert.equal(got.messages[0].content.type, "resource");
  assert.equal(JSON.parse(got.messages[0].content.resource.text).login, "ada");
  assert.match(got.messages[1].content.text, /octo\/hello.*tests/s);
});
