//! The layering of `src/`, read from the source itself (docs/architecture.md):
//!
//! - only `src/cloudflare/` names the Workers runtime (`worker`, `js_sys`,
//!   `web_sys`); everything else is plain Rust that native tests run;
//! - `src/web/` and `src/mcp/` take from `src/oauth/` only the view types listed
//!   in [`OAUTH_VIEWS`], never a flow, a store or a grant;
//! - no two files import each other, directly or around a circle.
//!
//! A failure names the file, the line and the import. The checker runs over an
//! in-memory tree, so the last tests below hold it against small trees that
//! break each rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What `src/web/` and `src/mcp/` may import from `src/oauth/`: plain data made
/// for showing, with no behaviour of the authorization server behind it.
const OAUTH_VIEWS: &[&str] = &[
    "crate::oauth::view::ConnectionView",
    "crate::oauth::view::ConnectionsView",
];

/// Crates of the Workers runtime, allowed only in `src/cloudflare/`.
const RUNTIME_CRATES: &[&str] = &["worker", "js_sys", "web_sys"];

/// A source tree: path relative to `src/` (`oauth/flow.rs`) to its text.
type Tree = BTreeMap<String, String>;

/// One import found in a file.
#[derive(Debug, Clone)]
struct Import {
    line: usize,
    /// The path as written, made absolute (`crate::oauth::flow::Site`).
    path: Vec<String>,
}

fn read_src() -> Tree {
    fn walk(dir: &Path, root: &Path, out: &mut Tree) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let rel = path.strip_prefix(root).expect("under src");
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
                out.insert(rel.to_string_lossy().replace('\\', "/"), text);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut tree = Tree::new();
    walk(&root, &root, &mut tree);
    tree
}

/// The code of a file without comments, string contents and `#[cfg(test)]`
/// items (unit tests may reach anywhere). Line breaks are kept, so line
/// numbers stay true.
fn code_of(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            i += end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |e| e + 2);
            out.extend(rest[..end].chars().filter(|&c| c == '\n'));
            i += end;
        } else if rest.starts_with("r#\"") || rest.starts_with("r\"") {
            let hashes = rest[1..].chars().take_while(|&c| c == '#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let body = &rest[2 + hashes..];
            let end = body
                .find(&close)
                .map_or(rest.len(), |e| 2 + hashes + e + close.len());
            out.push_str("\"\"");
            out.extend(rest[..end].chars().filter(|&c| c == '\n'));
            i += end;
        } else if rest.starts_with('"') {
            let mut j = 1;
            let b = rest.as_bytes();
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(rest.len());
            out.push_str("\"\"");
            out.extend(rest[..end].chars().filter(|&c| c == '\n'));
            i += end;
        } else if rest.starts_with("'") && rest.len() > 2 && {
            // A char literal ('a', '\n', '"'), not a lifetime ('a).
            let b = rest.as_bytes();
            b[1] == b'\\' || b.get(2) == Some(&b'\'')
        } {
            let b = rest.as_bytes();
            let end = if b[1] == b'\\' {
                rest[2..].find('\'').map_or(rest.len(), |e| e + 3)
            } else {
                3
            };
            out.push_str("' '");
            i += end;
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            i += c.len_utf8();
        }
    }
    drop_test_items(&out)
}

