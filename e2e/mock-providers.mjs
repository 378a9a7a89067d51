// Mock upstream identity providers on loopback, for e2e/upstream.test.mjs.
//
// - GitHub-shaped: the `oauth-mocks` GitHub app (PyPI, installed into
//   .tools/venv by scripts/mock-deps.sh), behind a small Node front that
//   records every request, remembers the tokens the mock issued, serves
//   GET /api/user/repos with a fixed list (oauth-mocks answers []), and lets a
//   test override any endpoint (e.g. GitHub's "HTTP 200 with error" answers).
// - Google-shaped / generic OpenID Connect: oauth2-mock-server (npm), with
//   hooks for the ID token's claims, the token answer and injected errors.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import net from "node:net";
import path from "node:path";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { OAuth2Server } from "oauth2-mock-server";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const OAUTH_MOCKS_BIN = path.join(root, ".tools", "venv", "bin", "oauth-mocks");

/** A TCP port that was free a moment ago (nothing listens on it afterwards). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(url, ms = 30_000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${url} did not come up: ${last}`);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** The repositories the GitHub mock's GET /user/repos returns. */
export const MOCK_REPOS = [
  { id: 9001, name: "alpha", full_name: "mock-user/alpha", private: false, html_url: "https://github.com/mock-user/alpha", description: "first mock repo", updated_at: "2026-01-01T00:00:00Z" },
  { id: 9002, name: "beta", full_name: "mock-user/beta", private: true, html_url: "https://github.com/mock-user/beta", description: null, updated_at: "2026-01-02T00:00:00Z" },
];

/**
 * Starts the GitHub-shaped mock. Returns
 * { url, authorizeUrl, tokenUrl, apiUrl, requests, issued, override, clearOverrides, stop }.
 * `override(method, path, handler)`: handler(req, body, res) answers instead of the mock
 * (path without query). `issued`: every access/refresh token the mock handed out.
 */
export async function startGitHubMock() {
  if (!existsSync(OAUTH_MOCKS_BIN)) {
    throw new Error(`${OAUTH_MOCKS_BIN} is missing: run scripts/mock-deps.sh`);
  }
  const innerPort = await freePort();
  const child = spawn(OAUTH_MOCKS_BIN, ["--provider", "github", "--host", "127.0.0.1", "--port", String(innerPort)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => { stderr = (stderr + d).slice(-4000); });
  const inner = `http://127.0.0.1:${innerPort}`;
  try {
    await waitFor(`${inner}/api`);
  } catch (e) {
    child.kill();
    throw new Error(`${e.message}\n${stderr}`);
  }

  const requests = [];
  const issued = new Set();
  const overrides = new Map();
  const server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const u = new URL(req.url, "http://x");
      const record = { method: req.method, path: u.pathname, query: Object.fromEntries(u.searchParams), headers: req.headers, body: body.toString() };
      requests.push(record);
      const custom = overrides.get(`${req.method} ${u.pathname}`);
      if (custom) return void (await custom(req, body, res, record));
      if (req.method === "GET" && u.pathname === "/api/user/repos") {
        // Same token check as the mock's other API endpoints.
        const check = await fetch(`${inner}/api/user`, { headers: { authorization: req.headers.authorization ?? "" } });
        if (!check.ok) {
          res.writeHead(check.status, { "content-type": "application/json" });
          return void res.end(await check.text());
        }
        res.writeHead(200, { "content-type": "application/json" });
        return void res.end(JSON.stringify(MOCK_REPOS));
      }
      const headers = { ...req.headers };
      delete headers.host;
      delete headers["content-length"];
      const upstream = await fetch(inner + req.url, {
        method: req.method,
        headers,
        body: ["GET", "HEAD"].includes(req.method) ? undefined : body,
        redirect: "manual",
      });
      const text = await upstream.text();
      if (u.pathname === "/login/oauth/access_token") {
        let fields = {};
        try { fields = JSON.parse(text); } catch { fields = Object.fromEntries(new URLSearchParams(text)); }
        for (const k of ["access_token", "refresh_token"]) if (fields[k]) issued.add(fields[k]);
      }
      const out = {};
      upstream.headers.forEach((v, k) => {
        if (!["content-length", "content-encoding", "transfer-encoding", "connection"].includes(k)) out[k] = v;
      });
      res.writeHead(upstream.status, out);
      res.end(text);
    } catch (e) {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`mock front failed: ${e.message}`);
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    authorizeUrl: `${url}/login/oauth/authorize`,
    tokenUrl: `${url}/login/oauth/access_token`,
    apiUrl: `${url}/api`,
    requests,
    issued,
    override(method, p, handler) { overrides.set(`${method} ${p}`, handler); },
    clearOverrides() { overrides.clear(); },
    async stop() {
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
    },
  };
}

/**
 * Signs `email` in on the GitHub mock: `authorizeUrl` is where the Worker sent the
 * browser. Posts the mock's sign-in form and returns the mock's redirect (to the
 * Worker's /callback). Returns { status, location }.
 */
export async function githubMockSignIn(authorizeUrl, email) {
  const u = new URL(authorizeUrl);
  const page = await fetch(u, { redirect: "manual" });
  if (page.status !== 200) return { status: page.status, location: page.headers.get("location") };
  const form = new URLSearchParams({ email });
  for (const k of ["client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"]) {
    if (u.searchParams.has(k)) form.set(k, u.searchParams.get(k));
  }
  const res = await fetch(`${u.origin}${u.pathname}`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form.toString(),
  });
  return { status: res.status, location: res.headers.get("location") };
}

/**
 * Starts the OpenID Connect mock (oauth2-mock-server). Returns
 * { issuer, server, claims, tokenResponse, tokenRequests, issued, failNextTokens, stop }.
 * - `claims`: merged into every ID token (mutable: change between sign-ins);
 * - `tokenResponse`: merged into every successful token answer (e.g. { expires_in: 60 });
 * - `failTokens`: when set to { status, body }, the token endpoint answers with it;
 * - `tokenRequests`: the form of every token request (grant_type, ...);
 * - `issued`: every access/refresh/ID token handed out.
 */
export async function startOidcMock({ claims = {} } = {}) {
  const server = new OAuth2Server();
  await server.issuer.keys.generate("RS256");
  await server.start(0, "127.0.0.1");
  const mock = {
    server,
    issuer: server.issuer.url,
    claims: { ...claims },
    tokenResponse: {},
    failTokens: null,
    tokenRequests: [],
    issued: new Set(),
    async stop() { await server.stop(); },
  };
  server.service.on("beforeTokenSigning", (token) => {
    // The ID token is the one with an audience and no scope claim.
    if (!("scope" in token.payload) && "aud" in token.payload) Object.assign(token.payload, mock.claims);
  });
  server.service.on("beforeResponse", (response, req) => {
    mock.tokenRequests.push({ ...req.body });
    if (mock.failTokens) {
      response.statusCode = mock.failTokens.status;
      response.body = mock.failTokens.body;
      return;
    }
    Object.assign(response.body, mock.tokenResponse);
    for (const k of ["access_token", "refresh_token", "id_token"]) if (response.body[k]) mock.issued.add(response.body[k]);
  });
  return mock;
}
