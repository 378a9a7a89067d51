//! Test fixtures of the official MCP conformance suite (`@modelcontextprotocol/conformance`):
//! the tools, resources and prompts its server scenarios call by name (`test_simple_text`,
//! `test://static-text`, `test_prompt_with_arguments`, ...). They are not features of this
//! server: they exist so `make test` can run every scenario against the real Worker.
//!
//! Off unless `MCP_CONFORMANCE=on` (config `mcp_conformance`): then they are neither listed
//! nor callable, because [`register`] never runs and the catalog does not hold them. The
//! builder of the catalog the server runs with, [`Catalog::build`], is here: the catalog
//! itself knows only the shipped content, and the fixtures register themselves into it.
//!
//! One file per group, each with a `pub fn register(&mut Catalog)`; a group is added by one
//! line in the `groups!` list below (its module and its registration).

use super::catalog::Catalog;

/// Declares each group's module and registers the groups in order.
macro_rules! groups {
    ($($group:ident,)*) => {
        $(mod $group;)*

        /// Adds every fixture group to `catalog`.
        pub fn register(catalog: &mut Catalog) {
            $($group::register(catalog);)*
        }
    };
}

groups! {
    tools,
    resources,
    prompts,
    input,
}

impl Catalog {
    /// The shipped content, plus the conformance fixtures when `conformance` is true.
    pub fn build(conformance: bool) -> Catalog {
        let mut c = Catalog::shipped();
        if conformance {
            register(&mut c);
        }
        c
    }
}

/// A 1x1 red PNG.
pub(crate) fn png() -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
        .unwrap_or_default()
}

/// A short silent WAV (8 kHz, 8-bit mono, 8 samples).
pub(crate) fn wav() -> Vec<u8> {
    let samples = [128u8; 8];
    let mut w = Vec::with_capacity(44 + samples.len());
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + samples.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // mono
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&8000u32.to_le_bytes()); // bytes per second
    w.extend_from_slice(&1u16.to_le_bytes()); // block align
    w.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    w.extend_from_slice(&samples);
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_registers_and_none_is_in_the_shipped_catalog() {
        let shipped = Catalog::shipped();
        let full = Catalog::build(true);
        assert!(full.tools.len() >= shipped.tools.len() + 10);
        assert!(full.resources.resources().len() >= 3);
        assert!(full.prompts.prompts().len() >= 4);
        let names = |c: &Catalog| -> Vec<String> {
            c.tools
                .tools()
                .iter()
                .map(|t| t.name.clone())
                .chain(c.resources.resources().iter().map(|r| r.uri.clone()))
                .chain(
                    c.resources
                        .templates()
                        .iter()
                        .map(|t| t.uri_template.clone()),
                )
                .chain(c.prompts.prompts().iter().map(|p| p.name.clone()))
                .collect()
        };
        for name in names(&Catalog::build(false)) {
            assert!(
                !name.starts_with("test") && !name.starts_with("json_schema"),
                "{name} is shipped"
            );
        }
        assert_eq!(names(&Catalog::build(false)), names(&shipped));
        assert_eq!(&png()[1..4], b"PNG");
        assert_eq!(&wav()[..4], b"RIFF");
        assert!(full.tools.get("test_missing_capability").is_some());
        assert!(shipped.tools.get("test_elicitation").is_none());
    }
}
