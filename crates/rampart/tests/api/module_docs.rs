//! Every Rust source file of the workspace says what it is: each `.rs` file under `crates/*/src`
//! and `crates/*/tests` opens with its `//!` module comment.

use std::fs;
use std::path::{Path, PathBuf};

/// The workspace root: this crate is `crates/rampart`.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root")
}

/// Every `.rs` file below `dir`, leaving out build output and JavaScript packages.
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
        if path.is_dir() {
            if name != "target" && name != "node_modules" {
                rust_files(&path, found);
            }
        } else if name.ends_with(".rs") {
            found.push(path);
        }
    }
}

/// Whether a file's first line is a `//!` comment.
fn opens_with_module_doc(text: &str) -> bool {
    text.lines().next().is_some_and(|line| line.starts_with("//!"))
}

#[test]
fn the_check_tells_a_documented_file_from_an_undocumented_one() {
    assert!(opens_with_module_doc("//! What this is.\n\nuse std::fs;\n"));
    assert!(!opens_with_module_doc("use std::fs;\n//! Too late.\n"));
    assert!(!opens_with_module_doc("/// An item's comment, not the module's.\nfn f() {}\n"));
    assert!(!opens_with_module_doc(""));
}

#[test]
fn every_source_file_opens_with_its_module_comment() {
    let root = workspace();
    let mut files = Vec::new();
    for krate in fs::read_dir(root.join("crates")).expect("the crates folder") {
        let krate = krate.expect("a crate").path();
        rust_files(&krate.join("src"), &mut files);
        rust_files(&krate.join("tests"), &mut files);
    }
    assert!(
        files.iter().any(|file| file.ends_with("crates/rampart/tests/api/module_docs.rs")),
        "the walk finds this file"
    );

    let undocumented: Vec<String> = files
        .iter()
        .filter(|file| !opens_with_module_doc(&fs::read_to_string(file).expect("a UTF-8 source file")))
        .map(|file| file.strip_prefix(&root).unwrap_or(file).display().to_string())
        .collect();
    assert!(undocumented.is_empty(), "these files do not open with a `//!` comment: {undocumented:#?}");
}
