//! Test fixtures for the official MCP conformance suite (`@modelcontextprotocol/conformance`):
//! the tools its scenarios call by name (`test_elicitation`, `test_missing_capability`, ...).
//!
//! They are test data, not features: the Worker lists and serves them only with
//! `MCP_CONFORMANCE=on` (as `make test` runs the suite). Off (the default), they are neither
//! listed nor callable.

pub mod input;

use super::tools::{Tool, ToolRegistry};

/// Every fixture tool.
pub fn tools() -> Vec<Tool> {
    input::tools()
}

/// The shipped tools plus, when `on`, the fixtures.
pub fn registry(on: bool) -> ToolRegistry {
    let mut registry = ToolRegistry::default_tools();
    if on {
        for tool in tools() {
            // Fixture names are fixed and distinct; a clash is caught by the tests below.
            let _ = registry.register(tool);
        }
    }
    registry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_register_without_clashes_and_only_when_on() {
        let off = registry(false);
        assert_eq!(off.len(), ToolRegistry::default_tools().len());
        assert!(off.get("test_elicitation").is_none());
        let on = registry(true);
        assert_eq!(on.len(), off.len() + tools().len());
        assert!(on.get("test_missing_capability").is_some());
    }
}
