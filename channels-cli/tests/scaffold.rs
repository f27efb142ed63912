//! `channels new` then `channels gen channel`, as a user runs them, and the generated project built and tested
//! with Cargo against this workspace's framework (by path); and where the framework comes from.

mod common;

use std::fs;

use common::{TempDir, cargo, channels, channels_ok, channels_with_env, new_local, texts, workspace_root};

/// The files `channels new` writes.
const PROJECT_FILES: &[&str] = &[
    "Cargo.toml",
    ".gitignore",
    "README.md",
    "src/main.rs",
    "src/lib.rs",
    "src/config.rs",
    "src/web/mod.rs",
    "src/web/user_socket.rs",
    "src/web/room_channel.rs",
    "assets/index.html",
    "tests/room_channel.rs",
];

#[test]
fn new_then_gen_channel_gives_a_project_that_builds_passes_its_tests_and_is_formatted() {
    let tmp = TempDir::new("scaffold");

    // `new`: every file, listed, then the next command.
    let out = new_local(tmp.path(), "scaffold_chat");
    for file in PROJECT_FILES {
        assert!(out.contains(&format!("* creating scaffold_chat/{file}\n")), "{file} not listed:\n{out}");
        assert!(tmp.path().join("scaffold_chat").join(file).is_file(), "{file} not written");
    }
    assert!(out.contains("    cd scaffold_chat\n    cargo run\n"), "no next command:\n{out}");
    let project = tmp.path().join("scaffold_chat");

    // It depends on this workspace's framework, by absolute path.
    let manifest = fs::read_to_string(project.join("Cargo.toml")).unwrap();
    let root = workspace_root().canonicalize().unwrap();
    let dependency = format!("channels = {{ package = \"phx-channels\", path = \"{}\" }}\n", root.display());
    assert!(manifest.contains(&dependency), "{manifest}");
    assert!(out.contains(&format!("depending on the channels checkout at {}.", root.display())), "{out}");

    // Running `new` again refuses, naming the files, and changes nothing.
    fs::write(project.join("src/web/room_channel.rs"), "// edited").unwrap();
    let again = channels(tmp.path(), &["new", "scaffold_chat"]);
    let (stdout, stderr) = texts(&again);
    assert_eq!(again.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("refusing to overwrite") && stderr.contains("--force"), "{stderr}");
    assert!(stderr.contains("scaffold_chat/src/main.rs"), "{stderr}");
    assert_eq!(fs::read_to_string(project.join("src/web/room_channel.rs")).unwrap(), "// edited");
    // --force restores it.
    let root_arg = root.display().to_string();
    let forced = channels_ok(tmp.path(), &["new", "scaffold_chat", "--force", "--channels-path", &root_arg]);
    assert!(forced.contains("* overwriting scaffold_chat/src/web/room_channel.rs"), "{forced}");

    // `gen channel`, like `mix phx.gen.channel Lobby`.
    let out = channels_ok(&project, &["gen", "channel", "Lobby"]);
    for line in [
        "* creating src/web/lobby_channel.rs",
        "* creating tests/lobby_channel.rs",
        "* updating src/web/mod.rs",
        "* updating src/web/user_socket.rs",
        "Next: cargo test --test lobby_channel",
    ] {
        assert!(out.contains(line), "`{line}` missing:\n{out}");
    }
    let socket = fs::read_to_string(project.join("src/web/user_socket.rs")).unwrap();
    assert!(socket.contains("    channel!(\"lobby:*\" => LobbyChannel);\n"), "{socket}");
    let refused = channels(&project, &["gen", "channel", "Lobby"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(texts(&refused).1.contains("refusing to overwrite"), "{}", texts(&refused).1);

    // The project builds without warnings, its tests (RoomChannel's and LobbyChannel's) pass, and the generated
    // code is as `cargo fmt` writes it.
    cargo(&project, &["build"]);
    let (stdout, _) = cargo(&project, &["test"]);
    for test in [
        "new_msg_is_broadcast_to_everyone_in_the_room",
        "other_rooms_are_private",
        "a_message_without_a_body_is_refused_and_not_broadcast",
        "ping_replies_with_status_ok",
        "shout_broadcasts_to_the_topic",
        "broadcasts_are_pushed_to_the_client",
    ] {
        assert!(stdout.contains(&format!("test {test} ... ok")), "{test} did not pass:\n{stdout}");
    }
    cargo(&project, &["fmt", "--check"]);
}

#[test]
fn dashed_names_are_packages_with_an_underscored_crate() {
    let tmp = TempDir::new("dashed");
    let out = channels_ok(tmp.path(), &["new", "my-chat", "--dir", "apps"]);
    assert!(out.contains("* creating apps/my-chat/Cargo.toml"), "{out}");
    assert!(out.contains("    cd apps/my-chat\n"), "{out}");
    let project = tmp.path().join("apps/my-chat");
    assert!(fs::read_to_string(project.join("Cargo.toml")).unwrap().contains("name = \"my-chat\""));
    assert!(fs::read_to_string(project.join("src/main.rs")).unwrap().contains("use my_chat::web::UserSocket;"));
}

#[test]
fn invalid_names_and_usage_errors_fail_without_writing() {
    let tmp = TempDir::new("invalid");
    for (args, code, message) in [
        (&["new", "MyChat"][..], 1, "use lowercase, e.g. `my_chat`"),
        (&["new", "2chat"][..], 1, "starts with a digit"),
        (&["new", "fn"][..], 1, "keyword"),
        (&["new", "apps/chat"][..], 1, "not a name"),
        (&["new", ""][..], 1, "empty"),
        (&["new"][..], 2, "needs the NAME"),
        (&["new", "chat", "--nope"][..], 2, "unknown option `--nope`"),
        (&["gen", "channel", "chat-room"][..], 1, "try `chat_room`"),
        (&["gen", "channel", "Lobby"][..], 1, "not a project made by `channels new`"),
        (&["frobnicate"][..], 2, "unknown command"),
    ] {
        let output = channels(tmp.path(), args);
        let (stdout, stderr) = texts(&output);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stdout}{stderr}");
        assert!(stderr.starts_with("error: ") && stderr.contains(message), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?} printed to stdout: {stdout}");
        if code == 2 {
            assert!(stderr.contains("Usage:"), "{args:?} shows no usage: {stderr}");
        }
    }
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0, "something was written");
}

