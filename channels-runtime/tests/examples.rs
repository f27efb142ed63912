//! Every public item has an example in its docs (a code block) where its use is not obvious: the check of
//! issue 18. It reads the crate's sources as text, as `architecture.rs` does.
//!
//! Only top-level items are checked: `pub struct|enum|trait|fn|async fn|const|type NAME` at column 0. Methods,
//! fields and variants are not (a method's use is usually plain from its signature and its type's example).
//! Items marked `#[doc(hidden)]` are skipped, and so are the modules that are hidden or private and re-export
//! nothing: see [`LEFT_OUT`].

use std::fs;
use std::path::Path;

/// Modules not checked: the crate root, which only declares and re-exports; the fuzzing entry points (hidden);
/// `dsl`, whose public items are `#[doc(hidden)]` or carry their own docs for the macros' handlers; and the
/// private `serializer` and `transport`, whose `pub` items never leave the crate.
const LEFT_OUT: [&str; 5] = ["lib", "fuzz", "dsl", "serializer", "transport"];

/// Items whose use is obvious from their name, signature and the examples of the items that make or take
/// them: `module::Name`, each with its reason.
const OBVIOUS: &[&str] = &[
    // Error enums: matched on, never built; their variants say it all.
    "payload::PayloadError",
    "presence::TrackError",
    "channel::SendError",
    // Data enums: a stop's reason (the `OutResult` example builds one) and what `terminate` is told.
    "channel::StopReason",
    "channel::TerminateReason",
    // Constants of the browser client; `client_js` (the route serving them) has the example.
    "client::PATH",
    "client::SOURCE",
    "client::CONTENT_TYPE_JS",
    // The `Refuse` value: the `Refuse` struct it is an instance of has the example.
    "socket::Refuse",
    // What `TestClient`'s methods return and take back; the `TestClient` and `testing` examples use them.
    "testing::Joined",
    "testing::Ref",
    "testing::Received",
    // `CheckOrigin`'s example shows both: the patterns `allow` parses into `AllowedOrigin`s, and the `Origin` a
    // `CheckOrigin::Custom` function reads.
    "origin::Origin",
    "origin::AllowedOrigin",
    // Returned by `Endpoint::bind`, whose example uses it.
    "endpoint::Server",
    // What `Router::from_fn`'s dispatch returns: written by the `#[socket]` macro, never by hand.
    "socket::ChannelRoute",
    // Implemented by `ChannelSocket` only: the `socket` argument of `Presence::track`, never named otherwise.
    "presence::PresenceTracker",
    // Made by `Presence::owner`, whose example tracks, reads and drops one.
    "presence::PresenceOwner",
    // The `/metrics` route: `install_prometheus`'s example makes it from the handle.
    "metrics::route",
];

#[test]
fn every_public_item_that_is_not_obvious_has_an_example() {
    let items = public_items();
    assert!(items.len() > 30, "the scan found too few items, it must be broken: {items:#?}");
    let missing: Vec<&str> = items
        .iter()
        .filter(|item| !item.has_example && !OBVIOUS.contains(&item.name.as_str()))
        .map(|item| item.name.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "public items without an example (a ``` block) in their docs; write one, or add the item to OBVIOUS \
         with its reason: {missing:#?}"
    );
}

#[test]
fn the_allowlist_names_only_public_items_without_examples() {
    // An entry that no longer matches (renamed, made private, or given an example) would hide a future item.
    let items = public_items();
    let stale: Vec<&&str> =
        OBVIOUS.iter().filter(|name| !items.iter().any(|item| item.name == **name && !item.has_example)).collect();
    assert!(stale.is_empty(), "OBVIOUS entries that are not public items without an example: {stale:#?}");
}

#[test]
fn an_item_gaining_pub_without_an_example_is_found() {
    let source = "\
/// A thing.
#[derive(Debug)]
pub struct Plain;

/// Another thing.
///
/// ```
/// let _ = 1;
/// ```
#[diagnostic::on_unimplemented(
    message = \"not a thing\"
)]
pub trait Shown {}

#[doc(hidden)]
pub fn hidden() {}

/// Async.
pub async fn later() {}

pub(crate) fn inner() {}

impl Plain {
    /// A method.
    pub fn method() {}
}

#[cfg(test)]
mod tests {
    pub fn test_helper() {}
}
";
    let found: Vec<(String, bool)> =
        items_in("m", source).into_iter().map(|item| (item.name, item.has_example)).collect();
    assert_eq!(found, [("m::Plain".to_owned(), false), ("m::Shown".to_owned(), true), ("m::later".to_owned(), false)]);
}

#[derive(Debug)]
struct Item {
    /// `module::Name`, the module being the top-level one.
    name: String,
    has_example: bool,
}

/// Every checked public item of the crate.
fn public_items() -> Vec<Item> {
    let mut files = Vec::new();
    collect(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), None, &mut files);
    files.retain(|(module, _)| !LEFT_OUT.contains(&module.as_str()));
    files.iter().flat_map(|(module, text)| items_in(module, text)).collect()
}

/// `(top-level module, source text)` for every file under `src/`.
fn collect(dir: &Path, top: Option<&str>, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("UTF-8 file names").to_owned();
        let module = top.unwrap_or(&stem).to_owned();
        if path.is_dir() {
            collect(&path, Some(&module), out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((module, fs::read_to_string(&path).expect("a readable source file")));
        }
    }
}

/// The top-level public items of one file, cut at its `#[cfg(test)]` module.
fn items_in(module: &str, text: &str) -> Vec<Item> {
    let code = text.find("#[cfg(test)]\nmod ").map_or(text, |i| &text[..i]);
    let lines: Vec<&str> = code.lines().collect();
    let mut items = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = item_name(line) else { continue };
        let above = attached_above(&lines[..i]);
        if above.iter().any(|l| l.replace(' ', "").starts_with("#[doc(hidden)]")) {
            continue;
        }
        let has_example = above.iter().any(|l| l.trim_start().starts_with("/// ```"));
        items.push(Item { name: format!("{module}::{name}"), has_example });
    }
    items
}

/// `NAME` of a line `pub [async ]struct|enum|trait|fn|const|type NAME...` at column 0.
fn item_name(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("pub ")?;
    let rest = rest.strip_prefix("async ").unwrap_or(rest);
    let (keyword, rest) = rest.split_once(' ')?;
    if !["struct", "enum", "trait", "fn", "const", "type"].contains(&keyword) {
        return None;
    }
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|name| !name.is_empty())
}

/// The doc comment and attributes right above an item: the lines up to the previous blank line or item end.
/// Multi-line attributes come along, their inner lines being indented or closing with `)]`.
fn attached_above<'a>(before: &[&'a str]) -> Vec<&'a str> {
    before
        .iter()
        .rev()
        .take_while(|l| {
            l.starts_with("///")
                || l.starts_with("#[")
                || l.starts_with("//")
                || l.starts_with(')')
                || l.starts_with(']')
                || (l.starts_with(' ') && !l.trim().is_empty())
        })
        .copied()
        .collect()
}
