// The reference for `make bench`: the TypeScript stack this project measures
// itself against, built only from the public npm packages
// (@cloudflare/workers-oauth-provider for the authorization server, agents'
// McpAgent with the MCP SDK for the server at /mcp). It serves the same
// `whoami` tool. /authorize approves at once as a fixed user: the bench
// measures the token, registration, metadata and MCP endpoints, not a page.
// Bundled offline by bench/run.mjs with the esbuild that wrangler brings.
import { OAuthProvider } from "@cloudflare/workers-oauth-provider";
import { McpAgent } from "agents/mcp";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";

export class ReferenceMcp extends McpAgent {
  server = new McpServer({ name: "reference", version: "1.0.0" });

  async init() {
    this.server.registerTool(
      "whoami",
      { title: "Who am I", description: "Shows the signed-in user and the scopes of the token." },
      async () => {
        const user = this.props ?? {};
        return {
          content: [{ type: "text", text: `You are ${user.login} (${user.id}), signed in with ${user.provider}.` }],
          structuredContent: user,
        };
      },
    );
  }
}

const authorize = {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname !== "/authorize") return new Response("not found", { status: 404 });
    const oauth = env.OAUTH_PROVIDER;
    const req = await oauth.parseAuthRequest(request);
    const user = { id: "dev-ada", login: "ada", provider: "dev", email: "ada@example.com" };
    const { redirectTo } = await oauth.completeAuthorization({
      request: req,
      userId: user.id,
      metadata: {},
      scope: req.scope,
      props: user,
    });
    return Response.redirect(redirectTo, 302);
  },
};

// The origin the bench serves this Worker on; the library wants its resource
// URL at construction time, so bench/run.mjs passes it to esbuild as a define.
const ORIGIN = typeof BENCH_ORIGIN === "string" ? BENCH_ORIGIN : "http://127.0.0.1:8788";

export default new OAuthProvider({
  apiRoute: "/mcp",
  apiHandler: ReferenceMcp.serve("/mcp", { binding: "MCP_OBJECT" }),
  defaultHandler: authorize,
  authorizeEndpoint: "/authorize",
  tokenEndpoint: "/token",
  clientRegistrationEndpoint: "/register",
  scopesSupported: ["mcp"],
  resourceMetadata: { resource: `${ORIGIN}/mcp`, authorization_servers: [ORIGIN] },
});