/// Blanks every item under `#[cfg(test)]` (keeping its line breaks).
fn drop_test_items(code: &str) -> String {
    let mut out = code.to_owned();
    while let Some(at) = out.find("#[cfg(test)]") {
        let after = at + "#[cfg(test)]".len();
        // The item ends at `;` (a `mod tests;` or a `use`) or at the brace that
        // closes its first `{`.
        let rest = &out[after..];
        let semi = rest.find(';');
        let brace = rest.find('{');
        let end = match (semi, brace) {
            (Some(s), Some(b)) if s < b => after + s + 1,
            (Some(s), None) => after + s + 1,
            (_, Some(b)) => {
                let mut depth = 0usize;
                let mut end = out.len();
                for (k, c) in out[after + b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = after + b + k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (None, None) => out.len(),
        };
        let blank: String = out[at..end]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        out.replace_range(at..end, &blank);
    }
    out
}

/// The module path of a file: `oauth/grant/mod.rs` is `crate::oauth::grant`.
fn module_of(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    let mut path = vec!["crate".to_owned()];
    path.extend(parts);
    path
}

/// Expands a `use` tree (`a::{b, c::{d as e, self}}`) into full paths.
fn expand_use(tree: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim().trim_end_matches("::");
        let mut base = prefix.to_vec();
        base.extend(
            head.split("::")
                .filter(|s| !s.is_empty())
                .map(|s| s.trim().to_owned()),
        );
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut depth = 0;
        let mut start = 0;
        for (k, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand_use(&inner[start..k], &base, out);
                    start = k + 1;
                }
                _ => {}
            }
        }
        expand_use(&inner[start..], &base, out);
    } else if !tree.is_empty() {
        let name = tree.split(" as ").next().unwrap_or(tree).trim();
        let mut path = prefix.to_vec();
        for seg in name.split("::").map(str::trim) {
            if seg != "self" {
                path.push(seg.to_owned());
            }
        }
        out.push(path);
    }
}

/// Makes a path absolute from the module `here`: `super::x`, `self::x` and a
/// child module's name (`object::Object` in `grant/mod.rs`) become `crate::…`;
/// external crates stay as written.
fn absolute(path: &[String], here: &[String], tree: &Tree) -> Vec<String> {
    match path.first().map(String::as_str) {
        Some("super") => {
            let mut base = here.to_vec();
            let mut rest = path;
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            base
        }
        Some("self") => {
            let mut base = here.to_vec();
            base.extend(path[1..].iter().cloned());
            base
        }
        Some(first) if first != "crate" && is_child_module(here, first, tree) => {
            let mut base = here.to_vec();
            base.extend(path.iter().cloned());
            base
        }
        _ => path.to_vec(),
    }
}

fn is_child_module(here: &[String], name: &str, tree: &Tree) -> bool {
    let dir = here[1..]
        .iter()
        .map(|s| format!("{s}/"))
        .collect::<String>();
    tree.contains_key(&format!("{dir}{name}.rs"))
        || tree.contains_key(&format!("{dir}{name}/mod.rs"))
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every import of a file: its `use` items and the paths written inline
/// (`crate::oauth::flow::token(…)`, `worker::Env`).
fn imports_of(file: &str, text: &str, tree: &Tree) -> Vec<Import> {
    let code = code_of(text);
    let here = module_of(file);
    let line_at = |offset: usize| code[..offset].matches('\n').count() + 1;
    let mut found = Vec::new();
    let mut use_spans = Vec::new();
    let mut search = 0;
    while let Some(k) = code[search..].find("use ") {
        let at = search + k;
        search = at + 4;
        let before = code[..at].chars().next_back();
        if before.is_some_and(is_ident_char) {
            continue;
        }
        let Some(end) = code[at..].find(';') else {
            break;
        };
        let use_tree = &code[at + 4..at + end];
        let mut paths = Vec::new();
        expand_use(use_tree, &[], &mut paths);
        for path in paths {
            found.push(Import {
                line: line_at(at),
                path: absolute(&path, &here, tree),
            });
        }
        use_spans.push(at..at + end);
        search = at + end;
    }
    // Inline paths outside `use` items.
    let mut starts: Vec<&str> = vec!["crate::", "super::"];
    let runtime: Vec<String> = RUNTIME_CRATES.iter().map(|c| format!("{c}::")).collect();
    starts.extend(runtime.iter().map(String::as_str));
    for start in starts {
        let mut from = 0;
        while let Some(k) = code[from..].find(start) {
            let at = from + k;
            from = at + start.len();
            if code[..at]
                .chars()
                .next_back()
                .is_some_and(|c| is_ident_char(c) || c == ':')
            {
                continue;
            }
            if use_spans.iter().any(|s| s.contains(&at)) {
                continue;
            }
            let len = code[at..]
                .find(|c: char| !(is_ident_char(c) || c == ':'))
                .unwrap_or(code.len() - at);
            let path: Vec<String> = code[at..at + len]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            found.push(Import {
                line: line_at(at),
                path: absolute(&path, &here, tree),
            });
        }
    }
    found
}

/// The file that defines the item a path names: the deepest module file on the
/// path, followed through one `pub use child::Name` re-export.
fn file_of(path: &[String], tree: &Tree) -> Option<String> {
    if path.first().map(String::as_str) != Some("crate") {
        return None;
    }
    let segs = &path[1..];
    let mut best: Option<(String, usize)> = None;
    for n in (0..=segs.len()).rev() {
        let stem = segs[..n].join("/");
        let candidates = if n == 0 {
            vec!["lib.rs".to_owned()]
        } else {
            vec![format!("{stem}.rs"), format!("{stem}/mod.rs")]
        };
        if let Some(file) = candidates.into_iter().find(|f| tree.contains_key(f)) {
            best = Some((file, n));
            break;
        }
    }
    let (file, used) = best?;
    // `pub use child::{Name}` in the module file: the item lives in the child.
    if let Some(name) = segs.get(used) {
        let module = module_of(&file);
        for import in reexports(&file, tree) {
            if import.path.last() == Some(name)
                && import.path.starts_with(&module)
                && import.path.len() > module.len() + 1
            {
                if let Some(child) = file_of(&import.path, tree) {
                    if child != file {
                        return Some(child);
                    }
                }
            }
        }
    }
    Some(file)
}

/// The `pub use` items of a file, made absolute.
fn reexports(file: &str, tree: &Tree) -> Vec<Import> {
    let Some(text) = tree.get(file) else {
        return Vec::new();
    };
    let code = code_of(text);
    let here = module_of(file);
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let line = line.trim_start();
        let Some(rest) = line
            .strip_prefix("pub use ")
            .or_else(|| line.strip_prefix("pub(crate) use "))
        else {
            continue;
        };
        let Some(end) = rest.find(';') else { continue };
        let mut paths = Vec::new();
        expand_use(&rest[..end], &[], &mut paths);
        out.extend(paths.into_iter().map(|p| Import {
            line: n + 1,
            path: absolute(&p, &here, tree),
        }));
    }
    out
}

