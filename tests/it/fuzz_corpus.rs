//! The fuzzers' findings as regression tests: every file in
//! `tests/fixtures/fuzz/<target>/` goes through the same function the fuzz
//! target runs (`fuzz/harness.rs`), on stable, without a fuzzer. A file
//! there is an input that once crashed, hung or broke a promise of the stage
//! (see `fuzz/README.md`).

#[path = "../../fuzz/harness.rs"]
mod harness;

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.')))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no kept inputs in {}", dir.display());
    // Speed is not asserted here: a finding that was a hang would come back
    // as a test that does not end, which the test runner's timeout reports.
    for file in files {
        run(&std::fs::read(&file).unwrap());
    }
}

#[test]
fn fuzz_corpus_feed_extract() {
    replay("feed_extract", harness::feed_extract);
}

#[test]
fn fuzz_corpus_page_extract() {
    replay("page_extract", harness::page_extract);
}

#[test]
fn fuzz_corpus_dates() {
    replay("dates", harness::dates);
}

#[test]
fn fuzz_corpus_facts() {
    replay("facts", harness::facts);
}
