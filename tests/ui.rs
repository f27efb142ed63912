//! The macros' compile-time checks: every `ui-tests/fail/*.rs` must fail to compile with exactly its `.stderr`
//! (pinned to the stable toolchain; regenerate with `TRYBUILD=overwrite cargo test --test ui` and review the
//! diff), every `ui-tests/pass/*.rs` must compile and run.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui-tests/pass/*.rs");
    t.compile_fail("ui-tests/fail/*.rs");
}
