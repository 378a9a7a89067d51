//! The suite's prompts (scenarios `prompts-*`, `completion-complete`).

use super::super::catalog::Catalog;
use super::super::content::{Content, ResourceContents};
use super::super::prompts::{complete_from, Prompt, PromptGet, PromptMessage, PromptResult};

type Get<'a> = PromptResult<'a>;

pub fn register(c: &mut Catalog) {
    let _ = c.prompts.add(Prompt::new(
        "test_simple_prompt",
        "A prompt without arguments (conformance fixture).",
        simple,
    ));
    let _ = c.prompts.add(
        Prompt::new(
            "test_prompt_with_arguments",
            "A prompt with arguments (conformance fixture).",
            with_arguments,
        )
        .argument("arg1", "First test argument", true)
        .argument("arg2", "Second test argument", true)
        .completer(|_, value| complete_from(&["paris", "park", "party", "test", "testing"], value)),
    );
    let _ = c.prompts.add(
        Prompt::new(
            "test_prompt_with_embedded_resource",
            "A prompt embedding a resource (conformance fixture).",
            embedded,
        )
        .argument("resourceUri", "URI of the resource to embed", true),
    );
    let _ = c.prompts.add(Prompt::new(
        "test_prompt_with_image",
        "A prompt with an image (conformance fixture).",
        image,
    ));
}

fn simple<'a>(_: &'a PromptGet<'a>) -> Get<'a> {
    Box::pin(async {
        Ok((
            None,
            vec![PromptMessage::user(Content::text(
                "This is a simple prompt for testing.",
            ))],
        ))
    })
}

fn with_arguments<'a>(g: &'a PromptGet<'a>) -> Get<'a> {
    Box::pin(async move {
        let (a, b) = (
            g.arg("arg1").unwrap_or_default(),
            g.arg("arg2").unwrap_or_default(),
        );
        Ok((
            None,
            vec![PromptMessage::user(Content::text(format!(
                "Prompt with arguments: arg1='{a}', arg2='{b}'"
            )))],
        ))
    })
}

fn embedded<'a>(g: &'a PromptGet<'a>) -> Get<'a> {
    Box::pin(async move {
        let uri = g.arg("resourceUri").unwrap_or_default();
        Ok((
            None,
            vec![
                PromptMessage::user(Content::Resource(ResourceContents::text(
                    uri,
                    "text/plain",
                    "Embedded resource content for testing.",
                ))),
                PromptMessage::user(Content::text("Please process the embedded resource above.")),
            ],
        ))
    })
}

fn image<'a>(_: &'a PromptGet<'a>) -> Get<'a> {
    Box::pin(async {
        Ok((
            None,
            vec![
                PromptMessage::user(Content::Image {
                    data: super::png(),
                    mime_type: "image/png".into(),
                }),
                PromptMessage::user(Content::text("Please analyze the image above.")),
            ],
        ))
    })
}
