// Issue 18 in real workerd: one URL parser (the browser's), an outbound policy
// in code for every fetch whose target a client chose, client-document fetches
// that are metered and opaque, and the CIMD draft's MUST NOTs.
//
// Documents are served through Miniflare's outboundService under ordinary
// public-looking host names; one Worker runs without it, so its fetches go to
// the real network, where a loopback listener shows that refused targets are
// never connected to.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import net from "node:net";
import { startWorker, rateLimits } from "./harness.mjs";
import { Browser, consentAndSignIn, pkcePair, registerClient, tokenRequest } from "./browser.mjs";

// --- the web, as the Worker sees it --------------------------------------
const web = new Map(); // url (as the fetch sees it) -> (request) => Response
const seen = []; // every URL the Worker fetched
const json = (doc, headers = {}) => () =>
  new Response(typeof doc === "string" ? doc : JSON.stringify(doc), {
    headers: { "content-type": "application/json", ...headers },
  });
async function outboundService(request) {
  seen.push(request.url);
  const handler = web.get(request.url);
  return handler ? handler(request) : new Response("not found", { status: 404 });
}
const fetchesOf = (url) => seen.filter((u) => u === url).length;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let w;
before(async () => { w = await startWorker({ outboundService }); });
after(async () => { await w?.dispose(); });

function authorizeUrl(base, clientId, redirectUri, extra = {}) {
  const u = new URL(`${base}/authorize`);
  const params = {
    response_type: "code", client_id: clientId, redirect_uri: redirectUri, state: "st-18",
    code_challenge: pkcePair().challenge, code_challenge_method: "S256", resource: `${base}/mcp`, ...extra,
  };
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}
async function page(base, clientId, redirectUri, extra) {
  const res = await fetch(authorizeUrl(base, clientId, redirectUri, extra), { redirect: "manual" });
  return { status: res.status, location: res.headers.get("location"), html: await res.text() };
}
const doc = (id, more = {}) => ({ client_id: id, client_name: "Doc client", redirect_uris: ["https://app.acme-tools.com/cb"], ...more });

