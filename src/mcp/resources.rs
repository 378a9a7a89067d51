//! Resources: what a resource and a resource template are, the registry the server lists and
//! reads, and RFC 6570 matching of template URIs.
//!
//! Spec sections: "Server Features: Resources" (`resources/list` with pagination,
//! `resources/read`, `resources/templates/list`, subscriptions, error handling: -32002 before
//! 2026-07-28, -32602 with the `uri` in `data` from 2026-07-28 on, SEP-2164).
//!
//! Templates are RFC 6570 level 1 (`{name}` expressions): on read, each expression matches one
//! or more characters other than `/`, `?` and `#`, so `user://repo/{owner}/{name}` matches
//! `user://repo/octo/hello` with `owner = octo`. Operators (`{+x}`, `{?x}`, ...) are not
//! accepted at registration.

use super::content::ResourceContents;
use super::jsonrpc::ErrorObject;
use super::notes::Notes;
use super::tools::ToolEnv;
use crate::outbound::LocalBoxFuture;
use crate::user::UserContext;
use serde_json::{json, Map, Value};

/// A read of one URI: the URI, the template's variables (empty for a direct resource), the
/// caller and the environment.
pub struct ResourceRead<'a> {
    pub uri: &'a str,
    pub vars: &'a [(String, String)],
    pub user: &'a UserContext,
    pub env: &'a ToolEnv<'a>,
    pub notes: &'a Notes,
}

impl ResourceRead<'_> {
    /// The value of template variable `name`.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a resource. `Err` is a protocol error (for example -32602 for a URI the template
/// matches but names nothing).
pub type ResourceReader =
    for<'a> fn(
        &'a ResourceRead<'a>,
    ) -> LocalBoxFuture<'a, Result<Vec<ResourceContents>, ErrorObject>>;

/// Completes a template variable: (variable, partial value) -> suggestions.
pub type Completer = fn(&str, &str) -> Vec<String>;

/// A resource with a fixed URI.
#[derive(Clone)]
pub struct Resource {
    pub uri: String,
    pub name: String,
    pub title: Option<String>,
    pub description: String,
    pub mime_type: Option<String>,
    pub reader: ResourceReader,
}

impl Resource {
    pub fn new(uri: &str, name: &str, description: &str, reader: ResourceReader) -> Resource {
        Resource {
            uri: uri.into(),
            name: name.into(),
            title: None,
            description: description.into(),
            mime_type: None,
            reader,
        }
    }

    pub fn mime_type(mut self, mime: &str) -> Resource {
        self.mime_type = Some(mime.into());
        self
    }

    pub fn title(mut self, title: &str) -> Resource {
        self.title = Some(title.into());
        self
    }

    fn descriptor(&self) -> Value {
        let named = ("uri", self.uri.as_str());
        descriptor(
            named,
            &self.name,
            &self.title,
            &self.description,
            &self.mime_type,
        )
    }
}

/// The listed form of a resource or a template: they differ only in the key
/// that names them (`uri` or `uriTemplate`).
fn descriptor(
    (key, value): (&str, &str),
    name: &str,
    title: &Option<String>,
    description: &str,
    mime_type: &Option<String>,
) -> Value {
    let mut d = Map::new();
    d.insert(key.into(), json!(value));
    d.insert("name".into(), json!(name));
    if let Some(t) = title {
        d.insert("title".into(), json!(t));
    }
    d.insert("description".into(), json!(description));
    if let Some(m) = mime_type {
        d.insert("mimeType".into(), json!(m));
    }
    Value::Object(d)
}

/// A family of resources named by an RFC 6570 URI template.
#[derive(Clone)]
pub struct ResourceTemplate {
    pub uri_template: String,
    pub name: String,
    pub title: Option<String>,
    pub description: String,
    pub mime_type: Option<String>,
    pub reader: ResourceReader,
    /// Suggestions for `completion/complete` with a `ref/resource` to this template.
    pub completer: Option<Completer>,
}

impl ResourceTemplate {
    pub fn new(
        uri_template: &str,
        name: &str,
        description: &str,
        reader: ResourceReader,
    ) -> ResourceTemplate {
        ResourceTemplate {
            uri_template: uri_template.into(),
            name: name.into(),
            title: None,
            description: description.into(),
            mime_type: None,
            reader,
            completer: None,
        }
    }

    pub fn mime_type(mut self, mime: &str) -> ResourceTemplate {
        self.mime_type = Some(mime.into());
        self
    }

    pub fn completer(mut self, completer: Completer) -> ResourceTemplate {
        self.completer = Some(completer);
        self
    }

    fn descriptor(&self) -> Value {
        let named = ("uriTemplate", self.uri_template.as_str());
        descriptor(
            named,
            &self.name,
            &self.title,
            &self.description,
            &self.mime_type,
        )
    }

    /// The variables of `uri` if it matches this template.
    pub fn matches(&self, uri: &str) -> Option<Vec<(String, String)>> {
        match_template(&self.uri_template, uri)
    }

