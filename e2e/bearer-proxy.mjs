// A loopback HTTP proxy that adds `Authorization: Bearer <token>` to every request and passes
// everything else through unchanged, the `Host` header included (Node's fetch would replace
// it; a DNS-rebinding test needs the Host the client sent to reach the Worker). Used to run
// clients that cannot do OAuth (the MCP conformance suite) against the protected endpoint.
import http from "node:http";

/**
 * Starts the proxy in front of `target` (e.g. "http://127.0.0.1:8787"). Until `setToken` is
 * called it passes requests through untouched, so the OAuth flow can run through it (the
 * Worker derives its issuer and resource URLs from the Host it is reached at, and the proxy
 * keeps the Host, so tokens must be obtained at the proxy's address).
 * Returns { url, setToken, stats, close }; `stats.requests` counts proxied requests.
 */
export async function startBearerProxy(target) {
  const upstream = new URL(target);
  const stats = { requests: 0 };
  let token;
  const server = http.createServer((req, res) => {
    stats.requests++;
    const headers = { ...req.headers };
    if (token) headers.authorization = `Bearer ${token}`;
    const out = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers,
        setHost: false,
      },
      (answer) => {
        res.writeHead(answer.statusCode, answer.rawHeaders);
        answer.pipe(res);
      },
    );
    out.on("error", (e) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`bearer proxy: ${e.message}`);
    });
    req.pipe(out);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    setToken: (t) => { token = t; },
    stats,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}
