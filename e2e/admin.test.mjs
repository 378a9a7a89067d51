// The admin API against the built Worker in workerd, through the operator's
// script (scripts/admin.sh) and directly: 404 when disabled, 401 without the
// token, and each operation's effect on real tokens.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startWorker } from "./harness.mjs";
import { mcpStatus as mcpStatusAt, obtainTokens, refreshConnection, registerClient } from "./browser.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef0123456789";
let w;

before(async () => { w = await startWorker({ extraVars: { ADMIN_TOKEN } }); });
after(async () => { await w?.dispose(); });

async function admin(method, p, { token = ADMIN_TOKEN, body } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body) headers["content-type"] = "application/json";
  const res = await w.fetch(p, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text };
}

/** Runs scripts/admin.sh against the Worker; resolves to its parsed output. */
async function script(...args) {
  const { stdout } = await promisify(execFile)("sh", [path.join(root, "scripts", "admin.sh"), ...args], {
    env: { ...process.env, ADMIN_URL: w.url, ADMIN_TOKEN },
  });
  return JSON.parse(stdout);
}

const mcpStatus = (token) => mcpStatusAt(w.url, token);
const refreshStatus = (conn) => refreshConnection(w.url, conn);

test("without ADMIN_TOKEN the admin routes do not exist", async () => {
  const plain = await startWorker();
  try {
    const paths = ["/admin/clients", "/admin/users/revoke", "/admin/grants", "/admin/clients/delete"];
    for (const p of paths) {
      for (const method of ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
        const res = await plain.fetch(p, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        // Every method, the same 404: no 405 with an Allow header, no CORS
        // preflight answer, that would show the routes exist.
        assert.equal(res.status, 404, `${method} ${p}`);
        assert.equal(res.headers.get("allow"), null, `${method} ${p}`);
        await res.arrayBuffer();
      }
    }
  } finally {
    await plain.dispose();
  }
});

test("no token and a wrong token get 401", async () => {
  for (const token of [null, "wrong-token-0123456789abcdef0123456789", ADMIN_TOKEN.slice(0, -1)]) {
    const r = await admin("GET", "/admin/clients", { token });
    assert.equal(r.status, 401, String(token));
    assert.equal(r.json.error, "unauthorized");
  }
});

test("revoking a user ends all of that user's grants and no one else's", async () => {
  const a1 = await obtainTokens(w.url, { login: "ulla", metadata: { client_name: "One" } });
  const a2 = await obtainTokens(w.url, { login: "ulla", metadata: { client_name: "Two" } });
  const other = await obtainTokens(w.url, { login: "otto" });
  const listed = await script("grants", "dev:ulla");
  assert.deepEqual(listed.grants.map((g) => g.client_name).sort(), ["One", "Two"]);
  for (const g of listed.grants) {
    assert.equal(g.user_id, "dev:ulla");
    assert.equal(g.resource, `${w.url}/mcp`);
    assert.ok(g.connected_at > 0 && g.expires_at > g.connected_at);
  }
  // Used just before, so this isolate trusts the tokens for a few seconds: the
  // revocation must end that at once.
  for (const conn of [a1, a2]) assert.equal(await mcpStatus(conn.tokens.access_token), 200);
  const out = await script("revoke-user", "dev:ulla");
  assert.equal(out.revoked_grants, 2);
  for (const conn of [a1, a2]) {
    assert.equal(await mcpStatus(conn.tokens.access_token), 401);
    assert.deepEqual(await refreshStatus(conn), { status: 400, error: "invalid_grant" });
  }
  assert.equal(await mcpStatus(other.tokens.access_token), 200);
  assert.equal((await refreshStatus(other)).status, 200);
  assert.deepEqual((await script("grants", "dev:ulla")).grants, []);
});

test("deleting a client ends its grants and its registration", async () => {
  const doomed = await obtainTokens(w.url, { login: "dora", metadata: { client_name: "Doomed" } });
  const kept = await obtainTokens(w.url, { login: "dora", metadata: { client_name: "Kept" } });
  assert.equal(await mcpStatus(doomed.tokens.access_token), 200);
  const out = await script("delete-client", doomed.client.client_id);
  assert.deepEqual(out, { client_id: doomed.client.client_id, client_deleted: true, revoked_grants: 1, complete: true });
  assert.equal(await w.kv.get(`client:${doomed.client.client_id}`), null);
  assert.equal(await mcpStatus(doomed.tokens.access_token), 401);
  assert.deepEqual(await refreshStatus(doomed), { status: 401, error: "invalid_client" });
  assert.equal(await mcpStatus(kept.tokens.access_token), 200);
  const grants = (await script("grants", "dev:dora")).grants;
  assert.deepEqual(grants.map((g) => g.client_name), ["Kept"]);
  // A second delete finds nothing left.
  assert.deepEqual(await script("delete-client", doomed.client.client_id), { client_id: doomed.client.client_id, client_deleted: false, revoked_grants: 0, complete: true });
});

test("registered clients are listed a page at a time", async () => {
  for (let i = 0; i < 3; i++) await registerClient(w.url, { client_name: `Paged ${i}` });
  const all = [];
  let cursor;
  let pages = 0;
  do {
    const page = cursor ? await script("clients", "2", cursor) : await script("clients", "2");
    assert.ok(page.clients.length <= 2);
    all.push(...page.clients);
    cursor = page.cursor;
    pages++;
  } while (cursor && pages < 50);
  assert.ok(pages >= 2, "more than one page");
  const ids = all.map((c) => c.client_id);
  assert.equal(new Set(ids).size, ids.length, "no client twice");
  const kvIds = (await w.kv.list({ prefix: "client:" })).keys.map((k) => k.name.slice("client:".length));
  assert.deepEqual([...ids].sort(), [...kvIds].sort());
  assert.ok(all.some((c) => c.client_name === "Paged 2"));
  const bad = await admin("GET", "/admin/clients?limit=1000");
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error, "invalid_request");
});