    /// The variable names, in order.
    pub fn variables(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = self.uri_template.as_str();
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            out.push(&rest[open + 1..open + close]);
            rest = &rest[open + close + 1..];
        }
        out
    }
}

/// RFC 6570 level 1 matching (see the module docs). `None` when `uri` does not match.
pub fn match_template(template: &str, uri: &str) -> Option<Vec<(String, String)>> {
    let mut vars = Vec::new();
    let (mut t, mut u) = (template, uri);
    loop {
        match t.find('{') {
            None => return (t == u).then_some(vars),
            Some(open) => {
                u = u.strip_prefix(&t[..open])?;
                let close = open + t[open..].find('}')?;
                let name = &t[open + 1..close];
                t = &t[close + 1..];
                // The value runs to the next literal character of the template (or the end).
                let stop = t.chars().next();
                let end = u
                    .char_indices()
                    .find(|&(_, c)| Some(c) == stop || matches!(c, '/' | '?' | '#'))
                    .map_or(u.len(), |(i, _)| i);
                if end == 0 {
                    return None;
                }
                vars.push((name.to_owned(), u[..end].to_owned()));
                u = &u[end..];
            }
        }
    }
}

/// A well-formed level-1 template: balanced braces, names of `A-Z a-z 0-9 _`.
fn template_ok(template: &str) -> bool {
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return false;
        }
        let Some(close) = rest[open..].find('}') else {
            return false;
        };
        let name = &rest[open + 1..open + close];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return false;
        }
        rest = &rest[open + close + 1..];
    }
    true
}

/// Why a resource could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("a resource or template with URI {0} is already registered")]
    Duplicate(String),
    #[error("{0:?} is not an RFC 6570 level 1 template ({{name}} expressions only)")]
    BadTemplate(String),
}

/// The resources and templates this server offers, in registration order.
#[derive(Clone, Default)]
pub struct ResourceRegistry {
    resources: Vec<Resource>,
    templates: Vec<ResourceTemplate>,
}

/// What a read found.
pub enum Found<'r> {
    Resource(&'r Resource),
    Template(&'r ResourceTemplate, Vec<(String, String)>),
}

impl ResourceRegistry {
    pub fn add(&mut self, resource: Resource) -> Result<&mut Self, ResourceError> {
        if self.resources.iter().any(|r| r.uri == resource.uri) {
            return Err(ResourceError::Duplicate(resource.uri));
        }
        self.resources.push(resource);
        Ok(self)
    }

    pub fn add_template(&mut self, template: ResourceTemplate) -> Result<&mut Self, ResourceError> {
        if !template_ok(&template.uri_template) {
            return Err(ResourceError::BadTemplate(template.uri_template));
        }
        if self
            .templates
            .iter()
            .any(|t| t.uri_template == template.uri_template)
        {
            return Err(ResourceError::Duplicate(template.uri_template));
        }
        self.templates.push(template);
        Ok(self)
    }

    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    pub fn templates(&self) -> &[ResourceTemplate] {
        &self.templates
    }

    pub fn descriptors(&self) -> Vec<Value> {
        self.resources.iter().map(Resource::descriptor).collect()
    }

    pub fn template_descriptors(&self) -> Vec<Value> {
        self.templates
            .iter()
            .map(ResourceTemplate::descriptor)
            .collect()
    }

    /// The resource or template answering `uri`: a direct resource first, then the first
    /// template that matches.
    pub fn find(&self, uri: &str) -> Option<Found<'_>> {
        if let Some(r) = self.resources.iter().find(|r| r.uri == uri) {
            return Some(Found::Resource(r));
        }
        self.templates
            .iter()
            .find_map(|t| t.matches(uri).map(|vars| Found::Template(t, vars)))
    }

    pub fn template(&self, uri_template: &str) -> Option<&ResourceTemplate> {
        self.templates
            .iter()
            .find(|t| t.uri_template == uri_template)
    }

    /// Whether `uri` names something this registry can read.
    pub fn knows(&self, uri: &str) -> bool {
        self.find(uri).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn level_one_templates_match_one_segment_per_expression() {
        assert_eq!(
            match_template("test://template/{id}/data", "test://template/123/data"),
            Some(vars(&[("id", "123")]))
        );
        assert_eq!(
            match_template("repo://{owner}/{name}", "repo://octo/hello"),
            Some(vars(&[("owner", "octo"), ("name", "hello")]))
        );
        assert_eq!(
            match_template("test://template/{id}/data", "test://template//data"),
            None
        );
        assert_eq!(
            match_template("test://template/{id}/data", "test://template/1/2/data"),
            None
        );
        assert_eq!(
            match_template("test://template/{id}/data", "test://template/1/datax"),
            None
        );
        assert_eq!(match_template("a://{x}", "b://y"), None);
        assert_eq!(match_template("a://fixed", "a://fixed"), Some(vec![]));
    }

    #[test]
    fn only_level_one_templates_register() {
        for bad in ["a://{+x}", "a://{x", "a://x}", "a://{}", "a://{?q}"] {
            assert!(!template_ok(bad), "{bad}");
        }
        assert!(template_ok("a://{x}/{y_2}"));
    }
}
