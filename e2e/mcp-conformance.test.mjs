// The official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
// package.json) against the built Worker in workerd, at /mcp and at its alias /sse.
//
// The Worker runs with MCP_CONFORMANCE=on, so the suite's own fixtures (test_simple_text,
// test://static-text, test_prompt_with_arguments, ...; src/mcp/conformance/) are served.
//
// The suite cannot do OAuth, so the test obtains an access token through the real flow
// (registration, consent page, development sign-in, code + PKCE) and runs the suite through a
// loopback proxy (e2e/bearer-proxy.mjs) that adds `Authorization: Bearer` and keeps the Host
// header the suite sends (the DNS-rebinding scenario depends on it). The suite needs Node >= 22;
// scripts/node22.sh provides one (installed into .tools/ by `make test`).
//
// Every server scenario the suite lists is named below, either as applicable (every check
// must pass, except checks named in `notApplicable` with the reason) or as not applicable
// (with the reason, and `evidence`: what each of its failed checks must say, so a failure
// that is really this server misbehaving is not waved through). In every scenario, the
// suite's `wire-schema-valid` check (each message this server sent is valid per the spec's
// JSON schema) must pass. A scenario the table does not name fails the test, so upgrading
// the suite forces a decision.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startWorker } from "./harness.mjs";
import { obtainTokens } from "./browser.mjs";
import { startBearerProxy } from "./bearer-proxy.mjs";

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const suiteDir = path.join(root, "node_modules", "@modelcontextprotocol", "conformance");
const cli = path.join(suiteDir, "dist", "index.js");


/** Scenarios that apply: all checks must pass, except those listed. */
const APPLICABLE = {
  "server-initialize": {},
  "server-session-lifecycle": {},
  // Its capability and stream checks call the input fixtures test_missing_capability and
  // test_streaming_elicitation; its log check, test_logging_tool.
  "server-stateless": {},
  "logging-set-level": {},
  ping: {},
  "tools-list": {},
  "dns-rebinding-protection": {},
  caching: {},
  "http-header-validation": {},
  "server-sse-polling": {},
  "server-sse-multiple-streams": {},
  "completion-complete": {},
  // Tools, resources and prompts through the suite's fixtures (src/mcp/conformance/, served
  // with MCP_CONFORMANCE=on).
  ...Object.fromEntries(
    ["tools-call-simple-text", "tools-call-image", "tools-call-audio", "tools-call-embedded-resource",
      "tools-call-mixed-content", "tools-call-with-logging", "tools-call-error", "tools-call-with-progress",
      "json-schema-2020-12",
      "resources-list", "resources-read-text", "resources-read-binary", "resources-templates-read",
      "resources-subscribe", "resources-unsubscribe",
      "prompts-list", "prompts-get-simple", "prompts-get-with-args", "prompts-get-embedded-resource",
      "prompts-get-with-image", "sep-2164-resource-not-found", "http-custom-header-server-validation"]
      .map((s) => [s, {}]),
  ),
  // Input from the user or the client's model (src/mcp/input.rs), through the suite's
  // fixtures (src/mcp/conformance/input.rs). The legacy ones run over a session: requests on
  // the POST's stream, answers in new POSTs.
  "tools-call-sampling": {},
  "tools-call-elicitation": {},
  "elicitation-sep1034-defaults": {},
  "elicitation-sep1330-enums": {},
  ...Object.fromEntries(
    ["input-required-result-basic-elicitation", "input-required-result-basic-sampling",
      "input-required-result-basic-list-roots", "input-required-result-request-state",
      "input-required-result-multiple-input-requests", "input-required-result-multi-round",
      "input-required-result-missing-input-response", "input-required-result-non-tool-request",
      "input-required-result-result-type", "input-required-result-unsupported-methods",
      "input-required-result-tampered-state", "input-required-result-capability-check",
      "input-required-result-ignore-extra-params", "input-required-result-validate-input"]
      .map((s) => [s, {}]),
  ),
};

/** Scenarios that do not apply, with the reason and what their failed checks must say. */
const NOT_APPLICABLE = {
  ...Object.fromEntries(
    ["sep-2640-skills-directory", "sep-2640-skills-enumeration", "sep-2640-skills-manifest"]
      .map((s) => [s, { reason: "the skills extension (SEP-2640) is not offered (the suite skips its checks itself)", evidence: /^$/ }]),
  ),
  ...Object.fromEntries(
    ["tasks-lifecycle", "tasks-capability-negotiation", "tasks-wire-fields", "tasks-request-state-removal",
      "tasks-mrtr-input", "tasks-request-headers", "tasks-dispatch-and-envelope", "tasks-status-notifications",
      "tasks-required-task-error", "tasks-mrtr-composition"]
      .map((s) => [s, {
        reason: "the tasks extension (SEP-2663) is not offered: every call finishes within its own POST; its scenarios call the suite's task tools (slow_compute, failing_job) and tasks/* methods, which answer -32602 Unknown tool and -32601",
        evidence: /Unknown tool|Not testable|-32601|capabilities\.extensions|fixture .*unavailable|-32602/,
      }]),
  ),
};

let node22;
let w;
let proxy;
const runs = {}; // endpoint -> Map(scenario -> checks)

