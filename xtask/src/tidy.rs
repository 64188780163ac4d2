//! Repository conventions, checked as text: every Rust file says what it is for, modules
//! use one layout, ARCHITECTURE.md names every crate and module, and
//! docs/configuration.md names every setting.

use std::path::{Path, PathBuf};

/// Every convention; each problem found is one line.
pub fn check(root: &Path) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let sources = rust_sources(root);
    if sources.is_empty() {
        problems.push("no Rust sources found".to_owned());
    }
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap_or_default();
    if architecture.is_empty() {
        problems.push("ARCHITECTURE.md is missing".to_owned());
    }
    for path in &sources {
        let relative = path.strip_prefix(root).unwrap_or(path);
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if !text.starts_with("//!") {
            problems.push(format!(
                "{}: must start with a `//!` line saying what the file is for",
                relative.display()
            ));
        }
        if path.file_name().is_some_and(|name| name == "mod.rs") {
            problems.push(format!(
                "{}: use `name.rs` beside `name/`, not `mod.rs`",
                relative.display()
            ));
        }
        if let Some(module) = module_name(relative) {
            let (owner, section) = crate_section(&architecture, relative);
            if !section.contains(&format!("`{module}`")) {
                problems.push(format!(
                    "ARCHITECTURE.md does not mention `{module}` under the heading of {owner} ({})",
                    relative.display()
                ));
            }
        }
    }
    for crate_dir in list_dir(&root.join("crates")) {
        let name = crate_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if !architecture.contains(&format!("crates/{name}")) {
            problems.push(format!("ARCHITECTURE.md does not mention crates/{name}"));
        }
    }
    check_configuration_doc(root, &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The part of ARCHITECTURE.md about the crate holding `relative`: from the `###` heading
/// naming it (`crates/store`, or `xtask`) to the next heading; empty if there is none.
fn crate_section<'a>(architecture: &'a str, relative: &Path) -> (String, &'a str) {
    let parts: Vec<String> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    let owner = match parts.as_slice() {
        [crates, name, ..] if crates == "crates" => format!("crates/{name}"),
        [first, ..] => first.clone(),
        [] => String::new(),
    };
    let heading = architecture
        .match_indices("\n### ")
        .map(|(at, _)| at + 1)
        .find(|&at| {
            architecture[at..]
                .lines()
                .next()
                .is_some_and(|line| line.contains(&format!("`{owner}`")))
        });
    let section = heading.map_or("", |start| {
        let rest = &architecture[start + 4..];
        let end = rest
            .find("\n### ")
            .or_else(|| rest.find("\n## "))
            .unwrap_or(rest.len());
        &rest[..end]
    });
    (owner, section)
}

/// The module a library source file defines, as ARCHITECTURE.md names it
/// (`native/keys.rs`), or `None` for crate roots and tests.
fn module_name(relative: &Path) -> Option<String> {
    let parts: Vec<String> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    let src = parts.iter().position(|part| part == "src")?;
    let inside = &parts[src + 1..];
    match inside {
        [file] if file == "lib.rs" || file == "main.rs" => None,
        // Unit tests split out of a module belong to it, not to the map.
        [.., file] if file == "tests.rs" => None,
        _ => Some(inside.join("/")),
    }
}

/// Every `PIPELOG_*` variable the CLI reads must be documented.
fn check_configuration_doc(root: &Path, problems: &mut Vec<String>) {
    let doc = std::fs::read_to_string(root.join("docs/configuration.md")).unwrap_or_default();
    for path in rust_sources(&root.join("crates/cli/src")) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for variable in environment_variables(&text) {
            if !doc.contains(&variable) {
                problems.push(format!(
                    "docs/configuration.md does not document {variable} (read in {})",
                    path.strip_prefix(root).unwrap_or(&path).display()
                ));
            }
        }
    }
}

fn environment_variables(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("\"PIPELOG_") {
        let tail = &rest[at + 1..];
        let end = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .unwrap_or(tail.len());
        found.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    found.sort();
    found.dedup();
    found
}

fn list_dir(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    entries.sort();
    entries
}

/// The `.rs` files of the workspace's crates and of xtask, `target/` left out.
fn rust_sources(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for path in list_dir(&dir) {
            let name = path.file_name().unwrap().to_string_lossy();
            if path.is_dir() {
                if !matches!(name.as_ref(), "target" | ".git" | "node_modules") {
                    pending.push(path);
                }
            } else if name.ends_with(".rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_is_tidy() {
        let root = crate::workspace_root();
        if let Err(problems) = check(&root) {
            panic!(
                "tidy found {} problem(s):\n{}",
                problems.len(),
                problems.join("\n")
            );
        }
    }

    #[test]
    fn sections_belong_to_their_crate() {
        let map = "# A\n\n### `crates/core` (x)\n\n- `audit.rs`: y\n\n### `crates/store` (z)\n\n- `sqlite.rs`\n\n## Tests\n";
        let (owner, section) = crate_section(map, Path::new("crates/store/src/audit.rs"));
        assert_eq!(owner, "crates/store");
        assert!(section.contains("`sqlite.rs`") && !section.contains("`audit.rs`"));
        let (_, core) = crate_section(map, Path::new("crates/core/src/audit.rs"));
        assert!(core.contains("`audit.rs`"));
        assert_eq!(crate_section(map, Path::new("crates/cli/src/x.rs")).1, "");
    }

    #[test]
    fn module_names_are_paths_under_src() {
        assert_eq!(
            module_name(Path::new("crates/server/src/native/keys.rs")).as_deref(),
            Some("native/keys.rs")
        );
        assert_eq!(module_name(Path::new("crates/cli/src/main.rs")), None);
        assert_eq!(
            module_name(Path::new("crates/server/tests/it/main.rs")),
            None
        );
    }

    #[test]
    fn finds_environment_variables() {
        let text = r#"#[arg(env = "PIPELOG_LISTEN")] const X: &str = "PIPELOG_BOOTSTRAP_KEY";"#;
        assert_eq!(
            environment_variables(text),
            ["PIPELOG_BOOTSTRAP_KEY", "PIPELOG_LISTEN"]
        );
    }
}