fn runtime_outside_shell(tree: &Tree) -> Vec<String> {
    let mut problems = Vec::new();
    for (file, text) in tree {
        if file.starts_with("cloudflare/") {
            continue;
        }
        for import in imports_of(file, text, tree) {
            if let Some(first) = import.path.first() {
                if RUNTIME_CRATES.contains(&first.as_str()) {
                    problems.push(format!(
                        "src/{file}:{} imports `{}`: only src/cloudflare/ may name the Workers runtime",
                        import.line,
                        import.path.join("::")
                    ));
                }
            }
        }
    }
    problems
}

fn oauth_beyond_views(tree: &Tree) -> Vec<String> {
    let mut problems = Vec::new();
    for (file, text) in tree {
        if !(file.starts_with("web/") || file.starts_with("mcp/")) {
            continue;
        }
        for import in imports_of(file, text, tree) {
            let path = import.path.join("::");
            if import.path.get(1).map(String::as_str) == Some("oauth")
                && !OAUTH_VIEWS.contains(&path.as_str())
            {
                problems.push(format!(
                    "src/{file}:{} imports `{path}`: src/web/ and src/mcp/ may take from src/oauth/ only the view types listed in tests/architecture.rs OAUTH_VIEWS",
                    import.line
                ));
            }
        }
    }
    problems
}

/// Edges between files, each with the first import that makes it. A directory
/// module's own file (`grant/mod.rs`) declaring or re-exporting its children is
/// its structure, not a dependency, so those edges are left out.
fn file_graph(tree: &Tree) -> BTreeMap<String, BTreeMap<String, Import>> {
    let mut graph: BTreeMap<String, BTreeMap<String, Import>> = BTreeMap::new();
    for (file, text) in tree {
        let edges = graph.entry(file.clone()).or_default();
        let dir = file
            .strip_suffix("mod.rs")
            .or_else(|| (file == "lib.rs").then_some(""));
        for import in imports_of(file, text, tree) {
            let Some(target) = file_of(&import.path, tree) else {
                continue;
            };
            if &target == file || dir.is_some_and(|d| target.starts_with(d)) {
                continue;
            }
            edges.entry(target).or_insert(import);
        }
    }
    graph
}

