// The MCP Python SDK (`mcp` from PyPI, pinned in scripts/mock-deps.sh, installed into
// .tools/venv by `make test`) as a real client of the built Worker over TCP: it calls the
// shipped tool that reports progress and logs, and receives both.
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
const python = path.join(root, ".tools", "venv", "bin", "python");

let w;
let token;
before(async () => {
  await run(path.join(root, "scripts", "mock-deps.sh"), [], { cwd: root, timeout: 300_000 });
  w = await startWorker();
  ({ tokens: { access_token: token } } = await obtainTokens(w.url));
});
after(async () => { await w?.dispose(); });

test("Python SDK: calculate_all sends progress to progress_callback and logs to logging_callback", async () => {
  const { stdout } = await run(python, [path.join(root, "e2e", "python", "progress_client.py"), `${w.url}/mcp`, token], { cwd: root, timeout: 60_000 });
  const out = JSON.parse(stdout);
  assert.equal(out.isError, false);
  assert.deepEqual(out.structured.results.map((r) => r.value), [4, 42]);
  assert.deepEqual(out.progress, [[1, 2], [2, 2]]);
  assert.deepEqual(out.logs.map((l) => l.level), ["info", "info"]);
  assert.match(String(out.logs[1].data), /7\*6 = 42/);
  assert.equal(out.profile.login, "ada");
});
