//! Content blocks of tool results and prompt messages, and the contents of a resource.
//!
//! Spec sections: "Server Features: Tools" (Tool Result: text, image, audio, resource links,
//! embedded resources), "Server Features: Prompts" (PromptMessage), "Server Features:
//! Resources" (TextResourceContents, BlobResourceContents). Binary data is base64 (RFC 4648
//! §4, with padding), as the schema's `byte` format asks.

use base64::Engine;
use serde_json::{json, Map, Value};

/// One content block.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text(String),
    /// Raw image bytes and their MIME type (`image/png`, ...).
    Image {
        data: Vec<u8>,
        mime_type: String,
    },
    /// Raw audio bytes and their MIME type (`audio/wav`, ...).
    Audio {
        data: Vec<u8>,
        mime_type: String,
    },
    /// A link to a resource the client may read (`resource_link`, 2025-06-18 and later).
    ResourceLink {
        uri: String,
        name: String,
        mime_type: Option<String>,
        description: Option<String>,
    },
    /// A resource's contents, embedded.
    Resource(ResourceContents),
}

impl Content {
    pub fn text(text: impl Into<String>) -> Content {
        Content::Text(text.into())
    }

    pub fn to_value(&self) -> Value {
        match self {
            Content::Text(text) => json!({"type": "text", "text": text}),
            Content::Image { data, mime_type } => {
                json!({"type": "image", "data": b64(data), "mimeType": mime_type})
            }
            Content::Audio { data, mime_type } => {
                json!({"type": "audio", "data": b64(data), "mimeType": mime_type})
            }
            Content::ResourceLink {
                uri,
                name,
                mime_type,
                description,
            } => {
                let mut m = Map::new();
                m.insert("type".into(), json!("resource_link"));
                m.insert("uri".into(), json!(uri));
                m.insert("name".into(), json!(name));
                if let Some(mime) = mime_type {
                    m.insert("mimeType".into(), json!(mime));
                }
                if let Some(d) = description {
                    m.insert("description".into(), json!(d));
                }
                Value::Object(m)
            }
            Content::Resource(contents) => {
                json!({"type": "resource", "resource": contents.to_value()})
            }
        }
    }
}

/// What `resources/read` returns for one URI: text or bytes (`blob`).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceContents {
    pub uri: String,
    pub mime_type: Option<String>,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Text(String),
    Blob(Vec<u8>),
}

impl ResourceContents {
    pub fn text(uri: impl Into<String>, mime_type: &str, text: impl Into<String>) -> Self {
        ResourceContents {
            uri: uri.into(),
            mime_type: Some(mime_type.to_owned()),
            body: Body::Text(text.into()),
        }
    }

    pub fn blob(uri: impl Into<String>, mime_type: &str, bytes: Vec<u8>) -> Self {
        ResourceContents {
            uri: uri.into(),
            mime_type: Some(mime_type.to_owned()),
            body: Body::Blob(bytes),
        }
    }

    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("uri".into(), json!(self.uri));
        if let Some(mime) = &self.mime_type {
            m.insert("mimeType".into(), json!(mime));
        }
        match &self.body {
            Body::Text(t) => m.insert("text".into(), json!(t)),
            Body::Blob(b) => m.insert("blob".into(), json!(b64(b))),
        };
        Value::Object(m)
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_the_schema_shape() {
        assert_eq!(
            Content::Image {
                data: vec![1, 2, 3],
                mime_type: "image/png".into()
            }
            .to_value(),
            json!({"type": "image", "data": "AQID", "mimeType": "image/png"})
        );
        assert_eq!(
            Content::Audio {
                data: vec![0xff],
                mime_type: "audio/wav".into()
            }
            .to_value()["data"],
            "/w=="
        );
        let link = Content::ResourceLink {
            uri: "user://profile".into(),
            name: "profile".into(),
            mime_type: None,
            description: None,
        };
        assert_eq!(
            link.to_value(),
            json!({"type": "resource_link", "uri": "user://profile", "name": "profile"})
        );
        let embedded = Content::Resource(ResourceContents::blob("a://b", "image/png", vec![0]));
        assert_eq!(
            embedded.to_value(),
            json!({"type": "resource", "resource": {"uri": "a://b", "mimeType": "image/png", "blob": "AA=="}})
        );
    }
}
