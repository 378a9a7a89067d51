// A scripted user: a cookie jar that follows the Worker's redirects, reads
// the consent page, approves or denies it, and signs in on the development
// identity provider's page. It stops at the first redirect that leaves the
// Worker (the MCP client's redirect_uri) and returns that URL.
import crypto from "node:crypto";

export class Browser {
  constructor() {
    this.cookies = new Map();
  }

  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  store(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const maxAge = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith("max-age="));
      if (maxAge && Number(maxAge.split("=")[1]) <= 0) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(url, { method = "GET", form, headers = {} } = {}) {
    const init = { method, redirect: "manual", headers: { ...headers } };
    if (this.cookies.size) init.headers.cookie = this.cookieHeader();
    if (form) {
      init.body = new URLSearchParams(form).toString();
      init.headers["content-type"] = "application/x-www-form-urlencoded";
    }
    const res = await fetch(url, init);
    this.store(res);
    return res;
  }

  /** GETs `url` and follows redirects while they stay on `origin`. */
  async follow(url, origin, opts = {}) {
    let res = await this.request(url, opts);
    for (let hops = 0; hops < 10; hops++) {
      if (res.status < 300 || res.status >= 400) return { res };
      const location = new URL(res.headers.get("location"), url).toString();
      if (!location.startsWith(origin + "/")) return { res, location };
      url = location;
      res = await this.request(url);
    }
    throw new Error("too many redirects");
  }
}

/** Reads the hidden inputs of the first form on a page. */
export function formFields(html) {
  const fields = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields[m[1]] = m[2].replaceAll("&#34;", '"').replaceAll("&#38;", "&").replaceAll("&amp;", "&").replaceAll("&quot;", '"');
  }
  return fields;
}

export function pkcePair() {
  const verifier = crypto.randomBytes(32).toString("base64url");
  const challenge = crypto.createHash("sha256").update(verifier).digest("base64url");
  return { verifier, challenge };
}

export async function registerClient(baseUrl, metadata = {}) {
  const res = await fetch(`${baseUrl}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      client_name: "e2e client",
      redirect_uris: ["http://127.0.0.1:9/callback"],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      ...metadata,
    }),
  });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  return res.json();
}

export function authorizeUrl(baseUrl, client, params = {}) {
  const u = new URL(`${baseUrl}/authorize`);
  const defaults = {
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: client.redirect_uris[0],
    state: "client-state-123",
    resource: `${baseUrl}/mcp`,
  };
  for (const [k, v] of Object.entries({ ...defaults, ...params })) {
    if (v !== undefined && v !== null) u.searchParams.set(k, v);
  }
  return u.toString();
}

/**
 * Walks a browser through /authorize: consent (approve or deny), the dev
 * sign-in page, the callback. Returns { location, res } where `location` is
 * the redirect to the client (or undefined when the flow ended on a page).
 */
export async function consentAndSignIn(baseUrl, url, { browser = new Browser(), action = "approve", login = "ada", email = "ada@example.com", name = "Ada" } = {}) {
  let { res, location } = await browser.follow(url, baseUrl);
  if (location || res.status !== 200) return { res, location, browser };
  let html = await res.text();
  if (html.includes('name="ticket"')) {
    const fields = formFields(html);
    ({ res, location } = await postAndFollow(browser, `${baseUrl}/authorize`, { ...fields, action }, baseUrl));
    if (location || res.status !== 200) return { res, location, browser };
    html = await res.text();
  }
  if (html.includes('action="/dev/login"')) {
    const fields = formFields(html);
    ({ res, location } = await postAndFollow(browser, `${baseUrl}/dev/login`, { ...fields, login, email, name }, baseUrl));
  }
  return { res, location, browser, html };
}

/**
 * The authorization code flow up to the code, as a user walks it: a PKCE pair
 * (S256), /authorize for `client` ({ client_id, redirect_uris }: the first URI
 * is used; `params` add to or replace the query, a null leaves one out), then
 * consent and sign-in (`walk`: the options of consentAndSignIn). Returns
 * { code, verifier, challenge, location, res, browser }: `location` is where the
 * flow left the Worker (the client's redirect URI, or an upstream provider), and
 * `code` the code it carries, if any.
 */
export async function authorizeCode(baseUrl, client, { params = {}, ...walk } = {}) {
  const { verifier, challenge } = pkcePair();
  const url = authorizeUrl(baseUrl, client, { code_challenge: challenge, code_challenge_method: "S256", ...params });
  const { location, res, browser } = await consentAndSignIn(baseUrl, url, walk);
  const code = (location && new URL(location).searchParams.get("code")) ?? undefined;
  return { code, verifier, challenge, location, res, browser };
}

async function postAndFollow(browser, url, form, origin) {
  const res = await browser.request(url, { method: "POST", form });
  if (res.status < 300 || res.status >= 400) return { res };
  const location = new URL(res.headers.get("location"), url).toString();
  if (!location.startsWith(origin + "/")) return { res, location };
  return browser.follow(location, origin);
}

export async function tokenRequest(baseUrl, form, headers = {}) {
  const res = await fetch(`${baseUrl}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, headers: res.headers, body };
}

