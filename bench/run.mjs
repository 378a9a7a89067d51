// `make bench`: this Worker side by side with the TypeScript stack and with a
// trivial JavaScript Worker, in one run, served the same way (Miniflare, one
// workerd each, persisted local state; see bench/serve.mjs).
//
//   node bench/run.mjs            3 rounds x 10 s per figure (about 10 minutes)
//   node bench/run.mjs --quick    1 round x 1 s: checks that the bench runs (make test)
//   options: --rounds N --duration S --connections C --refreshes N --cold N
//            --figures metadata,tools,register,refresh   a subset of the figures
//            --worker-dir DIR   bench this build directory as "this Worker" (default build/)
//            --before DIR   also bench another build of this Worker (a copy of an
//                           older build/ directory), as "before"
//
// Figures (autocannon at 16 connections unless noted; the median of the rounds):
//   metadata GET rps, authenticated tools/call rps with p50/p99, /register rps
//   (the same body again, and a new client each time),
//   sequential refresh p50 (one client, one request at a time), cold start
//   (process spawn to first 200, fresh state) and bundle size.
// It prints figures and ratios and writes bench/results/latest.{json,svg}.
// A benchmark, not a test: nothing here asserts a time.
import autocannon from "autocannon";
import { spawn, execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";
import { obtainTokens } from "../e2e/browser.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const work = path.join(root, "bench", ".build");
const results = path.join(root, "bench", "results");

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const cfg = {
  rounds: opt("rounds", quick ? 1 : 3),
  duration: opt("duration", quick ? 1 : 10),
  connections: opt("connections", 16),
  refreshes: opt("refreshes", quick ? 5 : 200),
  cold: opt("cold", quick ? 1 : 3),
};

const workerDir = argv.includes("--worker-dir") ? path.resolve(argv[argv.indexOf("--worker-dir") + 1]) : path.join(root, "build");
const beforeDir = argv.includes("--before") ? path.resolve(argv[argv.indexOf("--before") + 1]) : undefined;
const ALL_TARGETS = {
  trivial: "trivial JS worker",
  reference: "TypeScript stack",
  ...(beforeDir ? { before: "this Worker, before" } : {}),
  worker: "this Worker",
};
// --targets trivial,reference runs a subset (for working on the bench itself).
const only = argv.includes("--targets") ? argv[argv.indexOf("--targets") + 1].split(",") : Object.keys(ALL_TARGETS);
const figuresWanted = argv.includes("--figures")
  ? argv[argv.indexOf("--figures") + 1].split(",")
  : ["metadata", "tools", "register", "refresh"];
/** bench/serve.mjs's target, and its script or build directory. */
const served = (t, referenceScript) =>
  t === "before" ? ["worker", beforeDir] : t === "worker" ? ["worker", workerDir] : t === "reference" ? ["reference", referenceScript] : [t, undefined];
const TARGETS = Object.fromEntries(Object.entries(ALL_TARGETS).filter(([k]) => only.includes(k)));

// ---------------------------------------------------------------- building

function gzipSize(file) {
  return zlib.gzipSync(fs.readFileSync(file), { level: 9 }).length;
}

/** Bundles the reference Worker with wrangler's esbuild, offline. */
function bundleReference(origin) {
  const out = path.join(work, "reference.js");
  execFileSync(path.join(root, "node_modules", ".bin", "esbuild"), [
    "bench/reference/worker.js",
    "--bundle",
    "--format=esm",
    "--platform=neutral",
    "--minify",
    "--main-fields=module,main",
    "--conditions=workerd,worker,browser,import",
    "--external:cloudflare:*",
    "--external:node:*",
    // mimetext (via agents) requires "path"; workerd serves it as node:path.
    "--alias:path=node:path",
    `--define:BENCH_ORIGIN=${JSON.stringify(origin)}`,
    `--outfile=${out}`,
    "--log-level=error",
  ], { cwd: root, stdio: "inherit" });
  return out;
}

function workerSize(dir) {
  const wasm = path.join(dir, "index_bg.wasm");
  const shim = path.join(dir, "index.js");
  if (!fs.existsSync(wasm)) throw new Error(`${wasm} is missing: run \`make build\` first`);
  return { raw: fs.statSync(wasm).size + fs.statSync(shim).size, gzip: gzipSize(wasm) + gzipSize(shim) };
}

function bundleSizes(referenceScript) {
  const sizes = { reference: { raw: fs.statSync(referenceScript).size, gzip: gzipSize(referenceScript) } };
  if (TARGETS.worker) sizes.worker = workerSize(workerDir);
  if (TARGETS.before) sizes.before = workerSize(beforeDir);
  return sizes;
}

// ---------------------------------------------------------------- serving

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Spawns bench/serve.mjs and waits for the first 200; returns its cold start. */
async function serve(target, { port, state, script }) {
  const [kind, arg] = served(target, script);
  fs.rmSync(state, { recursive: true, force: true });
  const url = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(root, "bench", "serve.mjs"), kind, String(port), state, arg ?? ""], {
    cwd: root,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  let exited = false;
  child.on("exit", () => (exited = true));
  const probe = kind === "trivial" ? "/" : "/.well-known/oauth-authorization-server";
  for (;;) {
    if (exited) throw new Error(`${target} exited before serving:\n${stderr}`);
    if (performance.now() - t0 > 60_000) throw new Error(`${target} did not answer within 60 s:\n${stderr}`);
    try {
      const res = await fetch(url + probe);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const coldMs = performance.now() - t0;
  const workerd = findChild(child.pid, "workerd");
  const stop = () =>
    new Promise((resolve) => {
      if (exited) return resolve();
      child.once("exit", resolve);
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 5000).unref();
    });
  return { url, coldMs, stop, workerd };
}

/** The pid of `pid`'s descendant named `name` (Miniflare's workerd), if any. */
function findChild(pid, name) {
  const procs = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      procs.push({ pid: Number(d), ppid, comm });
    } catch {
      // gone meanwhile
    }
  }
  const seen = new Set([pid]);
  for (let changed = true; changed; ) {
    changed = false;
    for (const p of procs) if (seen.has(p.ppid) && !seen.has(p.pid)) (seen.add(p.pid), (changed = true));
  }
  return procs.find((p) => seen.has(p.pid) && p.comm === name)?.pid;
}

