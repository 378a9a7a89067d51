#!/usr/bin/env node
// Renders docs/clients.md and the README's client paragraph from the client
// fixtures (e2e/clients/*.json), so neither can drift from what the
// compatibility suite (e2e/clients.test.mjs) runs.
//
//   node scripts/clients-doc.mjs           write both
//   node scripts/clients-doc.mjs --check   exit 1 when a committed file differs
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const FIXTURES = path.join(root, "e2e", "clients");
const DOC = path.join(root, "docs", "clients.md");
const README = path.join(root, "README.md");
const BEGIN = "<!-- clients:begin (rendered by scripts/clients-doc.mjs from e2e/clients/) -->";
const END = "<!-- clients:end -->";

/** Every fixture, in file-name order. */
export function loadFixtures() {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({ file: f, ...JSON.parse(readFileSync(path.join(FIXTURES, f), "utf8")) }));
}

const cell = (s) => String(s).replaceAll("|", "\\|").replaceAll("\n", " ");

function registers(f) {
  switch (f.registers) {
    case "cimd": return `metadata document \`${f.document.client_id}\``;
    case "dcr": return "dynamic registration (`POST /register`)";
    case "admin": return "client made by the operator (`POST /admin/clients`)";
    default: throw new Error(`${f.file}: unknown registers '${f.registers}'`);
  }
}

function habits(f) {
  const parts = [`redirect \`${f.redirect}\``, `auth \`${f.auth}\``];
  if (f.scope) parts.push(`scope \`${f.scope === "$scopes_supported" ? "every scopes_supported value" : f.scope}\``);
  const omitted = ["token", "refresh"].filter((k) => !f.resource[k]);
  if (omitted.length) parts.push(`no \`resource\` at ${omitted.join(" and ")}`);
  parts.push(f.refresh === "reauthorize" ? "re-authorizes rather than refreshing" : "refreshes");
  if (f.unconfirmed?.length) parts.push(`not confirmed from the sources: ${f.unconfirmed.join(", ")}`);
  return parts.join("; ");
}

const status = (f) => (f.expect === "connects" ? "connects (tested)" : "refused on purpose (tested)");

export function renderDoc(fixtures) {
  const rows = fixtures.map((f) => `| ${cell(f.name)} | ${cell(registers(f))} | ${cell(f.needs)} | ${cell(habits(f))} | ${status(f)} | ${f.sources.map((s) => `<${s}>`).join(" ")} |`);
  return `# MCP clients

<!-- Rendered by scripts/clients-doc.mjs from e2e/clients/*.json: edit the fixtures, then run it. -->

Each row is a fixture in \`e2e/clients/\` that records what the client really sends (its
metadata document or registration body, its redirect URI, its authentication at \`/token\`,
its scope and \`resource\` habits, its refresh habit), taken from the sources listed;
what could not be confirmed from them is said in the row.
\`make test\` runs every fixture through the built Worker in workerd
(\`e2e/clients.test.mjs\`): registration, \`/authorize\`, consent and sign-in, the code
exchange, a tool call with the MCP TypeScript SDK, and the client's refresh habit. A test
checks that this page is what the fixtures render.

${fixtures.filter((f) => f.expect === "connects").length} of ${fixtures.length} clients connect; ${fixtures.filter((f) => f.expect !== "connects").map((f) => f.name).join(", ")} is refused on purpose.

| client | how it registers | what it needs | what it sends | status | sources |
|---|---|---|---|---|---|
${rows.join("\n")}

## Admitting and refusing clients

- \`CLIENT_POLICY=listed\` with \`ALLOWED_CLIENTS\` admits only the listed metadata-document
  clients (exact \`client_id\` URLs, or patterns such as \`https://chatgpt.com/oauth/*\`);
  \`REGISTRATION=off\` closes \`/register\`. A refused client's user sees this server's own
  page naming the client; the operator sees one log line per refusal.
- The block list (\`scripts/admin.sh block client_id|document_url|document_host <value>\`)
  outlives re-registration: a public client registering the same metadata gets the same
  id, which stays blocked.
- Clients that can neither register nor publish a document (Gemini Enterprise) get a
  client made by the operator: see docs/mcp.md.
`;
}

export function renderReadmeBlock(fixtures) {
  const ok = fixtures.filter((f) => f.expect === "connects").map((f) => f.name);
  const refused = fixtures.filter((f) => f.expect !== "connects").map((f) => f.name);
  return `${BEGIN}
The client compatibility suite runs ${fixtures.length} clients, each from a fixture of what
it really sends, through to a tool call and a refresh: ${ok.join(", ")} connect;
${refused.join(", ")} (an appended redirect query) is refused on purpose. The table, with
what each client needs and its sources, is in [docs/clients.md](docs/clients.md).
${END}`;
}

function readmeWith(readme, block) {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${BEGIN} ... ${END} block`);
  return readme.slice(0, start) + block + readme.slice(end + END.length);
}

function main() {
  const fixtures = loadFixtures();
  const doc = renderDoc(fixtures);
  const readme = readFileSync(README, "utf8");
  const newReadme = readmeWith(readme, renderReadmeBlock(fixtures));
  if (process.argv.includes("--check")) {
    const stale = [];
    let current = "";
    try { current = readFileSync(DOC, "utf8"); } catch { /* missing counts as stale */ }
    if (current !== doc) stale.push("docs/clients.md");
    if (readme !== newReadme) stale.push("README.md (client paragraph)");
    if (stale.length) {
      console.error(`${stale.join(" and ")} differ from e2e/clients/*.json: run node scripts/clients-doc.mjs`);
      process.exit(1);
    }
    console.log(`docs/clients.md and README.md are up to date with ${fixtures.length} fixtures`);
    return;
  }
  writeFileSync(DOC, doc);
  writeFileSync(README, newReadme);
  console.log(`wrote docs/clients.md and README.md from ${fixtures.length} fixtures`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
