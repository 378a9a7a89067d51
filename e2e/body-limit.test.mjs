// A fast client that keeps writing an oversized body reads the 413, not a
// connection reset: the Worker reads and drops the rest of the body (up to
// 8 MiB) before it answers (src/cloudflare/body.rs, DRAIN_CAP). Over a real
// socket to workerd (Miniflare with a port), with a declared Content-Length
// and chunked. Before the fix, most chunked attempts here ended in ECONNRESET.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startWorker } from "./harness.mjs";

const BODY = 4 << 20;
let w;
before(async () => { w = await startWorker({ port: 0 }); });
after(async () => { await w?.dispose(); });

function attempt(port, chunked) {
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
    s.on("close", () => finish("closed without an answer"));
    s.on("connect", () => {
      s.write(chunked
        ? "POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
        : `POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${BODY}\r\n\r\n`);
      const piece = Buffer.alloc(64 * 1024, "a");
      let sent = 0;
      const pump = () => {
        while (!done && sent < BODY) {
          sent += piece.length;
          const chunk = chunked ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n")]) : piece;
          if (!s.write(chunk)) return s.once("drain", pump);
        }
        if (chunked && !done) s.write("0\r\n\r\n");
      };
      pump();
    });
  });
}

for (const chunked of [false, true]) {
  test(`a 4 MiB ${chunked ? "chunked" : "Content-Length"} body written flat out: 413 every time`, async () => {
    const port = new URL(w.url).port;
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await attempt(port, chunked));
    assert.deepEqual(answers, Array(10).fill("413"));
  });
}
