//! House rules a reader relies on, checked on the source tree itself:
//! every source file has a module doc and is named in `docs/layout.md`,
//! and no source files import each other in a circle.
//!
//! The import graph is read from the text, file by file (no compiler
//! help): an edge runs from a file to the file of every module it names
//! through `use crate::…`, `use super::…`, an inline `crate::…` or
//! `super::…` path, or `child::…` for a child it declares with `mod
//! child;`. Declaring a module is not an import; test modules at the end
//! of a file (`#[cfg(test)] mod tests { … }`) and `*_tests.rs` files are
//! left out, since tests may look anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `crates/` and `tests/`, relative to the workspace,
/// `/`-separated, sorted.
fn source_files() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if name == "target" || name.to_string_lossy().starts_with('.') {
                continue;
            }
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).expect("under the root");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let root = workspace();
    let mut files = Vec::new();
    walk(&root.join("crates"), &root, &mut files);
    walk(&root.join("tests"), &root, &mut files);
    files.sort();
    files
}

/// `crates/core` for `crates/core/src/x.rs`, `tests` for `tests/src/x.rs`.
fn crate_dir(file: &str) -> &str {
    match file.strip_prefix("crates/") {
        Some(rest) => &file[..7 + rest.find('/').unwrap_or(rest.len())],
        None => "tests",
    }
}

/// The module path of a library source file (`["node", "client"]`), or
/// `None` for binaries, examples and integration tests.
fn module_path(file: &str) -> Option<Vec<String>> {
    let rel = file[crate_dir(file).len() + 1..].strip_prefix("src/")?;
    if rel == "main.rs" || rel.starts_with("bin/") {
        return None;
    }
    let mut segments: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if matches!(segments.last().map(String::as_str), Some("mod" | "lib")) {
        segments.pop();
    }
    Some(segments)
}

