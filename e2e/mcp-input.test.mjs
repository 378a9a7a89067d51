// Asking the client for input on a legacy session, against the built Worker in workerd: the
// tools/call answer is an SSE stream carrying the server's request, the client answers with a
// new POST (relayed by the session's Durable Object to the waiting call), and the stream ends
// with the call's result. Bad answers and a flood of waiting requests are refused.
// (The 2026-07-28 flow and the suite's own clients run in e2e/mcp-conformance.test.mjs.)
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "./harness.mjs";

const TOKEN = "e2e-input-static-token-0123456789abcdef0123";
const VERSION = "2025-11-25";
let w;

before(async () => {
  w = await startWorker({ extraVars: { AUTH_TOKEN: TOKEN, MCP_CONFORMANCE: "on" } });
});
after(async () => { await w?.dispose(); });

function post(body, { sid, accept = "application/json, text/event-stream" } = {}) {
  const headers = { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json", Accept: accept };
  if (sid) Object.assign(headers, { "Mcp-Session-Id": sid, "MCP-Protocol-Version": VERSION });
  return w.fetch("/mcp", { method: "POST", headers, body: JSON.stringify(body) });
}

async function openSession(capabilities) {
  const res = await post({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: VERSION, capabilities, clientInfo: { name: "e2e", version: "1" } } });
  assert.equal(res.status, 200);
  const sid = res.headers.get("mcp-session-id");
  await res.text();
  assert.equal((await post({ jsonrpc: "2.0", method: "notifications/initialized" }, { sid })).status, 202);
  return sid;
}

/** Reads SSE `message` events one at a time from a fetch Response. */
function events(res) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  return {
    async next() {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) return JSON.parse(data);
          continue;
        }
        const { value, done } = await reader.read();
        if (done) return null;
        buffer += decoder.decode(value, { stream: true });
      }
    },
  };
}

const call = (id, name, args = {}) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } });
const ANSWER = { action: "accept", content: { username: "ada", email: "ada@example.com" } };

describe("input requests on a legacy session's stream", () => {
  test("the request goes out on the call's stream, the answer POST reaches it, and the result closes the stream", async () => {
    const sid = await openSession({ elicitation: {}, sampling: {} });
    const res = await post(call(5, "test_elicitation", { message: "Who are you?" }), { sid });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/event-stream/);
    const stream = events(res);
    const ask = await stream.next();
    assert.equal(ask.method, "elicitation/create");
    assert.equal(ask.params.message, "Who are you?");
    assert.equal(typeof ask.id, "string");

    const answered = await post({ jsonrpc: "2.0", id: ask.id, result: ANSWER }, { sid });
    assert.equal(answered.status, 202);
    const done = await stream.next();
    assert.equal(done.id, 5);
    assert.match(done.result.content[0].text, /^User response: action=accept/);
    assert.equal(done.result.isError, false);
    assert.equal(await stream.next(), null, "the stream ends after the result");

    // The same answer again: nothing is waiting for it any more.
    const again = await post({ jsonrpc: "2.0", id: ask.id, result: ANSWER }, { sid });
    assert.equal(again.status, 400);
    const body = await again.json();
    assert.equal(body.error.code, -32600);
    assert.match(body.error.message, /no request with id .* is waiting/);
  });

  test("an answer for nothing that was asked is 400, never a 5xx", async () => {
    const sid = await openSession({ elicitation: {} });
    for (const id of ["made-up", 42]) {
      const res = await post({ jsonrpc: "2.0", id, result: ANSWER }, { sid });
      assert.equal(res.status, 400, String(id));
      assert.equal((await res.json()).error.code, -32600);
    }
  });

  test("a client that answers with an error ends the call with a tool error quoting it", async () => {
    const sid = await openSession({ sampling: {} });
    const stream = events(await post(call(6, "test_sampling", { prompt: "hi" }), { sid }));
    const ask = await stream.next();
    assert.equal(ask.method, "sampling/createMessage");
    assert.deepEqual(ask.params.messages[0].content, { type: "text", text: "hi" });
    const res = await post({ jsonrpc: "2.0", id: ask.id, error: { code: -1, message: "User rejected sampling" } }, { sid });
    assert.equal(res.status, 202);
    const done = await stream.next();
    assert.equal(done.result.isError, true);
    assert.match(done.result.content[0].text, /User rejected sampling/);
  });

  test("nothing is asked that the session did not declare, or that a JSON-only POST cannot carry", async () => {
    const sid = await openSession({ sampling: {} });
    const res = await post(call(7, "test_elicitation", { message: "m" }), { sid });
    assert.match(res.headers.get("content-type"), /^application\/json/);
    const body = await res.json();
    assert.equal(body.result.isError, true);
    assert.match(body.result.content[0].text, /elicitation/);

    const json = await post(call(8, "test_sampling", { prompt: "p" }), { sid, accept: "application/json" });
    assert.match(json.headers.get("content-type"), /^application\/json/);
    assert.equal((await json.json()).result.isError, true);
  });

  test("a flood of waiting requests is bounded per session (16): the next call is refused, not stored", async () => {
    const sid = await openSession({ elicitation: {} });
    const waiting = [];
    for (let i = 0; i < 16; i++) {
      const stream = events(await post(call(100 + i, "test_elicitation", { message: `q${i}` }), { sid }));
      waiting.push({ stream, ask: await stream.next() });
    }
    const over = events(await post(call(200, "test_elicitation", { message: "one too many" }), { sid }));
    const refused = await over.next();
    assert.equal(refused.id, 200, "no request was sent, only the refusal");
    assert.equal(refused.result.isError, true);
    assert.match(refused.result.content[0].text, /already has 16 requests waiting/);
    // The 16 still complete when answered.
    for (const { stream, ask } of waiting) {
      assert.equal((await post({ jsonrpc: "2.0", id: ask.id, result: ANSWER }, { sid })).status, 202);
      const done = await stream.next();
      assert.equal(done.result.isError, false);
    }
  });
});
