// Starts the built Worker (build/index.js + its wasm) in real workerd through
// Miniflare's API, with in-memory KV and Durable Objects, and gives tests a
// `fetch` to it. Run `make build` first (`make test` does).
import { Miniflare } from "miniflare";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export const DEV_VARS = {
  UPSTREAM_PROVIDER: "dev",
  SECRET_KEY: "e2e-secret-key-0123456789abcdef0123456789",
};

// The Workers Rate Limiting bindings of wrangler.toml, run by Miniflare's real
// binding. Suites that are not about rate limits get limits no test reaches, so
// their many requests from 127.0.0.1 are never refused; e2e/public.test.mjs
// passes small ones, and `rateLimits: {}` leaves the bindings out.
export const RATE_LIMIT_BINDINGS = ["RL_REGISTER", "RL_TOKEN_IP", "RL_TOKEN_CLIENT", "RL_BROWSER", "RL_BEARER_FAILURE"];
export function rateLimits(limit, overrides = {}) {
  const out = {};
  for (const name of RATE_LIMIT_BINDINGS) out[name] = { simple: { limit: overrides[name] ?? limit, period: 60 } };
  return out;
}

/**
 * Starts a Worker. `vars` replaces the default settings entirely when given
 * (so a test can leave a variable out); `extraVars` adds to them; `rateLimits`
 * replaces the rate limit bindings (see `rateLimits()`); `persistTo` keeps KV
 * and Durable Object state in a directory across Workers.
 * `outboundService(request) => Response`, when given, answers every fetch the
 * Worker makes (e2e/cimd.test.mjs serves metadata documents and JWKS with it).
 * Returns { mf, url, fetch, kv, dispose }.
 */
export async function startWorker({ vars, extraVars = {}, port, persistTo, outboundService, rateLimits: limits = rateLimits(1_000_000), countStorage = false, clients = [] } = {}) {
  if (!existsSync(path.join(root, "build", "index.js"))) {
    throw new Error("build/index.js is missing: run `make build` first");
  }
  // With `countStorage`, the Worker runs behind e2e/count-storage.mjs, which
  // counts its KV and Durable Object storage calls (see `storageCounts`).
  const script = countStorage ? path.join(root, "e2e", "count-storage.mjs") : path.join(root, "build", "index.js");
  const worker = {
    name: "mcp-oauth-worker",
    rootPath: root,
    scriptPath: script,
    modules: true,
    modulesRules: [{ type: "ESModule", include: ["build/*.js"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-04-20",
    // As in wrangler.toml. The flag refuses no address (it only routes fetches
    // to the Worker's own zone through the front door), so loopback mock
    // providers keep working; client-chosen targets are refused by the code
    // itself (src/urls.rs).
    compatibilityFlags: ["global_fetch_strictly_public"],
    kvNamespaces: ["OAUTH_KV"],
    durableObjects: { MCP_SESSION: "McpSession", GRANTS: "GrantObject", ASSERTIONS: "AssertionReplay" },
    ...(outboundService ? { outboundService } : {}),
    ratelimits: limits,
    bindings: { ...(vars ?? DEV_VARS), ...extraVars },
  };
  // `clients`: more Workers beside ours (each with a service binding TARGET to
  // it), for requests that must not cross a socket (endless request bodies).
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: port ?? 0,
    // A directory shared by two Workers started one after the other: the same KV
    // and Durable Objects survive a restart (as across a deploy).
    ...(persistTo ? { kvPersist: `${persistTo}/kv`, durableObjectsPersist: `${persistTo}/do` } : {}),
    workers: [
      worker,
      ...clients.map((c) => ({ compatibilityDate: "2026-04-20", modules: true, serviceBindings: { TARGET: worker.name }, ...c })),
    ],
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const kv = await mf.getKVNamespace("OAUTH_KV");
  return {
    mf,
    url,
    kv,
    fetch: (p, init) => fetch(new URL(p, url), init),
    /** Storage operations by kind (`kv.put`, `do.storage.get`, ...) since the last reset. */
    storageCounts: async ({ reset = false } = {}) => (await fetch(new URL("/__storage_counts", url), { method: reset ? "DELETE" : "GET" })).json(),
    dispose: () => mf.dispose(),
  };
}