// --- one parser: the host shown is the host the browser visits ------------
describe("the percent-encoded look-alike", () => {
  const LOOK = "https://%D1%81laude.ai/cb"; // U+0441 CYRILLIC SMALL LETTER ES
  const PUNY = new URL(LOOK).hostname; // what a browser (WHATWG) visits: xn--laude-0ye.ai

  test("as a redirect URI it is refused at registration (a host that is not ASCII once decoded)", async () => {
    const res = await fetch(`${w.url}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client_name: "look-alike", redirect_uris: [LOOK], token_endpoint_auth_method: "none" }),
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error, "invalid_redirect_uri");
    // Control: the same body with an ASCII host registers.
    await registerClient(w.url, { redirect_uris: ["https://claude-lookalike.com/cb"] });
  });

  test("written as the punycode the browser visits, it is shown in punycode, its Unicode marked", async () => {
    assert.match(PUNY, /^xn--/);
    const client = await registerClient(w.url, { redirect_uris: [`https://${PUNY}/cb`] });
    const p = await page(w.url, client.client_id, `https://${PUNY}/cb`);
    assert.equal(p.status, 200, p.html.slice(0, 300));
    const shown = p.html.match(/id="redirect-host">([^<]*)</)[1];
    assert.equal(shown, `${PUNY} (in Unicode: \u0441laude.ai)`);
    assert.doesNotMatch(p.html, /id="redirect-host">claude\.ai</);
  });

  test("as a document client_id it is refused on our page; its punycode form is shown in punycode", async () => {
    const look = await page(w.url, "https://%D1%81laude.ai/oauth/client.json", `https://${PUNY}/cb`);
    assert.equal(look.status, 400, look.html.slice(0, 300));
    assert.equal(look.location, null);
    const id = `https://${PUNY}/oauth/client.json`;
    web.set(id, json(doc(id, { redirect_uris: [`https://${PUNY}/cb`] })));
    const p = await page(w.url, id, `https://${PUNY}/cb`);
    assert.equal(p.status, 200, p.html.slice(0, 400));
    const shown = p.html.match(/id="verified-host">([^<]*)</)[1];
    assert.equal(shown, `${PUNY} (in Unicode: \u0441laude.ai)`);
  });
});

// --- the outbound policy ----------------------------------------------------
describe("client-chosen fetch targets that are refused never get a connection", () => {
  let listener, port, connections = 0, bare;
  before(async () => {
    listener = net.createServer((s) => { connections++; s.destroy(); });
    await new Promise((r) => listener.listen(0, "127.0.0.1", r));
    port = listener.address().port;
    // No outboundService: this Worker's fetches go to the real network.
    bare = await startWorker();
  });
  after(async () => { await bare?.dispose(); listener?.close(); });

  const forms = (p) => [
    `https://127.0.0.1:${p}/doc.json`,
    `https://127.1:${p}/doc.json`,
    `https://0x7f.1:${p}/doc.json`,
    `https://0x7F.0.0.1:${p}/doc.json`,
    `https://0177.0.0.1:${p}/doc.json`,
    `https://2130706433:${p}/doc.json`,
    `https://%31%32%37.0.0.1:${p}/doc.json`,
    `https://127.0.0.1.:${p}/doc.json`,
    `https://[::ffff:127.0.0.1]:${p}/doc.json`,
    `https://[::1]:${p}/doc.json`,
    `https://localhost:${p}/doc.json`,
    `https://LOCALHOST.:${p}/doc.json`,
    `https://app.localhost:${p}/doc.json`,
    `https://metadata.internal:${p}/doc.json`,
    `https://printer.local:${p}/doc.json`,
    `https://intranet:${p}/doc.json`,
    `https://a.test:${p}/doc.json`,
    `https://public.acme-tools.com:${p}/doc.json`,
  ];

  test("the listener itself accepts connections (the control)", async () => {
    await new Promise((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () => { s.destroy(); resolve(); });
      s.on("error", reject);
    });
    await sleep(50);
    assert.equal(connections, 1);
    connections = 0;
  });

  for (const [i, target] of forms(0).entries()) {
    test(`refused: ${target.replace(":0/", ":PORT/")}`, async () => {
      const url = forms(port)[i];
      const before = connections;
      const p = await page(bare.url, url, "https://app.acme-tools.com/cb");
      const t = await tokenRequest(bare.url, { grant_type: "refresh_token", refresh_token: "x", client_id: url });
      await sleep(20);
      assert.equal(connections - before, 0, `${url} was connected to`);
      assert.equal(p.status, 400, p.html.slice(0, 300));
      assert.equal(p.location, null);
      assert.match(p.html, /does not fetch the client_id URL/);
      assert.equal(t.status, 401, JSON.stringify(t.body));
      assert.equal(t.body.error, "invalid_client");
    });
  }

  test("the same forms without a port never reach the outbound service", async () => {
    const before = seen.length;
    // All but the last (a public name, refused above only for its port).
    for (const url of forms(443).slice(0, -1).map((u) => u.replace(":443/", "/"))) {
      await page(w.url, url, "https://app.acme-tools.com/cb");
    }
    for (const host of ["127.0.0.1", "[::1]", "localhost", "metadata.google.internal", "a.example", "intranet"]) {
      await page(w.url, `https://${host}/doc.json`, "https://app.acme-tools.com/cb");
    }
    assert.deepEqual(seen.slice(before), []);
  });

  test("a jwks_uri on a refused host makes the document invalid, and is never fetched", async () => {
    const id = "https://jwks-probe.acme-tools.com/client.json";
    web.set(id, json(doc(id, { token_endpoint_auth_method: "private_key_jwt", jwks_uri: "https://169.254.169.254/latest/keys" })));
    const p = await page(w.url, id, "https://app.acme-tools.com/cb");
    assert.equal(p.status, 400);
    assert.match(p.html, /jwks_uri/);
    assert.equal(seen.filter((u) => u.includes("169.254")).length, 0);
  });
});

