//! The route table: which paths exist, which methods each accepts, and how large
//! a body each may carry. Pure, so the 404/405/413 rules are tested natively.

use crate::http::HttpError;

/// Every endpoint the Worker serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
}

/// Bodies larger than this are refused before they are read, on every route.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

struct Entry {
    path: &'static str,
    route: Route,
    methods: &'static [&'static str],
    body_limit: usize,
}

const TABLE: &[Entry] = &[Entry {
    path: "/health",
    route: Route::Health,
    methods: &["GET", "HEAD"],
    body_limit: 0,
}];

/// A request matched to a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched {
    pub route: Route,
    /// Largest body, in bytes, this route accepts.
    pub body_limit: usize,
}

/// Finds the route for `method` and `path`.
pub fn resolve(method: &str, path: &str) -> Result<Matched, HttpError> {
    let entry = TABLE
        .iter()
        .find(|e| e.path == path)
        .ok_or_else(|| HttpError::NotFound {
            path: path.chars().take(200).collect(),
        })?;
    if !entry.methods.contains(&method) {
        return Err(HttpError::MethodNotAllowed {
            method: method.to_owned(),
            allow: entry.methods,
        });
    }
    Ok(Matched {
        route: entry.route,
        body_limit: entry.body_limit,
    })
}

/// Checks a declared or measured body length against the route's limit.
pub fn check_body_len(matched: &Matched, len: usize) -> Result<(), HttpError> {
    if len > matched.body_limit {
        return Err(HttpError::PayloadTooLarge {
            limit: matched.body_limit,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_answers_get_and_head() {
        assert_eq!(resolve("GET", "/health").unwrap().route, Route::Health);
        assert_eq!(resolve("HEAD", "/health").unwrap().route, Route::Health);
    }

    #[test]
    fn unknown_paths_are_not_found() {
        assert!(matches!(
            resolve("GET", "/nope"),
            Err(HttpError::NotFound { .. })
        ));
        assert!(matches!(
            resolve("GET", "/health/"),
            Err(HttpError::NotFound { .. })
        ));
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        match resolve("POST", "/health") {
            Err(HttpError::MethodNotAllowed { allow, .. }) => assert_eq!(allow, &["GET", "HEAD"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bodies_over_the_route_limit_are_refused() {
        let m = resolve("GET", "/health").unwrap();
        assert!(check_body_len(&m, 0).is_ok());
        assert!(matches!(
            check_body_len(&m, 1),
            Err(HttpError::PayloadTooLarge { limit: 0 })
        ));
    }
}
