// Serves one bench target in its own workerd through Miniflare, the way
// `wrangler dev` does it: local KV and SQLite-backed Durable Objects persisted
// on disk. Run by bench/run.mjs as a child process, so cold start can be
// timed from process spawn to first 200.
// Usage: node bench/serve.mjs <worker|reference|trivial> <port> <state dir> [script]
// (for `worker`, [script] is a build directory, by default build/)
import { Miniflare } from "miniflare";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const [target, port, stateDir, script] = process.argv.slice(2);

const common = {
  rootPath: root,
  modules: true,
  compatibilityDate: "2026-04-20",
  host: "127.0.0.1",
  port: Number(port),
  defaultPersistRoot: stateDir,
  kvPersist: path.join(stateDir, "kv"),
  durableObjectsPersist: path.join(stateDir, "do"),
};

const targets = {
  // This Worker, as `make build` leaves it.
  worker: () => ({
    scriptPath: path.join(script || path.join(root, "build"), "index.js"),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    kvNamespaces: ["OAUTH_KV"],
    durableObjects: {
      MCP_SESSION: { className: "McpSession", useSQLite: true },
      GRANTS: { className: "GrantObject", useSQLite: true },
    },
    bindings: { UPSTREAM_PROVIDER: "dev", SECRET_KEY: "bench-secret-key-0123456789abcdef0123456789" },
  }),
  // workers-oauth-provider + agents' McpAgent, bundled by bench/run.mjs.
  reference: () => ({
    scriptPath: script,
    compatibilityFlags: ["nodejs_compat"],
    kvNamespaces: ["OAUTH_KV"],
    durableObjects: { MCP_OBJECT: { className: "ReferenceMcp", useSQLite: true } },
  }),
  trivial: () => ({ scriptPath: path.join(root, "bench", "trivial", "worker.js") }),
};

if (!targets[target]) {
  console.error(`unknown target ${target}; one of ${Object.keys(targets).join(", ")}`);
  process.exit(2);
}
const mf = new Miniflare({ ...common, ...targets[target]() });
const url = await mf.ready;
process.stdout.write(`ready ${url}\n`);
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
