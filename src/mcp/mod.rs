//! The MCP server (Streamable HTTP), pure: no `worker` types.
