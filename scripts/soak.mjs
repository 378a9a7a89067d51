// Soak: the built Worker in workerd (Miniflare) under bounded concurrent load
// for a fixed number of requests, then figures. Not a test and not part of
// `make test`: `make soak` (or `node scripts/soak.mjs [requests] [concurrency]`).
//
// Load: virtual users, each behind its own client IP (CF-Connecting-IP), run
// scenarios: full OAuth flows (registration, consent, sign-in, callback, code
// redemption), refreshes, MCP tool calls, re-registrations of a shared public
// client, and a share of malformed requests. The rate limits of wrangler.toml
// are in force (read from it), through Miniflare's real binding. Storage is
// counted by e2e/count-storage.mjs around the Worker.
//
// Prints: requests per status, 5xx (the script exits 1 if there is any), storage
// operations per kind (and per OAuth step), p50/p99 latency overall and per
// request kind. Latency is to the response headers, through Miniflare's
// loopback hop: compare runs on one machine, not with production.
//
// Faults mode (`make soak FAULTS=1`, or `--faults`; the share with
// SOAK_FAULT_ONE_IN, 1 in 50 by default): e2e/count-storage.mjs makes about one
// storage call in N fail (throws before, or for writes after, doing its work),
// in the harness, not the product. A 503 with Retry-After is then an expected
// answer; any other 5xx is unexpected. After the load the faults stop, the
// objects' alarms get 35 s to repair what is pending, and every user's last
// token pair is checked: its access token works at /mcp, its grant is listed in
// the user's grant index (admin API), and its refresh token refreshes. Exits 1
// on any unexpected 5xx or invariant violation.
import { AsyncLocalStorage } from "node:async_hooks";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { startWorker, RATE_LIMIT_BINDINGS } from "../e2e/harness.mjs";
import { authorizeUrl, consentAndSignIn, pkcePair, registerClient, tokenRequest } from "../e2e/browser.mjs";

const FAULTS = process.argv.includes("--faults") ? Number(process.env.SOAK_FAULT_ONE_IN ?? 50) : 0;
const args = process.argv.slice(2).filter((a) => a !== "--faults");
const TOTAL = Number(args[0] ?? 2000);
const CONCURRENCY = Number(args[1] ?? 16);
const ADMIN_TOKEN = "soak-admin-token-0123456789abcdef0123456789";
const USERS = 64;

// ------------------------------------------------------------ the limits in force

function wranglerLimits() {
  const toml = readFileSync(new URL("../wrangler.toml", import.meta.url), "utf8");
  const out = {};
  for (const name of RATE_LIMIT_BINDINGS) {
    const m = toml.match(new RegExp(`name = "${name}"[\\s\\S]*?simple = \\{ limit = (\\d+), period = (\\d+) \\}`));
    if (!m) throw new Error(`wrangler.toml has no [[ratelimits]] ${name}`);
    out[name] = { simple: { limit: Number(m[1]), period: Number(m[2]) } };
  }
  return out;
}

// ------------------------------------------------------------ every request, counted

const context = new AsyncLocalStorage();
const realFetch = globalThis.fetch;
const samples = []; // { kind, status, ms }
let issued = 0;
let base = "";

function kindOf(url, init = {}) {
  const u = new URL(url);
  const label = context.getStore()?.label;
  return `${init.method ?? "GET"} ${u.pathname}${label ? ` (${label})` : ""}`;
}

globalThis.fetch = async (url, init = {}) => {
  const target = String(url);
  if (!target.startsWith(base) || target.includes("/__storage_counts")) return realFetch(url, init);
  issued++;
  const ip = context.getStore()?.ip;
  const headers = new Headers(init.headers ?? {});
  if (ip && !headers.has("cf-connecting-ip")) headers.set("cf-connecting-ip", ip);
  const started = performance.now();
  try {
    const res = await realFetch(url, { ...init, headers });
    samples.push({ kind: kindOf(target, init), status: res.status, retryAfter: res.headers.has("retry-after"), ms: performance.now() - started });
    return res;
  } catch (e) {
    samples.push({ kind: kindOf(target, init), status: "network error", ms: performance.now() - started });
    throw e;
  }
};