/// Every import circle, each once, as the files around it with their imports.
fn circles(tree: &Tree) -> Vec<String> {
    let graph = file_graph(tree);
    let mut reported = BTreeSet::new();
    let mut problems = Vec::new();
    for start in graph.keys() {
        // Breadth-first from `start` back to it: the shortest circle through it.
        let mut came_from: BTreeMap<&String, &String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut closing = None;
        'search: while let Some(node) = queue.pop_front() {
            for next in graph.get(node).into_iter().flat_map(|e| e.keys()) {
                if next == start {
                    closing = Some(node);
                    break 'search;
                }
                if !came_from.contains_key(next) {
                    came_from.insert(next, node);
                    queue.push_back(next);
                }
            }
        }
        let Some(mut node) = closing else { continue };
        let mut ring = vec![node];
        while node != start {
            node = came_from[node];
            ring.push(node);
        }
        ring.reverse();
        let key: BTreeSet<&String> = ring.iter().copied().collect();
        if !reported.insert(key) {
            continue;
        }
        let mut text = String::from("import circle:");
        for (k, from) in ring.iter().enumerate() {
            let to = ring.get(k + 1).copied().unwrap_or(start);
            let import = &graph[*from][to];
            text.push_str(&format!(
                "\n  src/{from}:{} imports `{}` (src/{to})",
                import.line,
                import.path.join("::")
            ));
        }
        problems.push(text);
    }
    problems
}

fn assert_none(problems: Vec<String>) {
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn only_the_shell_names_the_workers_runtime() {
    assert_none(runtime_outside_shell(&read_src()));
}

#[test]
fn web_and_mcp_take_only_view_types_from_oauth() {
    assert_none(oauth_beyond_views(&read_src()));
}

#[test]
fn no_two_files_import_each_other_around_a_circle() {
    assert_none(circles(&read_src()));
}

#[test]
fn every_view_type_listed_exists() {
    let tree = read_src();
    for view in OAUTH_VIEWS {
        let path: Vec<String> = view.split("::").map(String::from).collect();
        let file = file_of(&path, &tree).unwrap_or_else(|| panic!("{view}: no such module"));
        let name = path.last().expect("a name");
        assert!(
            tree[&file].contains(&format!("pub struct {name}"))
                || tree[&file].contains(&format!("pub enum {name}")),
            "{view} is not a type defined in src/{file}"
        );
    }
}

/// The rows of the rule table in docs/architecture.md: (line, rule, file, item).
fn rule_table(doc: &str) -> Vec<(usize, String, String, String)> {
    let mut rows = Vec::new();
    for (n, line) in doc.lines().enumerate() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        let [rule, file, item] = cells[..] else {
            continue;
        };
        let unquote = |c: &str| {
            c.strip_prefix('`')
                .and_then(|c| c.strip_suffix('`'))
                .map(str::to_owned)
        };
        if let (Some(file), Some(item)) = (unquote(file), unquote(item)) {
            rows.push((n + 1, rule.to_owned(), file, item));
        }
    }
    rows
}

/// Whether `code` (comments, strings and unit tests removed) defines `item`.
fn defines(code: &str, item: &str) -> bool {
    ["fn", "trait", "struct", "enum"].iter().any(|kind| {
        let head = format!("{kind} {item}");
        code.match_indices(&head).any(|(at, _)| {
            let before = code[..at].chars().next_back();
            let after = code[at + head.len()..].chars().next();
            !before.is_some_and(is_ident_char) && !after.is_some_and(is_ident_char)
        })
    })
}

/// Each row of "Where each rule lives" names a file of `src/` that defines its item,
/// so the table a reader checks with `grep` stays true.
#[test]
fn every_rule_in_the_architecture_doc_lives_where_it_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc =
        std::fs::read_to_string(root.join("docs/architecture.md")).expect("docs/architecture.md");
    let tree = read_src();
    let rows = rule_table(&doc);
    assert!(rows.len() >= 20, "the rule table has {} rows", rows.len());
    let mut problems = Vec::new();
    for (line, rule, file, item) in rows {
        let Some(text) = file.strip_prefix("src/").and_then(|f| tree.get(f)) else {
            problems.push(format!(
                "docs/architecture.md:{line}: {file} (for \"{rule}\") is not a file of src/"
            ));
            continue;
        };
        if !defines(&drop_test_items(&code_of(text)), &item) {
            problems.push(format!(
                "docs/architecture.md:{line}: {file} defines no `{item}` (for \"{rule}\")"
            ));
        }
    }
    assert_none(problems);
}

