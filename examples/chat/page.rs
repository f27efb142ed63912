//! The chat page: the one `channels new` writes into a generated app (shown connection status included), titled
//! "Chat". Shared by the `chat` and `axum` examples.

/// The page's HTML.
pub fn html() -> String {
    include_str!("../../channels-cli/templates/new/assets/index.html.tpl").replace("{{package_name}}", "Chat")
}