/** CPU seconds (user + system) a process has used so far; undefined off Linux. */
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- clients

const ACCEPT = "application/json, text/event-stream";
const PROTOCOL = "2025-06-18";

function pkce() {
  const verifier = crypto.randomBytes(32).toString("base64url");
  return { verifier, challenge: crypto.createHash("sha256").update(verifier).digest("base64url") };
}

const registration = {
  client_name: "bench client",
  redirect_uris: ["http://127.0.0.1:9/callback"],
  token_endpoint_auth_method: "none",
  grant_types: ["authorization_code", "refresh_token"],
  response_types: ["code"],
};

async function form(url, fields) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** Register, authorize (the reference approves at once), redeem the code. */
async function referenceTokens(url) {
  const reg = await fetch(`${url}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(registration),
  });
  const client = await reg.json();
  if (reg.status !== 201) throw new Error(`reference register: ${reg.status} ${JSON.stringify(client)}`);
  const { verifier, challenge } = pkce();
  const auth = new URL(`${url}/authorize`);
  for (const [k, v] of Object.entries({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: registration.redirect_uris[0],
    scope: "mcp",
    state: "s",
    resource: `${url}/mcp`,
    code_challenge: challenge,
    code_challenge_method: "S256",
  })) auth.searchParams.set(k, v);
  const res = await fetch(auth, { redirect: "manual" });
  const location = res.headers.get("location");
  const code = location && new URL(location).searchParams.get("code");
  if (!code) throw new Error(`reference authorize: ${res.status} ${await res.text()}`);
  const tokens = await form(`${url}/token`, {
    grant_type: "authorization_code",
    code,
    redirect_uri: registration.redirect_uris[0],
    code_verifier: verifier,
    client_id: client.client_id,
    resource: `${url}/mcp`,
  });
  return { client, tokens };
}

/** A JSON-RPC answer, whether sent as JSON or as one SSE event. */
async function rpcBody(res) {
  const text = await res.text();
  if ((res.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    const data = text.split("\n").find((l) => l.startsWith("data:"));
    return data ? JSON.parse(data.slice(5)) : undefined;
  }
  return text ? JSON.parse(text) : undefined;
}

/** Opens an MCP session; returns the request autocannon repeats. */
async function mcpSession(url, accessToken) {
  const headers = { authorization: `Bearer ${accessToken}`, "content-type": "application/json", accept: ACCEPT };
  const post = (body, extra = {}) =>
    fetch(`${url}/mcp`, { method: "POST", headers: { ...headers, ...extra }, body: JSON.stringify(body) });
  const init = await post({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: "bench", version: "1" } },
  });
  const initBody = await rpcBody(init);
  if (init.status !== 200 || !initBody?.result) throw new Error(`initialize: ${init.status} ${JSON.stringify(initBody)}`);
  const sid = init.headers.get("mcp-session-id");
  const session = sid ? { "mcp-session-id": sid, "mcp-protocol-version": PROTOCOL } : { "mcp-protocol-version": PROTOCOL };
  const note = await post({ jsonrpc: "2.0", method: "notifications/initialized" }, session);
  await note.arrayBuffer();
  const call = { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "whoami", arguments: {} } };
  const check = await post(call, session);
  const checked = await rpcBody(check);
  if (check.status !== 200 || !checked?.result || checked.result.isError) {
    throw new Error(`tools/call whoami: ${check.status} ${JSON.stringify(checked)}`);
  }
  return { method: "POST", path: "/mcp", headers: { ...headers, ...session }, body: JSON.stringify(call) };
}

async function setup(target, url) {
  if (target === "trivial") return {};
  const { client, tokens } =
    target === "reference" ? await referenceTokens(url) : await obtainTokens(url);
  if (!tokens.refresh_token) throw new Error(`${target}: no refresh token`);
  return { client, refresh: tokens.refresh_token, mcp: await mcpSession(url, tokens.access_token) };
}

// ---------------------------------------------------------------- measuring

/**
 * Load at `cfg.connections` for `cfg.duration` s. Besides rps and latency it
 * records the serving workerd's CPU time per request, which other load on the
 * machine disturbs far less than throughput.
 */
async function load(server, request, settings = cfg) {
  const url = server.url;
  const cpu0 = cpuSeconds(server.workerd);
  const r = await autocannon({
    url: url + request.path,
    method: request.method ?? "GET",
    headers: request.headers,
    body: request.body,
    // A request whose body changes each time (autocannon calls setupRequest per request).
    ...(request.setupRequest ? { requests: [{ method: request.method, path: request.path, headers: request.headers, setupRequest: request.setupRequest }] } : {}),
    connections: settings.connections,
    duration: settings.duration,
  });
  const bad = r.non2xx + r.errors + r.timeouts;
  if (bad > 0) console.error(`  warning: ${url}${request.path}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
  const cpu1 = cpuSeconds(server.workerd);
  const cpuUs = cpu0 === undefined || cpu1 === undefined || !r.requests.total ? undefined : ((cpu1 - cpu0) / r.requests.total) * 1e6;
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, cpuUs, bad };
}