/// The text with comments, string and char literals blanked out, and
/// inline test modules (`#[cfg(test)] mod name { … }`) cut out.
fn code_of(text: &str) -> String {
    let code = strip_literals(text);
    let mut out = String::with_capacity(code.len());
    let mut rest = code.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        let after = rest[at + 12..].trim_start();
        let inline_module = after.strip_prefix("mod ").is_some_and(|m| {
            let body = m.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_');
            body.trim_start().starts_with('{')
        });
        if !inline_module {
            out.push_str(&rest[..at + 12]);
            rest = &rest[at + 12..];
            continue;
        }
        out.push_str(&rest[..at]);
        let open = at + rest[at..].find('{').unwrap_or(0);
        let close = matching_brace(rest, open);
        rest = rest.get(close + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

fn strip_literals(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut k = 0;
    while k < bytes.len() {
        match bytes[k] {
            b'/' if bytes.get(k + 1) == Some(&b'/') => {
                while k < bytes.len() && bytes[k] != b'\n' {
                    k += 1;
                }
            }
            b'"' => {
                k += 1;
                while k < bytes.len() && bytes[k] != b'"' {
                    k += if bytes[k] == b'\\' { 2 } else { 1 };
                }
                k += 1;
                out.push_str("\"\"");
            }
            b'r' if bytes.get(k + 1) == Some(&b'#') && bytes.get(k + 2) == Some(&b'"') => {
                let end = text[k + 3..]
                    .find("\"#")
                    .map_or(bytes.len(), |e| k + 3 + e + 2);
                k = end;
                out.push_str("\"\"");
            }
            b'\'' if bytes.get(k + 2) == Some(&b'\'') || bytes.get(k + 1) == Some(&b'\\') => {
                // A char literal ('a', '\n'), not a lifetime.
                k += 1;
                while k < bytes.len() && bytes[k] != b'\'' {
                    k += if bytes[k] == b'\\' { 2 } else { 1 };
                }
                k += 1;
            }
            b => {
                out.push(char::from(b));
                k += 1;
            }
        }
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Every path the code names that starts with one of `roots`: `a::b::c`
/// as `["a", "b", "c"]`, with `use` braces spread (`use super::{x, y::z}`
/// gives `super::x` and `super::y::z`).
fn paths_from(code: &str, roots: &BTreeSet<&str>) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let mut paths = Vec::new();
    let mut k = 0;
    while k < bytes.len() {
        if !is_ident(bytes[k]) || (k > 0 && (is_ident(bytes[k - 1]) || bytes[k - 1] == b':')) {
            k += 1;
            continue;
        }
        let start = k;
        while k < bytes.len() && is_ident(bytes[k]) {
            k += 1;
        }
        if !roots.contains(&code[start..k]) || !code[k..].starts_with("::") {
            continue;
        }
        let mut path = vec![code[start..k].to_owned()];
        loop {
            if !code[k..].starts_with("::") {
                break;
            }
            k += 2;
            if bytes.get(k) == Some(&b'{') {
                let end = matching_brace(code, k);
                for item in split_top_level(&code[k + 1..end]) {
                    let item: Vec<String> = item
                        .split("::")
                        .map(|s| s.split_whitespace().next().unwrap_or("").to_owned())
                        .filter(|s| !s.is_empty() && s != "{" && !s.starts_with('{'))
                        .collect();
                    paths.push(path.iter().cloned().chain(item).collect());
                }
                k = end + 1;
                path.clear();
                break;
            }
            let from = k;
            while k < bytes.len() && is_ident(bytes[k]) {
                k += 1;
            }
            if from == k {
                break;
            }
            path.push(code[from..k].to_owned());
        }
        if !path.is_empty() {
            paths.push(path);
        }
    }
    paths
}

fn matching_brace(code: &str, open: usize) -> usize {
    let mut depth = 0;
    for (k, b) in code.bytes().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    code.len()
}

fn split_top_level(list: &str) -> Vec<&str> {
    let (mut items, mut depth, mut from) = (Vec::new(), 0, 0);
    for (k, b) in list.bytes().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            b',' if depth == 0 => {
                items.push(&list[from..k]);
                from = k + 1;
            }
            _ => {}
        }
    }
    items.push(&list[from..]);
    items.into_iter().filter(|i| !i.trim().is_empty()).collect()
}

/// The modules a file declares with `mod name;`.
fn children(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices("mod ") {
        if at > 0 && is_ident(code.as_bytes()[at - 1]) {
            continue;
        }
        let rest = &code[at + 4..];
        let name: String = rest
            .bytes()
            .take_while(|&b| is_ident(b))
            .map(char::from)
            .collect();
        if !name.is_empty() && rest[name.len()..].trim_start().starts_with(';') {
            names.insert(name);
        }
    }
    names
}

type Modules = BTreeMap<(String, Vec<String>), String>;

/// The file that defines what `full` names: the longest prefix of the path
/// that is a module, followed through that module's `pub use` when the
/// item is only re-exported there (`crate::Entry` is `message.rs`'s, not
/// `lib.rs`'s, when `lib.rs` says `pub use message::*`).
fn resolve(modules: &Modules, krate: &str, full: &[String]) -> Option<String> {
    let key = |n: usize| (krate.to_owned(), full[..n].to_vec());
    let n = (0..=full.len())
        .rev()
        .find(|&n| modules.contains_key(&key(n)))?;
    let file = modules[&key(n)].clone();
    let Some(item) = full.get(n) else {
        return Some(file);
    };
    let code = code_of(&std::fs::read_to_string(workspace().join(&file)).ok()?);
    if defines(&code, item) {
        return Some(file);
    }
    let here = full[..n].to_vec();
    let roots: BTreeSet<&str> = ["crate", "super", "self"]
        .into_iter()
        .chain(children_of(&code))
        .collect();
    for path in re_exports(&code, &roots) {
        let last = path.last().map(String::as_str);
        if last != Some(item.as_str()) && last != Some("*") {
            continue;
        }
        let mut target = absolute(&here, &path);
        if last == Some("*") {
            target.pop();
            target.push(item.clone());
        }
        if target.len() < full.len() || target[..n] != full[..n] || target != full {
            if let Some(found) = resolve(modules, krate, &target) {
                let defined = std::fs::read_to_string(workspace().join(&found))
                    .is_ok_and(|text| defines(&code_of(&text), item));
                if defined {
                    return Some(found);
                }
            }
        }
    }
    Some(file)
}

/// Whether the code defines an item named `name` itself.
fn defines(code: &str, name: &str) -> bool {
    [
        "struct",
        "enum",
        "fn",
        "trait",
        "type",
        "const",
        "static",
        "mod",
        "macro_rules!",
    ]
    .iter()
    .any(|kind| {
        code.match_indices(&format!("{kind} {name}"))
            .any(|(at, m)| {
                let after = code.as_bytes().get(at + m.len()).copied().unwrap_or(b' ');
                !is_ident(after) && (at == 0 || !is_ident(code.as_bytes()[at - 1]))
            })
    })
}

/// The paths of the code's `pub use` items (`*` for a glob).
fn re_exports(code: &str, roots: &BTreeSet<&str>) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for (at, _) in code.match_indices("pub use ") {
        let end = code[at..].find(';').map_or(code.len(), |e| at + e);
        let statement = code[at + 8..end].replace("::*", "::__glob");
        for mut path in paths_from(&statement, roots) {
            if path.last().is_some_and(|l| l == "__glob") {
                path.pop();
                path.push("*".to_owned());
            }
            paths.push(path);
        }
    }
    paths
}

