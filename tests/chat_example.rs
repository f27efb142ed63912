//! The chat example as a new user meets it: its page, a quiet browser console, and a clear error on a busy port.

mod support;

use std::process::Command;

use support::http::request;
use support::process::{ServerProcess, example_bin};

#[tokio::test]
async fn the_page_a_favicon_answer_and_a_busy_port_named() {
    let server = ServerProcess::start("chat");
    // The address as a URL a terminal makes clickable.
    assert!(server.logs().contains(&format!("(http://127.0.0.1:{})", server.port())), "{}", server.logs());
    let page = request(server.addr(), "GET", "/", &[], "").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<title>Chat</title>"), "{}", page.body);
    // The generated app's page: it shows whether the client is connected.
    assert!(page.body.contains(r#"<span id="status" data-state="connecting">"#), "{}", page.body);
    // Browsers ask for it; a quick empty answer keeps their console free of a 404.
    assert_eq!(request(server.addr(), "GET", "/favicon.ico", &[], "").await.status, 204);

    let second = Command::new(example_bin("chat")).env("PORT", server.port().to_string()).output().unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains(&format!("cannot listen on 127.0.0.1:{}", server.port())), "{stderr}");
    assert!(stderr.contains("PORT="), "{stderr}");
}
