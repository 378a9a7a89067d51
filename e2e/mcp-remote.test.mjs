// mcp-remote (npm, pinned in package.json), the stdio-to-remote proxy many desktop MCP clients
// are configured with, against the built Worker over TCP. Each test starts it as a real user
// would (`mcp-remote http://127.0.0.1:<port>/sse`), talks MCP to it over stdio with the SDK
// client, and plays the user when mcp-remote opens a browser: mcp-remote calls the `open`
// package, whose bundled xdg-open runs $BROWSER when there is no desktop; $BROWSER is
// e2e/scripted-browser.sh, which hands the URL to this test; the test approves the consent
// page, signs in at the development provider (e2e/browser.mjs), and follows the redirect to
// mcp-remote's loopback callback, as a browser would.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { startWorker } from "./harness.mjs";
import { Browser, consentAndSignIn } from "./browser.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const proxyJs = path.join(root, "node_modules", "mcp-remote", "dist", "proxy.js");
const browserScript = path.join(root, "e2e", "scripted-browser.sh");

let w;
before(async () => { w = await startWorker(); });
after(async () => { await w?.dispose(); });

/** A free loopback port for mcp-remote's OAuth callback (its default, 3334, may be taken). */
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Waits for the first URL the scripted browser was asked to open. */
async function nextOpenedUrl(inbox, deadline) {
  while (Date.now() < deadline) {
    const text = await readFile(inbox, "utf8").catch(() => "");
    const line = text.split("\n").find((l) => l.trim());
    if (line) return line.trim();
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("mcp-remote never opened a browser");
}

/**
 * Runs mcp-remote against `serverUrl`, lets the scripted user authorize, lists the tools
 * through it. Returns what the user saw and what mcp-remote answered.
 */
async function connectThroughMcpRemote(serverUrl, { login }) {
  const home = await mkdtemp(path.join(tmpdir(), "mcp-remote-e2e-"));
  const inbox = path.join(home, "browser-inbox");
  const callbackPort = await freePort();
  const stderr = [];
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [proxyJs, serverUrl, String(callbackPort), "--host", "127.0.0.1", "--auth-timeout", "60"],
    // A clean environment: no desktop, so `open` falls back to $BROWSER; tokens and client
    // registrations go to a fresh directory, so every run authorizes from scratch.
    env: {
      PATH: process.env.PATH,
      HOME: home,
      MCP_REMOTE_CONFIG_DIR: path.join(home, "mcp-auth"),
      BROWSER: browserScript,
      SCRIPTED_BROWSER_INBOX: inbox,
    },
    stderr: "pipe",
  });
  transport.stderr?.on("data", (chunk) => stderr.push(chunk.toString()));
  const client = new Client({ name: "e2e-via-mcp-remote", version: "1.0.0" });
  try {
    const connecting = client.connect(transport, { timeout: 90_000 });
    connecting.catch(() => {});
    const authorizeUrl = await nextOpenedUrl(inbox, Date.now() + 60_000);
    const { location, res } = await consentAndSignIn(w.url, authorizeUrl, { browser: new Browser(), login });
    assert.ok(location, `the consent flow ended on a page (${res?.status}), not a redirect to mcp-remote`);
    // The browser follows the redirect to mcp-remote's loopback callback, which takes the code.
    const callback = await fetch(location);
    assert.equal(callback.status, 200, await callback.text());
    await connecting;
    const { tools } = await client.listTools();
    const whoami = await client.callTool({ name: "whoami", arguments: {} });
    return { authorizeUrl: new URL(authorizeUrl), location: new URL(location), tools, whoami, stderr: stderr.join("") };
  } catch (e) {
    e.message += `\n--- mcp-remote stderr ---\n${stderr.join("").slice(-4000)}`;
    throw e;
  } finally {
    await client.close().catch(() => {});
    await rm(home, { recursive: true, force: true });
  }
}

for (const endpoint of ["/sse", "/mcp"]) {
  test(`mcp-remote ${endpoint}: OAuth through the consent page and the dev provider, then tools/list`, { timeout: 120_000 }, async () => {
    const serverUrl = `${w.url}${endpoint}`;
    const login = endpoint === "/sse" ? "sse-user" : "mcp-user";
    const r = await connectThroughMcpRemote(serverUrl, { login });

    // Discovery named the resource at the URL mcp-remote was given (RFC 9728 path-suffixed
    // metadata, then RFC 8707 `resource`), and the flow came back to its loopback callback.
    assert.equal(r.authorizeUrl.origin + r.authorizeUrl.pathname, `${w.url}/authorize`);
    assert.equal(r.authorizeUrl.searchParams.get("resource"), serverUrl);
    assert.equal(r.authorizeUrl.searchParams.get("code_challenge_method"), "S256");
    assert.equal(r.location.hostname, "127.0.0.1");
    assert.ok(r.location.searchParams.get("code"), "the redirect carries a code");

    // Streamable HTTP at both URLs: no fallback to the old SSE transport.
    assert.match(r.stderr, /Connected to remote server using StreamableHTTPClientTransport/);
    assert.doesNotMatch(r.stderr, /SSEClientTransport/);

    assert.deepEqual(r.tools.map((t) => t.name), ["whoami", "calculate", "calculate_all", "list_github_repos"]);
    assert.equal(r.whoami.isError, false);
    assert.equal(r.whoami.structuredContent.login, login);
    assert.equal(r.whoami.structuredContent.provider, "dev");
  });
}