fn children_of(code: &str) -> Vec<&'static str> {
    children(code)
        .into_iter()
        .map(|c| &*Box::leak(c.into_boxed_str()))
        .collect()
}

/// `path` (relative to module `here`, or from `crate`) as a path from the
/// crate root.
fn absolute(here: &[String], path: &[String]) -> Vec<String> {
    let mut base = here.to_vec();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("super" | "self") => {
            while let Some(step) = rest.first() {
                match step.as_str() {
                    "super" => drop(base.pop()),
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
        _ => {}
    }
    base.into_iter().chain(rest.iter().cloned()).collect()
}

/// File-level imports: each library source file to the files it names.
fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let files = source_files();
    let modules: Modules = files
        .iter()
        .filter(|f| !f.ends_with("_tests.rs") && !f.ends_with("/tests.rs"))
        .filter_map(|f| Some(((crate_dir(f).to_owned(), module_path(f)?), f.clone())))
        .collect();
    let mut graph = BTreeMap::new();
    for ((krate, here), file) in &modules {
        let text = std::fs::read_to_string(workspace().join(file)).expect("readable");
        let code = code_of(&text);
        let kids = children(&code);
        let mut roots: BTreeSet<&str> = ["crate", "super", "self"].into();
        roots.extend(kids.iter().map(String::as_str));
        let mut targets = BTreeSet::new();
        for path in paths_from(&code, &roots) {
            // `super::x` inside an inline module (`mod until { use
            // super::NEVER; }`) names this file's own item.
            if path.first().is_some_and(|p| p == "super")
                && path.get(1).is_some_and(|item| defines(&code, item))
            {
                continue;
            }
            let full = absolute(here, &path);
            if let Some(target) = resolve(&modules, krate, &full).filter(|t| t != file) {
                targets.insert(target);
            }
        }
        graph.insert(file.clone(), targets);
    }
    graph
}

/// The import circles: strongly connected sets of more than one file.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Files that reach each other, by reachability sets (the graph is small).
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(f) = todo.pop() {
            for t in graph.get(&f).into_iter().flatten() {
                if seen.insert(t.clone()) {
                    todo.push(t.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|f| (f, reach(f))).collect();
    let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
    for (f, r) in &reached {
        let circle: Vec<String> = r
            .iter()
            .filter(|g| reached.get(g).is_some_and(|back| back.contains(*f)))
            .cloned()
            .collect();
        if circle.len() > 1 {
            found.insert(circle);
        }
    }
    found.into_iter().collect()
}

#[test]
fn every_source_file_has_a_module_doc_and_is_in_the_layout_guide() {
    let layout =
        std::fs::read_to_string(workspace().join("docs/layout.md")).expect("docs/layout.md");
    let mut missing = Vec::new();
    for file in source_files() {
        let text = std::fs::read_to_string(workspace().join(&file)).expect("readable");
        if !text.trim_start().starts_with("//!") {
            missing.push(format!("{file}: no module doc (//!) at the top"));
        }
        let within = &file[crate_dir(&file).len() + 1..];
        if !layout.contains(&format!("| `{within}` |")) {
            missing.push(format!("{file}: not in docs/layout.md"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn the_import_reader_sees_the_imports_it_must() {
    let graph = import_graph();
    let edges = |from: &str| graph.get(from).cloned().unwrap_or_default();
    // `use crate::…`, `use super::{…}` and `child::…` after `mod child;`.
    assert!(edges("crates/core/src/kv.rs").contains("crates/core/src/data.rs"));
    assert!(edges("crates/core/src/raft/mod.rs").contains("crates/core/src/raft/state.rs"));
    assert!(edges("crates/core/src/node/mod.rs").contains("crates/core/src/raft/state.rs"));
    // Through a re-export: `super::Checker` is `checker.rs`'s.
    assert!(edges("crates/sim/src/checkers/ryw.rs").contains("crates/sim/src/checkers/checker.rs"));
}

#[test]
fn no_source_files_import_each_other_in_a_circle() {
    let found = circles(&import_graph());
    assert!(found.is_empty(), "import circles:\n{found:#?}");
}

/// The functions `code` defines (`fn name`), each once.
fn functions_defined(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices("fn ") {
        if at > 0 && is_ident(code.as_bytes()[at - 1]) {
            continue;
        }
        let name: String = code[at + 3..]
            .bytes()
            .take_while(|&b| is_ident(b))
            .map(char::from)
            .collect();
        if !name.is_empty() {
            names.insert(name);
        }
    }
    names
}

/// The names `code` calls (`name(`, `.name(`, `::name(`), definitions left out.
fn functions_called(code: &str) -> BTreeSet<String> {
    let bytes = code.as_bytes();
    let mut names = BTreeSet::new();
    let mut k = 0;
    while k < bytes.len() {
        if !is_ident(bytes[k]) || (k > 0 && is_ident(bytes[k - 1])) {
            k += 1;
            continue;
        }
        let start = k;
        while k < bytes.len() && is_ident(bytes[k]) {
            k += 1;
        }
        let defined_here = code[..start].trim_end().ends_with("fn");
        if bytes.get(k) == Some(&b'(') && !defined_here {
            names.insert(code[start..k].to_owned());
        }
    }
    names
}

/// Which core files call functions defined in which others. A name
/// defined in more than one core file (`new`, `apply`) says nothing about
/// where a call goes and is left out, as are names the standard library
/// gives every collection (`push`, `get`), which a file calls on its own
/// vectors and maps.
fn core_call_graph() -> BTreeMap<String, BTreeSet<String>> {
    const EVERYWHERE: &[&str] = &[
        "push", "pop", "get", "insert", "remove", "len", "is_empty", "clear", "iter", "next",
        "min", "max", "contains", "first", "last", "peek", "default", "from", "into", "clone",
        "append", "new", "apply", "take",
    ];
    let files: Vec<(String, String)> = source_files()
        .into_iter()
        .filter(|f| f.starts_with("crates/core/src/"))
        .filter(|f| !f.ends_with("_tests.rs") && !f.ends_with("/tests.rs"))
        .filter(|f| !f.ends_with("testkit.rs") && !f.ends_with("work.rs"))
        .map(|f| {
            let text = std::fs::read_to_string(workspace().join(&f)).expect("readable");
            (f, code_of(&text))
        })
        .collect();
    let mut definer: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (file, code) in &files {
        for name in functions_defined(code) {
            definer.entry(name).or_default().push(file.clone());
        }
    }
    let mut graph = BTreeMap::new();
    for (file, code) in &files {
        let targets: BTreeSet<String> = functions_called(code)
            .into_iter()
            .filter(|name| !EVERYWHERE.contains(&name.as_str()))
            .filter_map(|name| match definer.get(&name).map(Vec::as_slice) {
                Some([only]) if only != file => Some(only.clone()),
                _ => None,
            })
            .collect();
        graph.insert(file.clone(), targets);
    }
    graph
}

#[test]
fn the_call_reader_sees_the_calls_it_must() {
    let graph = core_call_graph();
    let edges = |from: &str| graph.get(from).cloned().unwrap_or_default();
    // The glue hands input to both layers; the serving layer proposes
    // through the replica; the replica calls back through the trait only.
    assert!(edges("crates/core/src/node/mod.rs").contains("crates/core/src/raft/step.rs"));
    assert!(
        edges("crates/core/src/serve/leading.rs").contains("crates/core/src/raft/leader_sends.rs")
    );
    assert!(edges("crates/core/src/raft/roles.rs").contains("crates/core/src/raft/persist.rs"));
}

#[test]
fn no_two_core_files_call_each_other_both_ways() {
    let graph = core_call_graph();
    let mut both_ways = Vec::new();
    for (from, targets) in &graph {
        for to in targets {
            if from < to && graph.get(to).is_some_and(|back| back.contains(from)) {
                both_ways.push(format!("{from} <-> {to}"));
            }
        }
    }
    assert!(both_ways.is_empty(), "{}", both_ways.join("\n"));
}

/// `cargo test -p ryw-tests --test house -- --ignored --nocapture` prints
/// the import graph, file by file, to see where a circle runs.
#[test]
#[ignore]
fn print_the_import_graph() {
    for (file, targets) in import_graph() {
        println!("{file}");
        for target in targets {
            println!("    -> {target}");
        }
    }
}

/// Every file or directory the README and the guides name by its path
/// from the repository root exists: a file that moved must take its
/// mentions with it.
#[test]
fn the_docs_name_only_paths_that_exist() {
    let root = workspace();
    let mut docs = vec![root.join("README.md")];
    let guides = std::fs::read_dir(root.join("docs")).expect("docs/");
    docs.extend(guides.flatten().map(|e| e.path()));
    let mut missing = Vec::new();
    for doc in docs {
        let text = std::fs::read_to_string(&doc).expect("readable");
        for prefix in [
            "crates/",
            "sim-scenarios/",
            "docs/",
            "tests/tests/",
            "tests/data/",
        ] {
            for (at, _) in text.match_indices(prefix) {
                let before = text[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '/' || c == '.' || c == '_') {
                    continue;
                }
                let path: String = text[at..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
                    .collect();
                let path = path.trim_end_matches(['.', '/']);
                // A glob or a placeholder (`sim-scenarios/*.json`, `DIR/...`) names no one file.
                if text[at + path.len()..].starts_with(['*', '{']) || path.ends_with('-') {
                    continue;
                }
                if !root.join(path).exists() {
                    missing.push(format!("{}: {path}", doc.display()));
                }
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "paths that do not exist:\n{}",
        missing.join("\n")
    );
}

/// The README and the checkers guide list every named event with its
/// meaning, as the core has it.
#[test]
fn the_readme_and_the_checkers_guide_list_every_named_event() {
    for doc in ["README.md", "docs/checkers.md"] {
        let guide = std::fs::read_to_string(workspace().join(doc)).expect("readable");
        for event in ryw_core::Event::ALL {
            let row = format!("| `{}` | {} |", event.name(), event.meaning());
            assert!(guide.contains(&row), "{doc} lacks, or shows an old:\n{row}");
        }
    }
}

/// The longest `impl` blocks may be: past this, a type is doing several
/// jobs and its methods belong in files of their own, or on the types of
/// its parts.
const IMPL_LINES_MAX: usize = 300;

#[test]
fn no_impl_block_is_longer_than_the_bound() {
    let mut long = Vec::new();
    for file in source_files() {
        let text = std::fs::read_to_string(workspace().join(&file)).expect("readable");
        let code = strip_literals(&text);
        let mut offset = 0;
        for line in code.split_inclusive('\n') {
            if line.starts_with("impl") && !is_ident(line.as_bytes()[4]) {
                if let Some(open) = code[offset..].find('{').map(|o| offset + o) {
                    let close = matching_brace(&code, open);
                    let lines = code[offset..close].matches('\n').count() + 1;
                    if lines > IMPL_LINES_MAX {
                        let at = code[..offset].matches('\n').count() + 1;
                        long.push(format!("{file}:{at}: {lines} lines"));
                    }
                }
            }
            offset += line.len();
        }
    }
    assert!(
        long.is_empty(),
        "impl blocks over {IMPL_LINES_MAX} lines:\n{}",
        long.join("\n")
    );
}
