//! Every Rust snippet of README.md is a doctest (src/lib.rs includes the README as documentation), so it compiles
//! as a user would paste it: fenced as `rust` or `rust,no_run`, never `ignore`, and with no hidden `# ` lines.

#[test]
fn readme_snippets_are_doctests_shown_whole() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    assert!(
        lib.contains(r#"#[doc = include_str!("../README.md")]"#),
        "src/lib.rs no longer runs the README's snippets"
    );
    let mut fence: Option<&str> = None;
    let mut snippets = 0;
    for (number, line) in readme.lines().enumerate().map(|(i, line)| (i + 1, line)) {
        match (fence, line.strip_prefix("```")) {
            (None, Some(info)) => {
                fence = Some(info);
                if info.split(',').next() == Some("rust") {
                    snippets += 1;
                    assert!(
                        ["rust", "rust,no_run"].contains(&info),
                        "README.md:{number}: ```{info}: use rust or rust,no_run"
                    );
                }
            }
            (Some(_), Some("")) => fence = None,
            (Some(info), _) if info.starts_with("rust") => {
                assert!(
                    line != "#" && !line.starts_with("# "),
                    "README.md:{number}: a hidden line, which GitHub shows"
                );
            }
            _ => {}
        }
    }
    assert!(snippets > 0, "no ```rust snippet found in README.md");
}