async function refreshP50(url, state) {
  const samples = [];
  for (let i = 0; i < cfg.refreshes; i++) {
    const t = performance.now();
    const body = await form(`${url}/token`, {
      grant_type: "refresh_token",
      refresh_token: state.refresh,
      client_id: state.client.client_id,
    });
    samples.push(performance.now() - t);
    state.refresh = body.refresh_token;
  }
  return median(samples);
}

function median(xs) {
  xs = xs.filter((x) => x !== undefined && !Number.isNaN(x));
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const registerRequest = {
  method: "POST",
  path: "/register",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(registration),
};
// The same registration body each time: this Worker answers it with the client it
// already made (the same public registration is one client), the TypeScript stack
// makes a new client each time.
// A new body each time (another client_name): a new client, one KV write, for both.
let registered = 0;
const registerNewRequest = {
  ...registerRequest,
  setupRequest: (req) => ({ ...req, body: JSON.stringify({ ...registration, client_name: `bench client ${++registered} ${process.pid}` }) }),
};
const metadataRequest = { path: "/.well-known/oauth-authorization-server" };

// ---------------------------------------------------------------- reporting

const fmt = (x, digits = 0) =>
  x === undefined ? "-" : x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function ratio(ours, theirs, higherIsBetter) {
  if (!ours || !theirs) return "-";
  return `${(higherIsBetter ? ours / theirs : theirs / ours).toFixed(2)}x`;
}

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(" | ")} |`;
  return [line(rows[0]), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.slice(1).map(line)].join("\n");
}

const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A grouped bar chart: one group per figure, bars scaled within the group. */
function svgChart(figures, when) {
  const colors = { trivial: "#9aa0a6", reference: "#3178c6", before: "#f0d2b8", worker: "#c0622a" };
  const barW = 46, chartH = 220, top = 70, left = 20;
  const groupW = Math.max(190, Object.keys(TARGETS).length * (barW + 6) + 40);
  const width = left * 2 + groupW * figures.length;
  const height = top + chartH + 90;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="22" font-size="16" font-weight="bold">make bench: this Worker vs the TypeScript stack vs a trivial JS worker</text>`,
    `<text x="${left}" y="42" fill="#555">${esc(when)}. Bars scale within each figure; ${esc("rps: higher is better, ms: lower is better")}.</text>`,
  ];
  Object.entries(TARGETS).forEach(([key, label], i) => {
    const x = left + i * 170;
    parts.push(`<rect x="${x}" y="52" width="12" height="12" fill="${colors[key]}"/><text x="${x + 17}" y="62">${esc(label)}</text>`);
  });
  figures.forEach((f, g) => {
    const present = Object.keys(TARGETS).filter((k) => f.values[k] !== undefined);
    const max = Math.max(...present.map((k) => f.values[k]));
    const x0 = left + g * groupW + (groupW - present.length * (barW + 6)) / 2;
    present.forEach((k, i) => {
      const v = f.values[k];
      const h = max > 0 ? Math.max(1, (v / max) * chartH) : 1;
      const x = x0 + i * (barW + 6);
      const y = top + 12 + chartH - h;
      parts.push(`<rect x="${x}" y="${y}" width="${barW}" height="${h}" fill="${colors[k]}"/>`);
      parts.push(`<text x="${x + barW / 2}" y="${y - 4}" text-anchor="middle" font-size="11">${esc(fmt(v, f.unit === "ms" ? 1 : 0))}</text>`);
    });
    const cx = left + g * groupW + groupW / 2;
    parts.push(`<text x="${cx}" y="${top + chartH + 32}" text-anchor="middle" font-weight="bold">${esc(f.label)}</text>`);
    parts.push(`<text x="${cx}" y="${top + chartH + 48}" text-anchor="middle" fill="#555">${esc(f.unit)}</text>`);
    if (f.values.worker !== undefined && f.values.reference !== undefined) {
      parts.push(`<text x="${cx}" y="${top + chartH + 66}" text-anchor="middle">${esc(`${ratio(f.values.worker, f.values.reference, f.higher)} the TS stack`)}</text>`);
    }
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

// ---------------------------------------------------------------- main

async function main() {
  fs.mkdirSync(work, { recursive: true });
  fs.mkdirSync(results, { recursive: true });
  const ports = {};
  for (const t of Object.keys(ALL_TARGETS)) ports[t] = await freePort();
  const origin = (t) => `http://127.0.0.1:${ports[t]}`;
  const referenceScript = bundleReference(origin("reference"));
  const sizes = bundleSizes(referenceScript);
  console.log(`bench: ${cfg.rounds} round(s) x ${cfg.duration} s, ${cfg.connections} connections, ${cfg.refreshes} sequential refreshes, ${cfg.cold} cold start(s) each`);

  // Cold starts first, each on fresh state and a port of its own, one at a time.
  const cold = Object.fromEntries(Object.keys(TARGETS).map((t) => [t, []]));
  for (let i = 0; i < cfg.cold; i++) {
    for (const t of Object.keys(TARGETS)) {
      const port = await freePort();
      const script = t === "reference" ? bundleReference(`http://127.0.0.1:${port}`) : undefined;
      const s = await serve(t, { port, state: path.join(work, "state", `cold-${t}`), script });
      cold[t].push(s.coldMs);
      await s.stop();
    }
  }
  bundleReference(origin("reference"));

  const servers = {};
  const state = {};
  try {
    for (const t of Object.keys(TARGETS)) {
      servers[t] = await serve(t, { port: ports[t], state: path.join(work, "state", t), script: referenceScript });
      state[t] = await setup(t, servers[t].url);
    }
    const oauthTargets = ["reference", "before", "worker"].filter((t) => TARGETS[t]);
    const runs = { metadata: {}, tools: {}, register: {}, registerNew: {}, refresh: {} };
    for (const t of Object.keys(TARGETS)) for (const k of Object.keys(runs)) runs[k][t] = [];
    // Warm-up, not recorded: the first seconds of any target include JIT
    // compilation and first-use set-up, which would fall on whichever runs first.
    const warm = { ...cfg, duration: Math.min(2, cfg.duration) };
    for (const t of Object.keys(TARGETS)) {
      await load(servers[t], metadataRequest, warm);
      if (state[t].mcp) await load(servers[t], state[t].mcp, warm);
    }
    for (let round = 0; round < cfg.rounds; round++) {
      console.log(`round ${round + 1}/${cfg.rounds}`);
      // Each figure runs the targets back to back, so drift hits all alike.
      // The order of the targets alternates between rounds, so neither
      // always runs first after a pause or last after the others' load.
      const order = (ts) => (round % 2 ? [...ts].reverse() : ts);
      const want = (f) => figuresWanted.includes(f);
      if (want("metadata")) for (const t of order(Object.keys(TARGETS))) runs.metadata[t].push(await load(servers[t], metadataRequest));
      if (want("tools")) for (const t of order(oauthTargets)) runs.tools[t].push(await load(servers[t], state[t].mcp));
      if (want("register")) for (const t of order(oauthTargets)) runs.register[t].push(await load(servers[t], registerRequest));
      if (want("register")) for (const t of order(oauthTargets)) runs.registerNew[t].push(await load(servers[t], registerNewRequest));
      if (want("refresh")) for (const t of order(oauthTargets)) runs.refresh[t].push(await refreshP50(servers[t].url, state[t]));
    }
    const pick = (list, key) => (list.length ? median(list.map((r) => r[key])) : undefined);
    const figures = [
      { key: "metadata", label: "metadata GET", unit: "rps", higher: true, values: {} },
      { key: "metadataCpu", label: "metadata GET CPU", unit: "us/req", higher: false, values: {}, noChart: true },
      { key: "tools", label: "tools/call", unit: "rps", higher: true, values: {} },
      { key: "toolsP50", label: "tools/call p50", unit: "ms", higher: false, values: {} },
      { key: "toolsP99", label: "tools/call p99", unit: "ms", higher: false, values: {} },
      { key: "toolsCpu", label: "tools/call CPU", unit: "us/req", higher: false, values: {}, noChart: true },
      { key: "refresh", label: "refresh p50", unit: "ms", higher: false, values: {} },
      { key: "register", label: "/register, same body", unit: "rps", higher: true, values: {} },
      { key: "registerNew", label: "/register, new client", unit: "rps", higher: true, values: {} },
    ];
    for (const t of Object.keys(TARGETS)) {
      const v = (key) => figures.find((f) => f.key === key).values;
      if (runs.metadata[t].length) {
        v("metadata")[t] = pick(runs.metadata[t], "rps");
        v("metadataCpu")[t] = pick(runs.metadata[t], "cpuUs");
      }
      if (runs.tools[t].length) {
        v("tools")[t] = pick(runs.tools[t], "rps");
        v("toolsP50")[t] = pick(runs.tools[t], "p50");
        v("toolsP99")[t] = pick(runs.tools[t], "p99");
        v("toolsCpu")[t] = pick(runs.tools[t], "cpuUs");
      }
      if (runs.register[t].length) v("register")[t] = pick(runs.register[t], "rps");
      if (runs.registerNew[t].length) v("registerNew")[t] = pick(runs.registerNew[t], "rps");
      if (runs.refresh[t].length) v("refresh")[t] = median(runs.refresh[t]);
    }
    const coldMs = Object.fromEntries(Object.entries(cold).map(([t, xs]) => [t, median(xs)]));

    const cols = Object.keys(TARGETS);
    const rows = [["figure", ...cols.map((t) => TARGETS[t]), "vs TS stack", "vs trivial JS", ...(TARGETS.before ? ["vs before"] : [])]];
    const ratios = (values, higher) => [
      ratio(values.worker, values.reference, higher),
      ratio(values.worker, values.trivial, higher),
      ...(TARGETS.before ? [ratio(values.worker, values.before, higher)] : []),
    ];
    for (const f of figures) {
      const d = f.unit === "ms" ? 1 : 0;
      if (Object.values(f.values).every((x) => x === undefined || Number.isNaN(x))) continue;
      rows.push([`${f.label} (${f.unit})`, ...cols.map((t) => fmt(f.values[t], d)), ...ratios(f.values, f.higher)]);
    }
    rows.push(["cold start (ms)", ...cols.map((t) => fmt(coldMs[t])), ...ratios(coldMs, false)]);
    const kib = (b) => (b === undefined ? "-" : `${(b / 1024).toFixed(0)} KiB`);
    const gz = Object.fromEntries(Object.entries(sizes).map(([t, v]) => [t, v.gzip]));
    const raw = Object.fromEntries(Object.entries(sizes).map(([t, v]) => [t, v.raw]));
    rows.push(["bundle, gzip", ...cols.map((t) => kib(gz[t])), ...ratios(gz, false)]);
    rows.push(["bundle, raw", ...cols.map((t) => kib(raw[t])), ...ratios(raw, false)]);

    const when = `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${cfg.rounds} x ${cfg.duration} s, ${cfg.connections} connections`;
    console.log(`\n${when}; ratios: above 1x means this Worker is better (rps: ours/theirs, ms: theirs/ours)\n`);
    console.log(table(rows));
    const out = { when, config: cfg, figures, coldMs, sizes, runs };
    const name = quick ? "quick" : "latest";
    fs.writeFileSync(path.join(results, `${name}.json`), JSON.stringify(out, null, 2) + "\n");
    fs.writeFileSync(path.join(results, `${name}.svg`), svgChart(figures.filter((f) => !f.noChart), when));
    fs.writeFileSync(path.join(results, `${name}.md`), table(rows) + "\n");
    console.log(`\nwrote bench/results/${name}.json, ${name}.md and ${name}.svg`);
  } finally {
    for (const s of Object.values(servers)) await s.stop();
  }
}

await main();