function as(user, label, fn) {
  return context.run({ ip: user.ip, label }, fn);
}

// ------------------------------------------------------------ scenarios

const users = Array.from({ length: USERS }, (_, i) => ({
  id: i,
  ip: `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) % 250 + 1}`,
  login: `user${i}`,
  busy: false,
  client: null,
  tokens: null,
  session: null,
}));

function randomItem(list) {
  return list[Math.floor(Math.random() * list.length)];
}

// Three registration bodies shared by many users (as Claude or Cursor would
// send), so most registrations are re-registrations of one public client.
const SHARED_APPS = [
  { client_name: "Soak Desktop", redirect_uris: ["http://127.0.0.1:9/callback"] },
  { client_name: "Soak Web", redirect_uris: ["https://soak.example/api/mcp/auth_callback"] },
  { client_name: "Soak CLI", redirect_uris: ["http://localhost:9/oauth/callback"] },
];

const outcome = { flows: 0, flowFailures: 0, refreshes: 0, refreshFailures: 0, toolCalls: 0, toolFailures: 0, malformed: 0, reRegistrations: 0 };

async function flow(user) {
  // Most users run an app of their own; some share one of the public apps.
  const app = Math.random() < 0.7
    ? { client_name: `Soak app of ${user.login}`, redirect_uris: ["http://127.0.0.1:9/callback"] }
    : randomItem(SHARED_APPS);
  const client = await as(user, "flow", () => registerClient(base, app).catch(() => null));
  if (!client) return outcome.flowFailures++;
  const { verifier, challenge } = pkcePair();
  const url = authorizeUrl(base, client, { code_challenge: challenge, code_challenge_method: "S256" });
  const { location } = await as(user, "flow", () => consentAndSignIn(base, url, { login: user.login, email: `${user.login}@example.com` }));
  const code = location && new URL(location).searchParams.get("code");
  if (!code) return outcome.flowFailures++;
  const tok = await as(user, "code", () => tokenRequest(base, {
    grant_type: "authorization_code", code, redirect_uri: client.redirect_uris[0], code_verifier: verifier, client_id: client.client_id, resource: `${base}/mcp`,
  }));
  if (tok.status !== 200) return outcome.flowFailures++;
  outcome.flows++;
  Object.assign(user, { client, tokens: tok.body, session: null });
}

async function refresh(user) {
  const tok = await as(user, "refresh", () => tokenRequest(base, {
    grant_type: "refresh_token", refresh_token: user.tokens.refresh_token, client_id: user.client.client_id,
  }));
  if (tok.status !== 200) {
    outcome.refreshFailures++;
    user.tokens = null;
    return;
  }
  outcome.refreshes++;
  user.tokens = tok.body;
}

async function mcp(user, body) {
  const headers = { authorization: `Bearer ${user.tokens.access_token}`, "content-type": "application/json", accept: "application/json, text/event-stream" };
  if (user.session) Object.assign(headers, { "mcp-session-id": user.session, "mcp-protocol-version": "2025-06-18" });
  const res = await as(user, body.method, () => fetch(`${base}/mcp`, { method: "POST", headers, body: JSON.stringify(body) }));
  const text = await res.text();
  return { res, text };
}

async function tools(user) {
  if (!user.session) {
    const { res } = await mcp(user, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "soak", version: "1" } } });
    user.session = res.headers.get("mcp-session-id");
    if (res.status !== 200 || !user.session) return outcome.toolFailures++;
  }
  const call = Math.random() < 0.5
    ? { name: "calculate", arguments: { expression: `${user.id}*(2+3)^2` } }
    : { name: "whoami", arguments: {} };
  const { res } = await mcp(user, { jsonrpc: "2.0", id: 2, method: "tools/call", params: call });
  if (res.status === 200) outcome.toolCalls++;
  else {
    outcome.toolFailures++;
    user.session = null;
  }
}