/**
 * Redeems `code` with its PKCE `verifier` at /token for the public `client`
 * (`redirect_uris[0]`, `resource` = this Worker's /mcp); `extra` adds to or
 * replaces form fields. Returns what tokenRequest returns.
 */
export function redeemCode(baseUrl, client, { code, verifier }, extra = {}) {
  return tokenRequest(baseUrl, {
    grant_type: "authorization_code",
    code,
    redirect_uri: client.redirect_uris[0],
    code_verifier: verifier,
    client_id: client.client_id,
    resource: `${baseUrl}/mcp`,
    ...extra,
  });
}

/** Registers a client, authorizes it as `login`, and redeems the code. */
export async function obtainTokens(baseUrl, { login = "ada", email = `${login}@example.com`, metadata = {}, params = {} } = {}) {
  const client = await registerClient(baseUrl, metadata);
  const { code, verifier, location } = await authorizeCode(baseUrl, client, { params, login, email });
  if (!location) throw new Error("authorization did not redirect back to the client");
  const tok = await redeemCode(baseUrl, client, { code, verifier });
  if (tok.status !== 200) throw new Error(`token: ${tok.status} ${JSON.stringify(tok.body)}`);
  return { client, tokens: tok.body, verifier };
}

/** The HTTP status of an `initialize` at `/mcp` with `token`. */
export async function mcpStatus(baseUrl, token) {
  const res = await fetch(`${baseUrl}/mcp`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "e2e", version: "1" } } }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Refreshes `conn` ({ client, tokens } from obtainTokens), keeping the new tokens. */
export async function refreshConnection(baseUrl, conn) {
  const r = await tokenRequest(baseUrl, { grant_type: "refresh_token", refresh_token: conn.tokens.refresh_token, client_id: conn.client.client_id });
  if (r.status === 200) conn.tokens = r.body;
  return { status: r.status, error: r.body.error };
}

/**
 * An OAuthClientProvider of the MCP TypeScript SDK whose "user" is the scripted
 * browser: `redirectToAuthorization` keeps the URL (`authUrl`) for the test to
 * walk with consentAndSignIn. With `clientMetadataUrl`, the SDK uses that URL as
 * its client_id (Client ID Metadata Document) instead of registering.
 */
export class ScriptedProvider {
  constructor(redirectUrl, { clientMetadataUrl, clientName = "SDK e2e client", state = "sdk-state-42" } = {}) {
    this._redirect = redirectUrl;
    this._metadataUrl = clientMetadataUrl;
    this._name = clientName;
    this._state = state;
    this._tokens = undefined;
    this._client = undefined;
  }
  get redirectUrl() { return this._redirect; }
  get clientMetadataUrl() { return this._metadataUrl; }
  get clientMetadata() {
    return { client_name: this._name, redirect_uris: [this._redirect], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none" };
  }
  state() { return this._state; }
  clientInformation() { return this._client; }
  saveClientInformation(info) { this._client = info; }
  tokens() { return this._tokens; }
  saveTokens(t) { this._tokens = t; }
  redirectToAuthorization(url) { this.authUrl = url; }
  saveCodeVerifier(v) { this._verifier = v; }
  codeVerifier() { return this._verifier; }
}
