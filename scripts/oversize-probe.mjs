// Issue 18: what a fast client that keeps writing an oversized body gets back,
// from the Worker served by `wrangler dev` (as `make dev` does) and from the
// same build in Miniflare directly. Prints a tally per target; used to find out
// where the occasional 503 / connection reset instead of 413 comes from
// (docs/decisions.md, "URLs", and README "Limits").
//
//   node scripts/oversize-probe.mjs [attempts]     (needs `make build` first)
//
// Each attempt opens a raw TCP connection, sends POST /token with a declared
// Content-Length of 4 MiB, and writes the body as fast as the socket takes it,
// without waiting for an answer; it records the status line it gets, or how the
// connection ended without one.
import net from "node:net";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startWorker } from "../e2e/harness.mjs";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const attempts = Number(process.argv[2] ?? 20);
const BODY = 4 << 20;

function once(port, { chunked = false } = {}) {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    let got = "";
    let done = false;
    const finish = (what) => { if (!done) { done = true; s.destroy(); resolve(what); } };
    s.on("data", (d) => {
      got += d.toString("latin1");
      const m = got.match(/^HTTP\/1\.1 (\d{3})/);
      if (m) finish(m[1]);
    });
    s.on("error", (e) => finish(e.code ?? "error"));
    s.on("close", () => finish(got ? "garbled" : "closed without an answer"));
    s.on("connect", () => {
      const head = chunked
        ? "POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
        : `POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${BODY}\r\n\r\n`;
      s.write(head);
      const piece = Buffer.alloc(64 * 1024, "a");
      let sent = 0;
      const pump = () => {
        while (!done && sent < BODY) {
          const chunk = chunked ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n")]) : piece;
          sent += piece.length;
          if (!s.write(chunk)) return s.once("drain", pump);
        }
        if (chunked && !done) s.write("0\r\n\r\n");
      };
      pump();
    });
    setTimeout(() => finish("no answer in 20 s"), 20_000);
  });
}

async function tally(name, port, opts) {
  const counts = {};
  for (let i = 0; i < attempts; i++) {
    const r = await once(port, opts);
    counts[r] = (counts[r] ?? 0) + 1;
  }
  console.log(`${name}: ${JSON.stringify(counts)}`);
  return counts;
}

async function waitFor(port) {
  for (let i = 0; i < 240; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      await res.arrayBuffer();
      return;
    } catch { await new Promise((r) => setTimeout(r, 500)); }
  }
  throw new Error("wrangler dev did not come up");
}

const mf = await startWorker({ port: 0 });
const mfPort = new URL(mf.url).port;
await tally("miniflare, Content-Length", mfPort);
await tally("miniflare, chunked", mfPort, { chunked: true });
await mf.dispose();

const port = 8797;
const dev = spawn("sh", ["scripts/dev.sh"], { cwd: root, env: { ...process.env, PORT: String(port) }, stdio: "ignore", detached: true });
try {
  await waitFor(port);
  await tally("wrangler dev, Content-Length", port);
  await tally("wrangler dev, chunked", port, { chunked: true });
} finally {
  process.kill(-dev.pid, "SIGTERM");
}
