// The Worker's JavaScript entry module, bundled by scripts/build.sh around the
// wasm-bindgen output (./index.js + ./index_bg.wasm).
//
// It replaces worker-build's generic shim, which on every request constructs
// a Proxy of an entrypoint class and another of its `fetch` method before
// calling into wasm: about 30 us of CPU per request here, more than the whole
// metadata route costs in Rust (README "Size and cost"). Here a request costs
// one property read and one call.
//
// Recovery after a panic is kept: the release profile aborts on panic, which
// traps the wasm instance. wasm-bindgen's glue (built with
// --experimental-reset-state-function and --force-enable-abort-handler)
// notices and gives the next call a fresh instance; the `worker` crate's panic
// hook sets `criticalError`, on which we reset before the next event, and
// Durable Object wrappers rebuild their Rust object in the new instance.
import * as wasm from "./index.js";

const initState = wasm.__worker_init_state();

function checkReinitialize() {
  if (initState.criticalError) {
    console.log("Reinitializing the wasm instance after a panic");
    wasm.__wbg_reset_state();
    initState.criticalError = false;
  }
}

// Answers that never change within an isolate (the metadata documents and
// /health: `Prepared` in src/cloudflare/platform.rs) come back from wasm with
// their parts attached under this symbol. The next GET of the same URL (its
// query aside: those routes never read it) is answered here, without entering
// wasm: the same status, headers and body, in a new Response. At most
// KEPT_MAX URLs; the oldest goes first, so a flood of odd URLs only sends
// requests back through wasm, never answers one URL with another's response.
const KEPT = Symbol.for("mcp-oauth-worker.kept");
const KEPT_MAX = 16;
const kept = new Map();

function keptKey(request) {
  if (request.method !== "GET") return undefined;
  const url = request.url;
  const query = url.indexOf("?");
  return query < 0 ? url : url.slice(0, query);
}

export default {
  fetch(request, env, ctx) {
    const key = keptKey(request);
    const known = key === undefined ? undefined : kept.get(key);
    if (known) return new Response(known.body, known.init);
    checkReinitialize();
    const response = wasm.fetch(request, env, ctx);
    const parts = key === undefined ? undefined : response[KEPT];
    if (parts) {
      if (kept.size >= KEPT_MAX) kept.delete(kept.keys().next().value);
      // The init is reused as is (a Response copies it); its headers as a plain
      // object, which the runtime reads faster than a Headers instance. (Kept
      // answers set no cookie, the one header a plain object could not repeat.)
      kept.set(key, { body: parts.body, init: { status: parts.status, headers: Object.fromEntries(parts.headers) } });
    }
    return response;
  },
};

// A Durable Object class whose Rust object is rebuilt (from the same state and
// env) when the wasm instance it lived in was replaced.
function durableObject(RustClass) {
  return class {
    constructor(state, env) {
      this.args = [state, env];
      this.inner = new RustClass(state, env);
      this.instanceId = initState.instanceId;
    }
    live() {
      checkReinitialize();
      if (this.instanceId !== initState.instanceId) {
        this.inner = new RustClass(...this.args);
        this.instanceId = initState.instanceId;
      }
      return this.inner;
    }
    fetch(request) {
      return this.live().fetch(request);
    }
    alarm() {
      return this.live().alarm();
    }
  };
}

export const GrantObject = durableObject(wasm.GrantObject);
export const McpSession = durableObject(wasm.McpSession);
export const AssertionReplay = durableObject(wasm.AssertionReplay);
