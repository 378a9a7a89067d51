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

// Faults (`make soak` faults mode): with the binding SOAK_FAULT_ONE_IN=N, about
// one storage call in N fails: it throws before doing anything, or (writes
// only) it does its work and then throws, as a write whose answer was lost.
// POST /__faults?one_in=N changes the share (0: none), e.g. to check the
// invariants after the load without faults. Counted as `fault.<kind>`.
let faultOneIn = null;
// POST /__faults?fail_next=<kind>.<method>&times=N: the next N calls of that
// one kind (e.g. `do.storage.get`) fail, whatever the share: a fault at a
// known point for e2e tests (e2e/account.test.mjs).
let failNext = { name: "", times: 0 };
const WRITES = new Set(["put", "delete", "deleteAll", "setAlarm", "deleteAlarm"]);
function faultFor(env, kind, method) {
  if (failNext.times > 0 && failNext.name === `${kind}.${method}`) {
    failNext.times -= 1;
    count(`fault.${kind}.fail`);
    return "fail";
  }
  if (faultOneIn === null) faultOneIn = Number(env?.SOAK_FAULT_ONE_IN ?? 0) || 0;
  if (!faultOneIn || !["get", "put", "delete", "list", "setAlarm"].includes(method)) return null;
  if (Math.random() * faultOneIn >= 1) return null;
  const lost = WRITES.has(method) && Math.random() < 0.5;
  count(`fault.${kind}.${lost ? "lost" : "fail"}`);
  return lost ? "lost" : "fail";
}
async function faulty(env, kind, method, call) {
  const fault = faultFor(env, kind, method);
  if (fault === "fail") throw new Error(`injected storage fault: ${kind}.${method}`);
  const out = await call();
  if (fault === "lost") throw new Error(`injected lost answer: ${kind}.${method}`);
  return out;
}
let faultEnv = null;

const KV_METHODS = ["get", "getWithMetadata", "put", "delete", "list"];
function countingKv(kv) {
  const wrapped = {};
  for (const m of KV_METHODS) {
    wrapped[m] = (...args) => {
      count(`kv.${m}`);
      return faulty(faultEnv, "kv", m, () => kv[m](...args));
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
          return faulty(faultEnv, prefix, p, () => v.apply(t, args));
        };
      }
      return v.bind(t);
    },
  });
}

function countingEnv(env) {
  faultEnv ??= env;
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
    if (url.pathname === "/__faults" && request.method === "POST") {
      faultEnv ??= env;
      faultOneIn = Number(url.searchParams.get("one_in") ?? 0) || 0;
      failNext = { name: url.searchParams.get("fail_next") ?? "", times: Number(url.searchParams.get("times") ?? 1) || 0 };
      return Response.json({ one_in: faultOneIn, fail_next: failNext });
    }
    if (url.pathname === "/__storage_counts") {
      const snapshot = { ...counts };
      if (request.method === "DELETE") for (const k of Object.keys(counts)) delete counts[k];
      return Response.json(snapshot);
    }
    return Worker.fetch(request, countingEnv(env), ctx);
  },
};