// --- opaque failures --------------------------------------------------------
describe("a fetch failure gives the same answer whatever the target did", () => {
  const R = "https://failing.acme-tools.com";
  const good = (id) => JSON.stringify(doc(id));
  const targets = {
    "404": () => new Response("nope", { status: 404 }),
    "500": () => new Response("oops", { status: 500 }),
    "429": () => new Response("slow down", { status: 429 }),
    "302": () => new Response(null, { status: 302, headers: { location: `${R}/elsewhere.json` } }),
    "too large": () => new Response(good(`${R}/large.json`).padEnd(1 << 20, " "), { headers: { "content-type": "application/json" } }),
    "connection failure": () => { throw new Error("connect ECONNREFUSED"); },
    "timeout": async () => { await sleep(4500); return new Response(good(`${R}/timeout.json`), { headers: { "content-type": "application/json" } }); },
  };
  for (const name of Object.keys(targets)) web.set(`${R}/${name.replace(/ /g, "-")}.json`, targets[name]);

  test("/authorize and /token answer identically for every kind of failure", async () => {
    const pages = new Set();
    const tokens = new Set();
    for (const name of Object.keys(targets)) {
      const url = `${R}/${name.replace(/ /g, "-")}.json`;
      const p = await page(w.url, url, "https://app.acme-tools.com/cb");
      assert.equal(p.status, 400, name);
      assert.match(p.html, /could not be fetched from its URL/, name);
      pages.add(`${p.status} ${p.html}`);
      const t = await tokenRequest(w.url, { grant_type: "refresh_token", refresh_token: "x", client_id: url });
      tokens.add(`${t.status} ${t.headers.get("retry-after")} ${JSON.stringify(t.body)}`);
      assert.ok(fetchesOf(url) >= 1, `${name} was fetched`);
    }
    assert.equal(pages.size, 1, [...pages].join("\n---\n").slice(0, 2000));
    assert.equal(tokens.size, 1, [...tokens].join("\n"));
    assert.match([...tokens][0], /^503 \d+ .*temporarily_unavailable/);
    assert.equal(fetchesOf(`${R}/elsewhere.json`), 0, "the redirect was not followed");
  });
});

// --- the draft's MUST NOTs --------------------------------------------------
describe("documents that break the draft's MUST NOTs are refused with a clear error", () => {
  const R = "https://mustnot.acme-tools.com";
  const cases = [
    ["a symmetric method next to none", "symmetric.json", { token_endpoint_auth_methods_supported: ["none", "client_secret_basic"] }, /lists client_secret_basic: a metadata document must not use a method built on a shared secret/],
    ["client_secret_jwt", "secret-jwt.json", { token_endpoint_auth_method: "client_secret_jwt" }, /client_secret_jwt/],
    ["a private RSA member in jwks", "private.json", { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [{ kty: "RSA", n: "AQAB", e: "AQAB", d: "c2VjcmV0" }] } }, /private member &#39;d&#39;|private member 'd'/],
    ["a symmetric key in jwks", "oct.json", { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [{ kty: "oct", k: "c2VjcmV0" }] } }, /private member/],
  ];
  for (const [name, file, extra, why] of cases) {
    test(name, async () => {
      const id = `${R}/${file}`;
      web.set(id, json(doc(id, extra)));
      const p = await page(w.url, id, "https://app.acme-tools.com/cb");
      assert.equal(p.status, 400, p.html.slice(0, 300));
      assert.equal(p.location, null);
      assert.match(p.html, why);
    });
  }
  test("a document served with a non-JSON Content-Type", async () => {
    for (const [file, type] of [["text.json", "text/plain"], ["html.json", "text/html; charset=utf-8"], ["none.json", null]]) {
      const id = `${R}/${file}`;
      web.set(id, () => new Response(JSON.stringify(doc(id)), { headers: type ? { "content-type": type } : {} }));
      const p = await page(w.url, id, "https://app.acme-tools.com/cb");
      assert.equal(p.status, 400, file);
      assert.match(p.html, /not as application\/json/, file);
      const t = await tokenRequest(w.url, { grant_type: "refresh_token", refresh_token: "x", client_id: id });
      assert.equal(t.status, 401, file);
      assert.match(t.body.error_description, /application\/json/);
    }
  });
  test("a +json Content-Type is accepted", async () => {
    const id = `${R}/plus.json`;
    web.set(id, json(doc(id), { "content-type": "application/oauth-client+json; charset=utf-8" }));
    const p = await page(w.url, id, "https://app.acme-tools.com/cb");
    assert.equal(p.status, 200, p.html.slice(0, 300));
  });
  test("a document on a shared-content host is 'a document hosted at', not a verified application", async () => {
    const id = "https://raw.githubusercontent.com/someone/tools/main/client.json";
    web.set(id, json(doc(id)));
    const p = await page(w.url, id, "https://app.acme-tools.com/cb");
    assert.equal(p.status, 200, p.html.slice(0, 300));
    assert.match(p.html, /id="shared-host">a document hosted at raw\.githubusercontent\.com</);
    assert.doesNotMatch(p.html, /id="verified-host"/);
  });
});

