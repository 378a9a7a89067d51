// A test-only entry module around the built Worker (build/index.js) that counts
// every storage operation it makes: Workers KV calls on OAUTH_KV, and Durable
// Object storage calls of both object classes. The Worker itself is unchanged;
// only its `env` (and each object's `state.storage`) is wrapped. Counts are
// read with GET /__storage_counts, and read and zeroed with DELETE,
// paths that exist only in this wrapper. Used by e2e/harness.mjs
// (`countStorage: true`) and scripts/soak.mjs.
import Worker, { GrantObject as InnerGrantObject, McpSession as InnerMcpSession, AssertionReplay as InnerAssertionReplay } from "../build/index.js";

const counts = {};
function count(kind) {
  counts[kind] = (counts[kind] ?? 0) + 1;
}

const KV_METHODS = ["get", "getWithMetadata", "put", "delete", "list"];
function countingKv(kv) {
  const wrapped = {};
  for (const m of KV_METHODS) {
    wrapped[m] = (...args) => {
      count(`kv.${m}`);
      return kv[m](...args);
    };
  }
  return wrapped;
}

// Native objects need their methods called on themselves, not on a proxy.
function countingProxy(target, prefix, counted) {
  return new Proxy(target, {
    get(t, p) {
      const v = Reflect.get(t, p, t);
      if (typeof v !== "function") return v;
      if (counted.includes(p)) {
        return (...args) => {
          count(`${prefix}.${p}`);
          return v.apply(t, args);
        };
      }
      return v.bind(t);
    },
  });
}

function countingEnv(env) {
  const kv = countingKv(env.OAUTH_KV);
  return new Proxy(env, {
    get(t, p) {
      return p === "OAUTH_KV" ? kv : Reflect.get(t, p, t);
    },
  });
}

const STORAGE_METHODS = ["get", "put", "delete", "deleteAll", "list", "setAlarm", "getAlarm", "deleteAlarm", "transaction", "sync"];
function countingState(state) {
  const storage = countingProxy(state.storage, "do.storage", STORAGE_METHODS);
  return new Proxy(state, {
    get(t, p) {
      if (p === "storage") return storage;
      const v = Reflect.get(t, p, t);
      return typeof v === "function" ? v.bind(t) : v;
    },
  });
}

export class GrantObject extends InnerGrantObject {
  constructor(state, env) {
    super(countingState(state), countingEnv(env));
  }
}

export class McpSession extends InnerMcpSession {
  constructor(state, env) {
    super(countingState(state), countingEnv(env));
  }
}

export class AssertionReplay extends InnerAssertionReplay {
  constructor(state, env) {
    super(countingState(state), countingEnv(env));
  }
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/__storage_counts") {
      const snapshot = { ...counts };
      if (request.method === "DELETE") for (const k of Object.keys(counts)) delete counts[k];
      return Response.json(snapshot);
    }
    return Worker.fetch(request, countingEnv(env), ctx);
  },
};