#[test]
fn the_table_check_finds_a_missing_item_and_ignores_comments() {
    let code = code_of("// fn ghost() {}\npub fn real() {}\npub trait Port {}\nfn realm() {}\n");
    assert!(defines(&code, "real") && defines(&code, "Port") && defines(&code, "realm"));
    assert!(!defines(&code, "ghost") && !defines(&code, "rea"));
    let rows = rule_table("| Rule | File | Item |\n|---|---|---|\n| R | `src/a.rs` | `f` |\n");
    assert_eq!(
        rows,
        vec![(3, "R".to_owned(), "src/a.rs".to_owned(), "f".to_owned())]
    );
}

// The checker itself, against small trees that break each rule.

fn tree(files: &[(&str, &str)]) -> Tree {
    files
        .iter()
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .collect()
}

#[test]
fn the_checker_finds_the_runtime_in_core_code_and_names_the_line() {
    let t = tree(&[
        ("lib.rs", "pub mod oauth;\nmod cloudflare;\n"),
        ("oauth/mod.rs", "pub mod pkce;\n"),
        (
            "oauth/pkce.rs",
            "// worker::Env in a comment is fine\nfn f(e: &worker::Env) {}\n",
        ),
        ("cloudflare/mod.rs", "use worker::Env;\n"),
    ]);
    let problems = runtime_outside_shell(&t);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("src/oauth/pkce.rs:2 imports `worker::Env`"),
        "{problems:?}"
    );
}

#[test]
fn the_checker_finds_a_flow_imported_by_web() {
    let t = tree(&[
        ("lib.rs", "pub mod oauth;\npub mod web;\n"),
        ("oauth/mod.rs", "pub mod flow;\n"),
        ("oauth/flow.rs", "pub struct Site;\n"),
        ("web/mod.rs", "use crate::oauth::{flow::Site};\n"),
    ]);
    let problems = oauth_beyond_views(&t);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("src/web/mod.rs:1 imports `crate::oauth::flow::Site`"),
        "{problems:?}"
    );
}

#[test]
fn the_checker_finds_a_circle_through_super_and_a_reexport() {
    let t = tree(&[
        ("lib.rs", "pub mod oauth;\n"),
        ("oauth/mod.rs", "pub mod grant;\npub mod store;\n"),
        ("oauth/grant/mod.rs", "mod object;\npub use object::Object;\n"),
        ("oauth/grant/object.rs", "use super::super::store::Store;\npub struct Object;\n"),
        (
            "oauth/store.rs",
            "pub trait Store {}\nfn f() -> crate::oauth::grant::Object { todo!() }\n#[cfg(test)]\nmod tests { use crate::oauth::grant::*; }\n",
        ),
    ]);
    let problems = circles(&t);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("src/oauth/grant/object.rs:1 imports `crate::oauth::store::Store`"),
        "{problems:?}"
    );
    assert!(problems[0].contains("src/oauth/store.rs:2 imports `crate::oauth::grant::Object` (src/oauth/grant/object.rs)"), "{problems:?}");
}

#[test]
fn the_checker_ignores_test_modules_strings_and_a_parent_declaring_its_children() {
    let t = tree(&[
        ("lib.rs", "pub mod oauth;\n"),
        ("oauth/mod.rs", "pub mod a;\npub mod b;\npub use a::A;\n"),
        (
            "oauth/a.rs",
            "use super::b::B;\npub struct A;\nconst S: &str = \"crate::oauth::b\";\n",
        ),
        (
            "oauth/b.rs",
            "pub struct B;\n#[cfg(test)]\nmod tests {\n    use crate::oauth::a::A;\n}\n",
        ),
    ]);
    assert_none(circles(&t));
}

/// `cargo test --test architecture -- --ignored --nocapture` prints who imports
/// whom, one `from -> to` line per pair of files.
#[test]
#[ignore = "prints the import graph; run by hand"]
fn print_the_import_graph() {
    for (from, edges) in file_graph(&read_src()) {
        for (to, import) in edges {
            println!(
                "{from} -> {to}  (line {}: {})",
                import.line,
                import.path.join("::")
            );
        }
    }
}