test("bad bodies and wrong methods get clear errors", async () => {
  const r = await admin("POST", "/admin/users/revoke", { body: { user: "x" } });
  assert.equal(r.status, 400);
  assert.match(r.json.error_description, /user_id/);
  const m = await admin("GET", "/admin/users/revoke");
  assert.equal(m.status, 405);
});

// Issue 21 (account fan-out): a user with more grants than a page holds is
// listed 20 at a time (`next`), a cursor the server did not make is a 400, and
// revoking ends a batch per call ("complete": false until the last), which
// scripts/admin.sh repeats for the operator.
test("many grants: the list pages with next, revoking goes a batch per call", async () => {
  const conns = [];
  for (let i = 0; i < 23; i += 1) conns.push(await obtainTokens(w.url, { login: "manny" }));
  const first = await admin("GET", "/admin/grants?user_id=dev%3Amanny");
  assert.equal(first.status, 200);
  assert.equal(first.json.grants.length, 20);
  assert.deepEqual(first.json.unavailable, []);
  assert.match(first.json.next, /^\d+\.[\w-]+$/);
  const second = await script("grants", "dev:manny", first.json.next);
  assert.equal(second.grants.length, 3);
  assert.equal(second.next, null);
  const ids = new Set([...first.json.grants, ...second.grants].map((g) => g.grant_id));
  assert.equal(ids.size, 23, "every grant once");
  for (const bad of ["x", "1.short", "0.aaaaaaaaaaaaaaaaaaaa"]) {
    const res = await admin("GET", `/admin/grants?user_id=dev%3Amanny&cursor=${encodeURIComponent(bad)}`);
    assert.equal(res.status, 400, bad);
    assert.equal(res.json.error, "invalid_request");
  }

  const batch = await admin("POST", "/admin/users/revoke", { body: { user_id: "dev:manny" } });
  assert.equal(batch.status, 200);
  assert.equal(batch.json.revoked_grants, 20);
  assert.equal(batch.json.complete, false);
  const rest = await admin("POST", "/admin/users/revoke", { body: { user_id: "dev:manny" } });
  assert.deepEqual([rest.json.revoked_grants, rest.json.complete], [3, true]);
  for (const conn of conns) assert.equal(await mcpStatus(conn.tokens.access_token), 401);

  // The script repeats the call until it is complete, and sums.
  for (let i = 0; i < 22; i += 1) await obtainTokens(w.url, { login: "manny" });
  const out = await script("revoke-user", "dev:manny");
  assert.deepEqual([out.revoked_grants, out.complete], [22, true]);
  assert.deepEqual((await script("grants", "dev:manny")).grants, []);
});
