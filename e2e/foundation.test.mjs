// The skeleton every feature stands on: health, routing errors, body limits and
// configuration errors, observed on the real built Worker in workerd.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, DEV_VARS } from "./harness.mjs";

let w;
before(async () => { w = await startWorker(); });
after(async () => { await w?.dispose(); });

test("GET /health reports status and version as JSON", async () => {
  const res = await w.fetch("/health");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^application\/json/);
  const body = await res.json();
  assert.equal(body.status, "ok");
  assert.match(body.version, /^\d+\.\d+\.\d+$/);
});

test("unknown paths get a JSON 404", async () => {
  const res = await w.fetch("/no/such/path");
  assert.equal(res.status, 404);
  const body = await res.json();
  assert.equal(body.error, "not_found");
});

test("a wrong method gets 405 with Allow", async () => {
  const res = await w.fetch("/health", { method: "DELETE" });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "GET, HEAD");
  assert.equal((await res.json()).error, "method_not_allowed");
});

test("a missing setting gives a 500 that names the variable, never a crash", async () => {
  const bad = await startWorker({ vars: { UPSTREAM_PROVIDER: "dev" } });
  try {
    const res = await bad.fetch("/health");
    assert.equal(res.status, 500);
    const body = await res.json();
    assert.equal(body.error, "server_misconfigured");
    assert.match(body.error_description, /SECRET_KEY is not set/);
    assert.match(body.error_description, /wrangler secret put SECRET_KEY/);
  } finally {
    await bad.dispose();
  }
});

test("a malformed setting is reported without echoing secrets", async () => {
  const bad = await startWorker({ vars: { ...DEV_VARS, SECRET_KEY: "short-secret" } });
  try {
    const res = await bad.fetch("/health");
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.match(text, /SECRET_KEY is invalid/);
    assert.doesNotMatch(text, /short-secret/);
  } finally {
    await bad.dispose();
  }
});

test("health reports a provider that cannot sign anyone in (missing secret), naming the variable", async () => {
  const bad = await startWorker({ vars: { ...DEV_VARS, UPSTREAM_PROVIDER: "github", GITHUB_CLIENT_ID: "Iv1.abc" } });
  try {
    const res = await bad.fetch("/health");
    assert.equal(res.status, 500);
    assert.match((await res.json()).error_description, /GITHUB_CLIENT_SECRET/);
  } finally {
    await bad.dispose();
  }
});
