//! Keeps the crate's shape: the top-level modules form layers (no two import each other,
//! directly or through a cycle; nothing imports `cli`, which only `main.rs` calls), and
//! no function outside tests runs past [`MAX_FUNCTION_LINES`]. Read from the source
//! files, as a newcomer would read them: the `crate::…` paths outside comments and tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The longest a non-test function may be, from its `fn` line to its closing brace.
const MAX_FUNCTION_LINES: usize = 80;

/// Functions allowed past [`MAX_FUNCTION_LINES`]: flat tables a split would only hide
/// (file, function). Empty: keep it so.
const LONG_FUNCTIONS_ALLOWED: &[(&str, &str)] = &[];

/// Every `.rs` file under `dir`, with its path relative to `src`.
fn sources(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            sources(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Whether `relative` (to `src`) is test code as a whole: a `tests` folder, `tests.rs`,
/// `*_tests.rs`.
fn is_test_file(relative: &Path) -> bool {
    relative.components().any(|c| c.as_os_str() == "tests")
        || relative
            .file_stem()
            .and_then(|s| s.to_str())
            .is_some_and(|s| s == "tests" || s.ends_with("_tests"))
}

/// The lines of `text` before its `#[cfg(test)]` module, without `//` comments.
fn code_lines(text: &str) -> Vec<String> {
    text.lines()
        .take_while(|line| !line.starts_with("#[cfg(test)]"))
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => line[..at].to_owned(),
            _ => line.to_owned(),
        })
        .collect()
}

/// Top-level module → the top-level modules its code names through `crate::`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = src_dir();
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        if is_test_file(relative) {
            continue;
        }
        let first = relative.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "main" || module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        let used = graph.entry(module.clone()).or_default();
        for line in code_lines(&text) {
            for (at, _) in line.match_indices("crate::") {
                let rest = &line[at + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module && name != "test_guests" {
                    used.insert(name);
                }
            }
        }
    }
    graph
}

/// A cycle through `start` in `graph`, if there is one.
fn cycle_through(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_owned(), vec![start.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(start.to_owned());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn no_two_top_level_modules_import_each_other_and_nothing_imports_the_cli() {
    let graph = imports();
    assert!(graph.len() > 10, "the source files were found: {graph:?}");
    assert!(
        graph["server"].contains("smtp"),
        "the reading sees imports: {graph:?}"
    );
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|module| cycle_through(&graph, module))
        .map(|cycle| cycle.join(" → "))
        .collect();
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
    let into_cli: Vec<&String> = graph
        .iter()
        .filter(|(module, used)| *module != "cli" && used.contains("cli"))
        .map(|(module, _)| module)
        .collect();
    assert!(
        into_cli.is_empty(),
        "only main.rs may use cli: {into_cli:?}"
    );
}

/// The functions of `lines` longer than [`MAX_FUNCTION_LINES`]: name and length.
fn long_functions(lines: &[String]) -> Vec<(String, usize)> {
    let mut long = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let Some(name) = function_name(line) else {
            continue;
        };
        let mut depth = 0i32;
        let mut opened = false;
        for (offset, body) in lines[start..].iter().enumerate() {
            for c in strip_literals(body).chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if !opened && body.trim_end().ends_with(';') {
                break;
            }
            if opened && depth <= 0 {
                if offset + 1 > MAX_FUNCTION_LINES {
                    long.push((name.to_owned(), offset + 1));
                }
                break;
            }
        }
    }
    long
}

/// The name of the function `line` declares, if it declares one.
fn function_name(line: &str) -> Option<&str> {
    let before_fn = line.split("fn ").next()?;
    let words_ok = before_fn.split_whitespace().all(|w| {
        matches!(w, "pub" | "async" | "const" | "unsafe" | "extern") || w.starts_with("pub(")
    });
    if !words_ok || !line.contains("fn ") || line.trim_start().starts_with("//") {
        return None;
    }
    let rest = line.split("fn ").nth(1)?;
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
    (end > 0).then(|| &rest[..end])
}

/// `line` without the contents of string and character literals (their braces).
fn strip_literals(line: &str) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (in_string, c) {
            (true, '\\') => {
                chars.next();
            }
            (true, '"') | (false, '"') => in_string = !in_string,
            (false, '\'') if chars.peek().is_some_and(|n| *n == '{' || *n == '}') => {
                chars.next();
            }
            (false, _) => out.push(c),
            (true, _) => {}
        }
    }
    out
}

#[test]
fn no_function_outside_tests_runs_past_eighty_lines() {
    let src = src_dir();
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut long = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        if is_test_file(relative) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        for (name, lines) in long_functions(&code_lines(&text)) {
            let shown = relative.display().to_string();
            if !LONG_FUNCTIONS_ALLOWED.contains(&(shown.as_str(), name.as_str())) {
                long.push(format!("{shown} {name}: {lines} lines"));
            }
        }
    }
    assert!(long.is_empty(), "split these functions: {long:#?}");
}

#[test]
fn the_length_reading_counts_from_fn_to_its_closing_brace() {
    let mut source = vec!["pub(crate) async fn long(x: u8) -> u8 {".to_owned()];
    source.extend((0..MAX_FUNCTION_LINES).map(|_| "    let s = \"}{\";".to_owned()));
    source.push("}".to_owned());
    source.push("fn short() {}".to_owned());
    assert_eq!(
        long_functions(&source),
        [("long".to_owned(), MAX_FUNCTION_LINES + 2)]
    );
    assert_eq!(function_name("    fn describe(&self) {"), Some("describe"));
    assert_eq!(function_name("let f = |x| x; // fn not"), None);
}