const MALFORMED = [
  () => fetch(`${base}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" }),
  () => fetch(`${base}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: ["javascript:alert(1)"] }) }),
  () => fetch(`${base}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: Array.from({ length: 40 }, (_, i) => `https://x.example/${i}`) }) }),
  () => fetch(`${base}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: "x".repeat(20_000) }),
  () => fetch(`${base}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=authorization_code&code=forged&client_id=nobody" }),
  () => fetch(`${base}/token`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }),
  () => fetch(`${base}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", authorization: "Basic !!!" }, body: "grant_type=refresh_token" }),
  () => fetch(`${base}/revoke`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "token=whatever&client_id=nobody" }),
  () => fetch(`${base}/mcp`, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer forged.token.value" }, body: "{}" }),
  () => fetch(`${base}/mcp`, { method: "POST", headers: { "content-type": "application/json" }, body: "[" }),
  () => fetch(`${base}/authorize?response_type=token&client_id=nobody`),
  () => fetch(`${base}/callback?state=forged&code=x`),
  () => fetch(`${base}/no/such/path`),
  () => fetch(`${base}/health`, { method: "DELETE" }),
];

async function malformed(user) {
  const res = await as(user, "malformed", () => randomItem(MALFORMED)());
  await res.text();
  outcome.malformed++;
}

async function reRegister(user) {
  await as(user, "re-registration", () => registerClient(base, randomItem(SHARED_APPS)).catch(() => null));
  outcome.reRegistrations++;
}

async function scenario() {
  const free = users.filter((u) => !u.busy);
  const user = randomItem(free);
  user.busy = true;
  try {
    const r = Math.random();
    if (r < 0.15) await malformed(user);
    else if (r < 0.2) await reRegister(user);
    else if (!user.tokens) await flow(user);
    else if (r < 0.45) await refresh(user);
    else await tools(user);
  } finally {
    user.busy = false;
  }
}

// ------------------------------------------------------------ invariants (faults mode)

const grantOf = (token) => token.split(".")[1];

async function checkInvariants() {
  await realFetch(`${base}/__faults?one_in=0`, { method: "POST" }).then((r) => r.text());
  // Effects left pending by a fault are retried by the grant's alarm after 30 s.
  await new Promise((r) => setTimeout(r, 35_000));
  const violations = [];
  for (const user of users.filter((u) => u.tokens)) {
    const headers = { authorization: `Bearer ${user.tokens.access_token}`, "content-type": "application/json", accept: "application/json, text/event-stream" };
    const init = await realFetch(`${base}/mcp`, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "soak", version: "1" } } }) });
    await init.text();
    if (init.status !== 200) violations.push(`${user.login}: a token pair handed out does not work at /mcp (${init.status})`);
    // The list comes 20 a page: follow `next` until the grant shows up.
    const grant = grantOf(user.tokens.access_token);
    let found = false;
    for (let cursor = "", pages = 0; !found && cursor !== null && pages < 60; pages += 1) {
      const query = `user_id=${encodeURIComponent(`dev:${user.login}`)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const listed = await realFetch(`${base}/admin/grants?${query}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then((r) => r.json());
      found = Boolean(listed.grants?.some((g) => g.grant_id === grant));
      cursor = listed.next ?? null;
    }
    if (!found) violations.push(`${user.login}: live grant ${grant} is not in the user's index`);
    const r = await realFetch(`${base}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", "cf-connecting-ip": user.ip }, body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: user.tokens.refresh_token, client_id: user.client.client_id }) });
    const body = await r.json().catch(() => ({}));
    if (r.status !== 200) violations.push(`${user.login}: its refresh token does not refresh (${r.status} ${body.error}: ${body.error_description})`);
  }
  return violations;
}

// ------------------------------------------------------------ run

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

const w = await startWorker({
  rateLimits: wranglerLimits(),
  countStorage: true,
  extraVars: { ADMIN_TOKEN, ...(FAULTS ? { SOAK_FAULT_ONE_IN: String(FAULTS) } : {}) },
});
base = w.url;
let exitCode = 0;
try {
  await realFetch(`${base}/health`).then((r) => r.text());
  await w.storageCounts({ reset: true });
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (issued < TOTAL) await scenario();
  }));
  const seconds = (performance.now() - started) / 1000;
  const storage = await w.storageCounts();

  const byStatus = {};
  for (const s of samples) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
  const errors5xx = samples.filter((s) => typeof s.status !== "number" || s.status >= 500);
  // With faults, a 503 that says when to come back is the honest answer.
  const expected5xx = FAULTS ? errors5xx.filter((s) => s.status === 503 && s.retryAfter) : [];
  const unexpected5xx = errors5xx.filter((s) => !expected5xx.includes(s));
  const all = samples.map((s) => s.ms).sort((a, b) => a - b);

  console.log(`soak: ${samples.length} requests (target ${TOTAL}), concurrency ${CONCURRENCY}, ${USERS} users on distinct IPs, ${seconds.toFixed(1)} s, ${(samples.length / seconds).toFixed(0)} req/s`);
  console.log(`rate limits (wrangler.toml): ${RATE_LIMIT_BINDINGS.map((n) => `${n}=${wranglerLimits()[n].simple.limit}/min`).join(" ")}`);
  console.log(`scenarios: ${JSON.stringify(outcome)}`);
  console.log("\nrequests per status:");
  for (const [status, n] of Object.entries(byStatus).sort()) console.log(`  ${status}: ${n}`);
  console.log(`5xx and network errors: ${errors5xx.length}`);
  if (FAULTS) {
    const injected = Object.entries(storage).filter(([k]) => k.startsWith("fault.")).reduce((n, [, v]) => n + v, 0);
    console.log(`faults: about 1 storage call in ${FAULTS} failed: ${injected} injected`);
    console.log(`  expected 5xx (503 with Retry-After): ${expected5xx.length}`);
    console.log(`  unexpected 5xx and network errors: ${unexpected5xx.length}`);
  }
  console.log("\nstorage operations per kind:");
  for (const [kind, n] of Object.entries(storage).sort()) console.log(`  ${kind}: ${n}`);
  const kvWrites = (storage["kv.put"] ?? 0) + (storage["kv.delete"] ?? 0);
  const steps = outcome.flows + outcome.refreshes;
  console.log(`  KV writes+deletes per successful code redemption or refresh (registrations included): ${steps ? (kvWrites / steps).toFixed(2) : "n/a"}`);
  console.log(`\nlatency to headers: p50 ${percentile(all, 50).toFixed(1)} ms, p99 ${percentile(all, 99).toFixed(1)} ms`);
  const kinds = {};
  const kindStatus = {};
  for (const s of samples) {
    (kinds[s.kind] ??= []).push(s.ms);
    const st = (kindStatus[s.kind] ??= {});
    st[s.status] = (st[s.status] ?? 0) + 1;
  }
  console.log("per request kind (n, p50, p99, statuses):");
  for (const [kind, list] of Object.entries(kinds).sort()) {
    list.sort((a, b) => a - b);
    const statuses = Object.entries(kindStatus[kind]).map(([k, n]) => `${k}:${n}`).join(" ");
    console.log(`  ${kind.padEnd(36)} ${String(list.length).padStart(5)}  ${percentile(list, 50).toFixed(1).padStart(7)} ms ${percentile(list, 99).toFixed(1).padStart(7)} ms  ${statuses}`);
  }
  if (unexpected5xx.length) {
    console.error(`\nFAIL: ${unexpected5xx.length} responses were unexpected 5xx or network errors:`);
    for (const e of unexpected5xx.slice(0, 10)) console.error(`  ${e.kind}: ${e.status}`);
    exitCode = 1;
  }
  if (FAULTS) {
    const violations = await checkInvariants();
    console.log(`\ninvariants after the faults stopped (${users.filter((u) => u.tokens).length} users holding tokens): ${violations.length} violations`);
    for (const v of violations.slice(0, 10)) console.error(`  ${v}`);
    if (violations.length) exitCode = 1;
  }
} finally {
  await w.dispose();
}
process.exit(exitCode);
