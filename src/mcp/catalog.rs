//! Everything the MCP server offers: tools, resources (and templates), prompts. Built once
//! per isolate by the shell with `Catalog::build`, which the conformance module defines
//! (it adds that suite's fixtures only when `MCP_CONFORMANCE=on`), so this file knows only
//! the shipped content.
//!
//! # Adding a tool, resource or prompt
//!
//! One file with a constructor (`pub fn tool() -> Tool`, `-> Resource`,
//! `-> ResourceTemplate`, `-> Prompt`), and one line in [`Catalog::shipped`]. See
//! docs/mcp.md "Add your own tool, resource or prompt".

use super::prompts::PromptRegistry;
use super::resources::ResourceRegistry;
use super::tools::ToolRegistry;

/// What `tools/list`, `resources/list`, `resources/templates/list` and `prompts/list` show.
#[derive(Clone, Default)]
pub struct Catalog {
    pub tools: ToolRegistry,
    pub resources: ResourceRegistry,
    pub prompts: PromptRegistry,
}

impl Catalog {
    /// The shipped tools, resources and prompts.
    pub fn shipped() -> Catalog {
        let mut c = Catalog {
            tools: ToolRegistry::default_tools(),
            ..Catalog::default()
        };
        // Known-good; tests check every registration succeeds.
        let _ = c.resources.add(super::account::profile_resource());
        let _ = c
            .resources
            .add_template(super::account::profile_field_template());
        let _ = c.prompts.add(super::account::review_prompt());
        c
    }

    /// Tools only (the tests of the tool layer).
    pub fn from_tools(tools: ToolRegistry) -> Catalog {
        Catalog {
            tools,
            ..Catalog::default()
        }
    }
}