// --- unknown kid ------------------------------------------------------------
describe("an unknown kid does not refetch the JWKS within the minute", () => {
  const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ID = "https://agent.acme-tools.com/oauth/client.json";
  const JWKS = "https://agent.acme-tools.com/oauth/jwks.json";
  web.set(ID, json(doc(ID, { token_endpoint_auth_method: "private_key_jwt", jwks_uri: JWKS })));
  web.set(JWKS, json({ keys: [{ ...rsa.publicKey.export({ format: "jwk" }), kid: "k1", use: "sig", alg: "RS256" }] }));
  const b64url = (x) => Buffer.from(JSON.stringify(x)).toString("base64url");
  const now = () => Math.floor(Date.now() / 1000);
  const assertion = (kid) => {
    const head = `${b64url({ alg: "RS256", kid, typ: "JWT" })}.${b64url({ iss: ID, sub: ID, aud: `${w.url}/token`, iat: now(), exp: now() + 60, jti: crypto.randomUUID() })}`;
    return `${head}.${crypto.sign("sha256", Buffer.from(head), rsa.privateKey).toString("base64url")}`;
  };
  const attempt = (kid) => tokenRequest(w.url, {
    grant_type: "authorization_code", code: "mcpc.AAAAAAAAAAAAAAAAAAAAAA.x", redirect_uri: "https://app.acme-tools.com/cb",
    code_verifier: "v".repeat(43), client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion(kid),
  });

  test("ten assertions with unknown kids: one JWKS fetch in all", async () => {
    // The known key authenticates (the code is bogus: invalid_grant, not invalid_client).
    const ok = await attempt("k1");
    assert.equal(ok.body.error, "invalid_grant", JSON.stringify(ok.body));
    assert.equal(fetchesOf(JWKS), 1);
    for (let i = 0; i < 10; i++) {
      const res = await attempt(`unknown-${i}`);
      assert.equal(res.status, 401);
      assert.equal(res.body.error, "invalid_client");
      assert.match(res.body.error_description, /no RS256 key with kid/);
    }
    assert.equal(fetchesOf(JWKS), 1, "no refetch within the minute");
  });

  test("an assertion with wrong claims is refused before anything is fetched", async () => {
    const id = "https://never-fetched.acme-tools.com/client.json";
    const head = `${b64url({ alg: "RS256", kid: "k1" })}.${b64url({ iss: id, sub: id, aud: "https://elsewhere.acme-tools.com/token", exp: now() + 60, jti: "j" })}`;
    const res = await tokenRequest(w.url, { grant_type: "refresh_token", refresh_token: "x", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: `${head}.c2ln` });
    assert.equal(res.status, 401);
    assert.match(res.body.error_description, /aud/);
    assert.equal(fetchesOf(id), 0);
  });
});

