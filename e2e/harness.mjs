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

/**
 * Starts a Worker. `vars` replaces the default settings entirely when given
 * (so a test can leave a variable out); `extraVars` adds to them; `persistTo`
 * keeps KV and Durable Object state in a directory across Workers.
 * `outboundService(request) => Response`, when given, answers every fetch the
 * Worker makes (e2e/cimd.test.mjs serves metadata documents and JWKS with it).
 * Returns { mf, url, fetch, kv, dispose }.
 */
export async function startWorker({ vars, extraVars = {}, port, persistTo, outboundService } = {}) {
  const script = path.join(root, "build", "index.js");
  if (!existsSync(script)) {
    throw new Error("build/index.js is missing: run `make build` first");
  }
  const mf = new Miniflare({
    rootPath: root,
    scriptPath: script,
    modules: true,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-04-20",
    // As in wrangler.toml. Local workerd does not refuse private addresses
    // with it (Cloudflare's network does), so loopback mocks keep working.
    compatibilityFlags: ["global_fetch_strictly_public"],
    kvNamespaces: ["OAUTH_KV"],
    durableObjects: { MCP_SESSION: "McpSession", GRANTS: "GrantObject", ASSERTIONS: "AssertionReplay" },
    ...(outboundService ? { outboundService } : {}),
    bindings: { ...(vars ?? DEV_VARS), ...extraVars },
    host: "127.0.0.1",
    port: port ?? 0,
    // A directory shared by two Workers started one after the other: the same KV
    // and Durable Objects survive a restart (as across a deploy).
    ...(persistTo ? { kvPersist: `${persistTo}/kv`, durableObjectsPersist: `${persistTo}/do` } : {}),
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const kv = await mf.getKVNamespace("OAUTH_KV");
  return {
    mf,
    url,
    kv,
    fetch: (p, init) => fetch(new URL(p, url), init),
    dispose: () => mf.dispose(),
  };
}
