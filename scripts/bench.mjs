// Prints latency figures of the built Worker in workerd (Miniflare), each as a
// ratio to GET /health measured in the same run, so machine speed cancels out.
// Usage: make build && node scripts/bench.mjs [iterations]
// Wall time in workerd includes Miniflare's own loopback hop, so absolute
// numbers are upper bounds of the Worker's CPU time, not the CPU time itself.
import { performance } from "node:perf_hooks";
import { startWorker } from "../e2e/harness.mjs";
import { obtainTokens } from "../e2e/browser.mjs";

const N = Number(process.argv[2] ?? 200);

async function timed(label, fn, n = N) {
  for (let i = 0; i < 10; i++) await fn(i); // warm up
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return { label, median: samples[Math.floor(n / 2)], p95: samples[Math.floor(n * 0.95)] };
}

const t0 = performance.now();
const w = await startWorker();
const t1 = performance.now();
await (await w.fetch("/health")).text();
const t2 = performance.now();
await (await w.fetch("/health")).text();
const t3 = performance.now();
const startupMs = t1 - t0;
const firstMs = t2 - t1;
const secondMs = t3 - t2;

try {
  const { client, tokens } = await obtainTokens(w.url);
  const mcp = (body, sid) => w.fetch("/mcp", {
    method: "POST",
    headers: { authorization: `Bearer ${tokens.access_token}`, "content-type": "application/json", accept: "application/json", ...(sid ? { "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18" } : {}) },
    body: JSON.stringify(body),
  });
  const init = await mcp({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } } });
  const sid = init.headers.get("mcp-session-id");
  let refresh = tokens.refresh_token;

  const results = [
    await timed("GET /health (baseline)", async () => (await w.fetch("/health")).text()),
    await timed("GET /.well-known/oauth-authorization-server", async () => (await w.fetch("/.well-known/oauth-authorization-server")).text()),
    await timed("POST /mcp tools/call calculate (auth + session)", async (i) => (await mcp({ jsonrpc: "2.0", id: 2 + i, method: "tools/call", params: { name: "calculate", arguments: { expression: "(1+2)*3^2/4" } } }, sid)).text()),
    await timed("POST /mcp without token (401 challenge)", async () => (await w.fetch("/mcp", { method: "POST", body: "{}" })).text()),
    await timed("POST /token refresh_token (rotation in the grant object)", async () => {
      const res = await w.fetch("/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refresh, client_id: client.client_id }) });
      const body = await res.json();
      if (!body.refresh_token) throw new Error(JSON.stringify(body));
      refresh = body.refresh_token;
    }, Math.min(N, 100)),
  ];
  const base = results[0].median;
  console.log(`Miniflare/workerd start: ${startupMs.toFixed(0)} ms; first request (wasm instantiation + config): ${firstMs.toFixed(1)} ms; second: ${secondMs.toFixed(1)} ms`);
  console.log(`iterations: ${N} (refresh: ${Math.min(N, 100)})`);
  for (const r of results) {
    console.log(`${r.label.padEnd(60)} median ${r.median.toFixed(2)} ms  p95 ${r.p95.toFixed(2)} ms  x${(r.median / base).toFixed(2)} of /health`);
  }
} finally {
  await w.dispose();
}