/** Runs the whole server suite once against `url`; returns Map(scenario -> checks). */
async function runSuite(url) {
  const out = await mkdtemp(path.join(tmpdir(), "mcp-conformance-"));
  try {
    // Exit status is non-zero whenever a check fails (not-applicable ones included); the
    // verdict is made below from checks.json, so it is not looked at here.
    await run(node22, [cli, "server", "--url", url, "--suite", "all", "--timeout", "20000", "-o", out], {
      cwd: root, timeout: 300_000, maxBuffer: 32 * 1024 * 1024,
    }).catch((e) => {
      if (e.killed || e.code === undefined || e.code === null) throw e;
    });
    const results = new Map();
    for (const dir of await readdir(out)) {
      const m = /^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$/.exec(dir);
      assert.ok(m, `unexpected result directory ${dir}`);
      results.set(m[1], JSON.parse(await readFile(path.join(out, dir, "checks.json"), "utf8")));
    }
    return results;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

function counts(checks) {
  const c = {};
  for (const { status } of checks) c[status] = (c[status] ?? 0) + 1;
  return Object.entries(c).sort().map(([k, v]) => `${v} ${k.toLowerCase()}`).join(", ");
}

before(async () => {
  const { stdout } = await run(path.join(root, "scripts", "node22.sh"), [], { cwd: root, timeout: 300_000 });
  node22 = stdout.trim();
  // MCP_CONFORMANCE=on: the suite's fixtures are listed and callable (test data only).
  w = await startWorker({ extraVars: { MCP_CONFORMANCE: "on" } });
  proxy = await startBearerProxy(w.url);
  // Through the proxy, so the token's resource is the URL the suite will use (the Worker
  // derives its origin from the Host header, which the proxy keeps).
  const { tokens } = await obtainTokens(proxy.url);
  proxy.setToken(tokens.access_token);
  for (const endpoint of ["/mcp", "/sse"]) runs[endpoint] = await runSuite(`${proxy.url}${endpoint}`);
});
after(async () => {
  await proxy?.close();
  await w?.dispose();
});

test("the pinned suite version runs, and every scenario it lists is classified", async () => {
  const pkg = JSON.parse(await readFile(path.join(suiteDir, "package.json"), "utf8"));
  const pinned = JSON.parse(await readFile(path.join(root, "package.json"), "utf8")).devDependencies["@modelcontextprotocol/conformance"];
  assert.equal(pkg.version, pinned);
  const { stdout } = await run(node22, [cli, "list", "--server"], { cwd: root });
  const listed = [...stdout.matchAll(/^\s+- (\S+)/gm)].map((m) => m[1]);
  assert.ok(listed.length > 30, stdout);
  const named = [...Object.keys(APPLICABLE), ...Object.keys(NOT_APPLICABLE)];
  assert.deepEqual(listed.filter((s) => !named.includes(s)), [], "scenarios the table does not classify");
  assert.deepEqual(named.filter((s) => !listed.includes(s)), [], "table entries the suite no longer has");
  for (const endpoint of Object.keys(runs)) {
    assert.deepEqual([...runs[endpoint].keys()].sort(), [...listed].sort(), `every scenario ran at ${endpoint}`);
  }
});

for (const endpoint of ["/mcp", "/sse"]) {
  describe(`conformance at ${endpoint}`, () => {
    for (const [scenario, spec] of Object.entries(APPLICABLE)) {
      test(`${scenario} (applies)`, (t) => {
        const checks = runs[endpoint].get(scenario);
        assert.ok(checks, `${scenario} produced no results`);
        t.diagnostic(`${scenario}: ${counts(checks)}`);
        const na = spec.notApplicable ?? {};
        const failed = [];
        for (const c of checks) {
          if (c.status !== "FAILURE") {
            if (c.status !== "SUCCESS") t.diagnostic(`  ${c.status} ${c.id}: ${c.errorMessage ?? ""}`);
            continue;
          }
          if (na[c.id]) {
            if (spec.evidence) assert.match(c.errorMessage ?? "", spec.evidence, `${c.id} failed for another reason`);
            t.diagnostic(`  not applicable: ${c.id}: ${na[c.id]}`);
          } else {
            failed.push(`${c.id}: ${c.errorMessage}`);
          }
        }
        assert.deepEqual(failed, [], `failed checks in ${scenario}`);
        for (const id of Object.keys(na)) {
          assert.ok(checks.some((c) => c.id === id && c.status === "FAILURE"), `${id} is listed as not applicable but did not fail: update the table`);
        }
        assert.ok(checks.some((c) => c.status === "SUCCESS" || c.status === "INFO"), `${scenario} checked nothing`);
      });
    }

    test("dns-rebinding-protection: the rebinding request is refused by the Origin check (403), not by the token's audience", () => {
      const check = runs[endpoint].get("dns-rebinding-protection").find((c) => c.id === "localhost-host-rebinding-rejected");
      assert.equal(check.status, "SUCCESS");
      assert.equal(check.details.statusCode, 403, JSON.stringify(check.details));
    });

    for (const [scenario, { reason, evidence }] of Object.entries(NOT_APPLICABLE)) {
      test(`${scenario} (not applicable)`, (t) => {
        t.diagnostic(`not applicable: ${reason}`);
        const checks = runs[endpoint].get(scenario);
        assert.ok(checks, `${scenario} produced no results`);
        t.diagnostic(`${scenario}: ${counts(checks)}`);
        for (const c of checks) {
          if (c.id === "wire-schema-valid") {
            assert.equal(c.status, "SUCCESS", `messages this server sent violate the schema: ${JSON.stringify(c.details)}`);
          } else if (c.status === "FAILURE") {
            assert.match(c.errorMessage ?? "", evidence, `${c.id} failed for a reason other than "${reason}"`);
          }
        }
      });
    }
  });
}
