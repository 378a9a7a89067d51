//! The suite's resources (scenarios `resources-*`, `sep-2164-resource-not-found`).

use super::super::catalog::Catalog;
use super::super::content::ResourceContents;
use super::super::jsonrpc::ErrorObject;
use super::super::resources::{Resource, ResourceRead, ResourceTemplate};
use crate::outbound::LocalBoxFuture;

type Read<'a> = LocalBoxFuture<'a, Result<Vec<ResourceContents>, ErrorObject>>;

pub fn register(c: &mut Catalog) {
    let _ = c.resources.add(
        Resource::new(
            "test://static-text",
            "static-text",
            "A text resource (conformance fixture).",
            static_text,
        )
        .mime_type("text/plain"),
    );
    let _ = c.resources.add(
        Resource::new(
            "test://static-binary",
            "static-binary",
            "A binary resource (conformance fixture).",
            static_binary,
        )
        .mime_type("image/png"),
    );
    let _ = c.resources.add(
        Resource::new(
            "test://watched-resource",
            "watched-resource",
            "A resource to subscribe to (conformance fixture).",
            watched,
        )
        .mime_type("text/plain"),
    );
    let _ = c.resources.add_template(
        ResourceTemplate::new(
            "test://template/{id}/data",
            "template",
            "A templated resource (conformance fixture).",
            template,
        )
        .mime_type("application/json")
        .completer(|_, value| vec![format!("{value}1"), format!("{value}2")]),
    );
}

fn static_text<'a>(r: &'a ResourceRead<'a>) -> Read<'a> {
    Box::pin(async move {
        Ok(vec![ResourceContents::text(
            r.uri,
            "text/plain",
            "This is the content of the static text resource.",
        )])
    })
}

fn static_binary<'a>(r: &'a ResourceRead<'a>) -> Read<'a> {
    Box::pin(async move {
        Ok(vec![ResourceContents::blob(
            r.uri,
            "image/png",
            super::png(),
        )])
    })
}

fn watched<'a>(r: &'a ResourceRead<'a>) -> Read<'a> {
    Box::pin(async move {
        Ok(vec![ResourceContents::text(
            r.uri,
            "text/plain",
            "Watched resource content.",
        )])
    })
}

fn template<'a>(r: &'a ResourceRead<'a>) -> Read<'a> {
    Box::pin(async move {
        let id = r.var("id").unwrap_or_default();
        let text = serde_json::json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")});
        Ok(vec![ResourceContents::text(
            r.uri,
            "application/json",
            text.to_string(),
        )])
    })
}
