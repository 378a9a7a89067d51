//! The OAuth 2.1 authorization server, pure: no `worker` types.