#[test]
fn by_default_the_project_depends_on_the_published_framework() {
    let tmp = TempDir::new("published");
    let out = channels_ok(tmp.path(), &["new", "chat"]);
    let version: Vec<&str> = env!("CARGO_PKG_VERSION").split('.').take(2).collect();
    let version = version.join(".");
    assert!(out.contains(&format!("depending on phx-channels {version}.")), "{out}");
    let manifest = fs::read_to_string(tmp.path().join("chat/Cargo.toml")).unwrap();
    let dependency = format!("channels = {{ package = \"phx-channels\", version = \"{version}\" }}\n");
    assert!(manifest.contains(&dependency) && !manifest.contains(", path ="), "{manifest}");
}

#[test]
fn channels_path_in_the_environment_names_a_checkout_and_the_option_wins() {
    let tmp = TempDir::new("env-path");
    let root = workspace_root().canonicalize().unwrap();
    let output = channels_with_env(tmp.path(), &["new", "chat"], &[("CHANNELS_PATH", &root.display().to_string())]);
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    let manifest = fs::read_to_string(tmp.path().join("chat/Cargo.toml")).unwrap();
    assert!(manifest.contains(&format!("path = \"{}\" }}", root.display())), "{manifest}");

    let output = channels_with_env(
        tmp.path(),
        &["new", "chat2", "--channels-path", &root.display().to_string()],
        &[("CHANNELS_PATH", "no/such/dir")],
    );
    assert!(output.status.success(), "{}", texts(&output).1);
    let output = channels_with_env(tmp.path(), &["new", "chat3"], &[("CHANNELS_PATH", "no/such/dir")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(texts(&output).1.contains("(CHANNELS_PATH)"), "{}", texts(&output).1);
    assert!(!tmp.path().join("chat3").exists());
}

#[test]
fn a_channels_path_that_is_not_a_channels_checkout_is_refused() {
    let tmp = TempDir::new("bad-path");
    let output = channels(tmp.path(), &["new", "chat", "--channels-path", "."]);
    assert_eq!(output.status.code(), Some(1));
    assert!(texts(&output).1.contains("is not a checkout of channels"), "{}", texts(&output).1);
    assert!(!tmp.path().join("chat").exists());

    let out = channels_ok(tmp.path(), &["new", "chat", "--channels-path", &workspace_root().display().to_string()]);
    assert!(out.contains("* creating chat/Cargo.toml"), "{out}");
}

#[test]
fn help_and_version() {
    let tmp = TempDir::new("help");
    assert!(channels_ok(tmp.path(), &["--help"]).contains("channels gen channel NAME"));
    assert!(channels_ok(tmp.path(), &["help", "gen"]).contains("mix phx.gen.channel"));
    assert!(channels_ok(tmp.path(), &["new", "--help"]).contains("--channels-path PATH"));
    assert_eq!(channels_ok(tmp.path(), &["--version"]), format!("channels {}\n", env!("CARGO_PKG_VERSION")));
}