// --- remembered consent -------------------------------------------------------
describe("remembered consent", () => {
  async function secondVisit(redirect, method = "none") {
    const meta = { redirect_uris: [redirect], token_endpoint_auth_method: method };
    const client = await registerClient(w.url, meta);
    const browser = new Browser();
    const first = await consentAndSignIn(w.url, authorizeUrl(w.url, client.client_id, redirect), { browser });
    assert.ok(first.location?.startsWith(redirect), `first visit went back (${first.res?.status})`);
    const again = await browser.request(authorizeUrl(w.url, client.client_id, redirect));
    const html = await again.text();
    if (again.status === 302 && /\/dev\/login\?state=/.test(again.headers.get("location"))) return "skipped";
    return again.status === 200 && html.includes('name="ticket"') ? "consent page" : `other ${again.status}`;
  }
  test("an https redirect to a public name is remembered (the control)", async () => {
    assert.equal(await secondVisit("https://app.acme-tools.com/cb"), "skipped");
  });
  for (const redirect of ["https://127.0.0.1:9443/cb", "https://localhost:9443/cb", "https://[::1]/cb", "https://203.0.113.9/cb"]) {
    test(`https loopback or IP redirect ${redirect} sees the consent page every time`, async () => {
      assert.equal(await secondVisit(redirect), "consent page");
    });
  }
  test("also for a client with a secret", async () => {
    assert.equal(await secondVisit("https://127.0.0.1:9443/cb", "client_secret_post"), "consent page");
  });
});

// --- error pages name a shortened host --------------------------------------
test("an error page names an escaped, shortened host, never the whole attacker string", async () => {
  const host = `${"a".repeat(60)}.${"a".repeat(60)}.${"a".repeat(60)}.attacker.acme-tools.com`;
  const redirect = `https://${host}/cb/${"x".repeat(400)}?q=${"y".repeat(200)}`;
  const client = await registerClient(w.url, { redirect_uris: [redirect], client_name: "Totally Legit Bank" });
  const p = await page(w.url, client.client_id, redirect, { response_type: "token" });
  assert.equal(p.status, 400, p.html.slice(0, 300));
  assert.match(p.html, /…[a.]*\.attacker\.acme-tools\.com\)/);
  assert.doesNotMatch(p.html, /xxxxxxxxxx/);
  assert.doesNotMatch(p.html, /yyyyyyyyyy/);
  assert.doesNotMatch(p.html, /Totally Legit Bank/);
  assert.doesNotMatch(p.html, new RegExp(`a{100}`));
});

// --- /introspect is metered ---------------------------------------------------
describe("/introspect under a flood", () => {
  let limited;
  before(async () => { limited = await startWorker({ outboundService, rateLimits: rateLimits(1_000_000, { RL_TOKEN_IP: 5 }) }); });
  after(async () => { await limited?.dispose(); });

  test("answers 429 with Retry-After once over the limit, and fetches nothing for an unauthenticated caller", async () => {
    const id = "https://introspect-flood.acme-tools.com/client.json";
    web.set(id, json(doc(id)));
    const statuses = [];
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${limited.url}/introspect`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "cf-connecting-ip": "198.51.100.7" },
        body: new URLSearchParams({ token: "x", client_id: `${id}?r=${i}` }).toString(),
      });
      statuses.push(res.status);
      if (res.status === 429) assert.ok(Number(res.headers.get("retry-after")) > 0);
      await res.arrayBuffer();
    }
    assert.ok(statuses.includes(429), statuses.join(","));
    assert.ok(statuses.slice(0, 5).every((s) => s === 401), statuses.join(","));
    assert.equal(seen.filter((u) => u.startsWith(id)).length, 0, "a caller without a credential makes no fetch");
  });
});

test("fetches to one document host are limited per isolate (a random query defeats no meter)", async () => {
  const host = "https://metered.acme-tools.com";
  const answers = new Set();
  for (let i = 0; i < 36; i++) {
    const p = await page(w.url, `${host}/doc.json?r=${i}`, "https://app.acme-tools.com/cb");
    answers.add(`${p.status} ${p.html}`);
  }
  assert.equal(seen.filter((u) => u.startsWith(host)).length, 30);
  assert.equal(answers.size, 1, "metered or fetched and failed: the same answer");
});
