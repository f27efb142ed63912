//! The generators: `channels new` writes a project from the templates, `channels gen channel` adds a channel to
//! one.
//!
//! Templates are the files under `templates/`, embedded in the binary with `include_str!` (the installed command
//! needs no data files) and filled by replacing `{{placeholder}}`s: the generated code is plain Rust that reads
//! well as it stands, which a template engine would not make any simpler.
//!
//! Both generators decide everything before they write anything: a refusal (a file that exists without `--force`,
//! a missing marker comment) leaves the disk untouched.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::names::{ChannelName, ProjectName};

/// A template: where its output goes, relative to the project's root, and its text.
struct Template {
    path: &'static str,
    text: &'static str,
}

/// The files of `channels new`.
const NEW_PROJECT: &[Template] = &[
    Template { path: "Cargo.toml", text: include_str!("../templates/new/Cargo.toml.tpl") },
    Template { path: ".gitignore", text: include_str!("../templates/new/gitignore.tpl") },
    Template { path: "README.md", text: include_str!("../templates/new/README.md.tpl") },
    Template { path: "src/main.rs", text: include_str!("../templates/new/src/main.rs.tpl") },
    Template { path: "src/lib.rs", text: include_str!("../templates/new/src/lib.rs.tpl") },
    Template { path: "src/config.rs", text: include_str!("../templates/new/src/config.rs.tpl") },
    Template { path: "src/web/mod.rs", text: include_str!("../templates/new/src/web/mod.rs.tpl") },
    Template { path: "src/web/user_socket.rs", text: include_str!("../templates/new/src/web/user_socket.rs.tpl") },
    Template { path: "src/web/room_channel.rs", text: include_str!("../templates/new/src/web/room_channel.rs.tpl") },
    Template { path: "assets/index.html", text: include_str!("../templates/new/assets/index.html.tpl") },
    Template { path: "tests/room_channel.rs", text: include_str!("../templates/new/tests/room_channel.rs.tpl") },
];

/// The channel module `channels gen channel` writes.
const CHANNEL: &str = include_str!("../templates/channel/channel.rs.tpl");

/// The channel's test `channels gen channel` writes.
const CHANNEL_TEST: &str = include_str!("../templates/channel/test.rs.tpl");

/// The module file `gen channel` declares channels in, and the socket handler it adds routes to.
const WEB_MOD: &str = "src/web/mod.rs";
const USER_SOCKET: &str = "src/web/user_socket.rs";

/// The comment lines of the `new` templates that `gen channel` inserts above (found by this text, so their
/// indentation and comment style may change).
pub const MODULES_MARKER: &str = "`channels gen channel NAME` adds its module above this line";
/// See [`MODULES_MARKER`].
pub const ROUTES_MARKER: &str = "`channels gen channel NAME` adds its route above this line";

/// A generator that could not do its work; nothing was written unless the message says otherwise.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn io_error(action: &str, path: &Path, e: io::Error) -> Error {
    Error(format!("cannot {action} {}: {e}", path.display()))
}

/// What a generator did to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new file.
    Created(PathBuf),
    /// A file that existed, replaced (with `--force`).
    Overwritten(PathBuf),
    /// A file that existed, edited in place.
    Updated(PathBuf),
    /// A file the generator would have edited, already up to date.
    Unchanged(PathBuf),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Created(path) => write!(f, "* creating {}", path.display()),
            Change::Overwritten(path) => write!(f, "* overwriting {}", path.display()),
            Change::Updated(path) => write!(f, "* updating {}", path.display()),
            Change::Unchanged(path) => write!(f, "* unchanged {}", path.display()),
        }
    }
}

/// Fills the `{{key}}` placeholders of `template` with their values, in one pass (a value is never scanned for
/// placeholders, so a path that happens to contain `{{` stays as it is).
///
/// # Panics
/// On a placeholder without a value, or an unclosed `{{`: a template and its generator disagree, which the unit
/// tests catch.
fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").unwrap_or_else(|| panic!("unclosed `{{{{` in a template"));
        let key = &after[..end];
        let value = vars.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        out.push_str(value.unwrap_or_else(|| panic!("template placeholder `{key}` has no value")));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// `path` as a TOML basic string's contents (backslashes and quotes escaped).
fn toml_escape(path: &str) -> Result<String, Error> {
    if path.chars().any(char::is_control) {
        return Err(Error(format!("the path {path:?} contains control characters, which Cargo.toml cannot hold")));
    }
    Ok(path.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `s`, quoted for a POSIX shell when it needs to be.
pub(crate) fn shell_quote(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:@%".contains(c)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Where a generated project takes the framework from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framework {
    /// The published package [`FRAMEWORK_PACKAGE`], at this version requirement (`0.1`).
    Published {
        /// The version requirement, as Cargo.toml writes it.
        version: String,
    },
    /// A local checkout of channels (absolute: the project may be built from anywhere), by path.
    Checkout(PathBuf),
}

/// The package the framework is published as. Its library is named `channels`, so a dependency on it under any key
/// is `use channels::...` in Rust code; generated projects use the key `channels` too, which reads the same.
pub const FRAMEWORK_PACKAGE: &str = "phx-channels";

/// The package of this command (`cargo install phx-channels-cli`).
pub const CLI_PACKAGE: &str = env!("CARGO_PKG_NAME");

impl Framework {
    /// The published framework of this tool's release line: its `MAJOR.MINOR` (the workspace versions the framework
    /// and this tool together), a caret requirement as `cargo add` writes one.
    pub fn published() -> Framework {
        let mut parts = env!("CARGO_PKG_VERSION").split('.');
        let (major, minor) = (parts.next().unwrap_or("0"), parts.next().unwrap_or("0"));
        Framework::Published { version: format!("{major}.{minor}") }
    }

    /// The dependency line of the generated Cargo.toml.
    fn dependency(&self) -> Result<String, Error> {
        let source = match self {
            Framework::Published { version } => format!("version = \"{}\"", toml_escape(version)?),
            Framework::Checkout(path) => format!("path = \"{}\"", toml_escape(utf8(path)?)?),
        };
        Ok(format!("channels = {{ package = \"{FRAMEWORK_PACKAGE}\", {source} }}"))
    }

    /// The shell command that installs the `channels` command, for the generated README.
    fn install_cli(&self) -> Result<String, Error> {
        Ok(match self {
            Framework::Published { .. } => format!("cargo install {CLI_PACKAGE}"),
            Framework::Checkout(path) => {
                format!("cargo install --path {}", shell_quote(&format!("{}/channels-cli", utf8(path)?)))
            }
        })
    }
}

fn utf8(path: &Path) -> Result<&str, Error> {
    path.to_str().ok_or_else(|| Error(format!("the path {} is not UTF-8, which Cargo.toml needs", path.display())))
}

/// The files `channels new` writes for `name`, depending on `framework`: each path relative to the project's
/// root, and its contents.
pub fn project_files(name: &ProjectName, framework: &Framework) -> Result<Vec<(PathBuf, String)>, Error> {
    let dependency = framework.dependency()?;
    let install_cli = framework.install_cli()?;
    let vars = [
        ("package_name", name.package.as_str()),
        ("crate_name", name.crate_name.as_str()),
        // The `channels = { package = .. }` line of Cargo.toml (and of the README, which shows it).
        ("channels_dependency", dependency.as_str()),
        // In the README: how to get the `channels` command.
        ("install_cli", install_cli.as_str()),
    ];
    Ok(NEW_PROJECT.iter().map(|t| (PathBuf::from(t.path), fill(t.text, &vars))).collect())
}

/// `channels new`: writes the project `name` into `root` (created if needed), refusing to replace existing files
/// unless `force`. `display_root` is how `root` is shown in the list of changes.
pub fn new_project(
    root: &Path,
    display_root: &Path,
    name: &ProjectName,
    framework: &Framework,
    force: bool,
) -> Result<Vec<Change>, Error> {
    if root.exists() && !root.is_dir() {
        return Err(Error(format!("{} exists and is not a directory", display_root.display())));
    }
    let files = project_files(name, framework)?;
    let existing: Vec<&Path> =
        files.iter().map(|(path, _)| path.as_path()).filter(|path| root.join(path).exists()).collect();
    if !existing.is_empty() && !force {
        return Err(refusal(display_root, &existing));
    }
    let mut changes = Vec::new();
    for (path, contents) in &files {
        let existed = root.join(path).exists();
        write_file(&root.join(path), contents)?;
        let shown = display_root.join(path);
        changes.push(if existed { Change::Overwritten(shown) } else { Change::Created(shown) });
    }
    Ok(changes)
}

fn refusal(display_root: &Path, existing: &[&Path]) -> Error {
    let list: Vec<String> = existing.iter().map(|p| format!("  {}", display_root.join(p).display())).collect();
    Error(format!(
        "refusing to overwrite {} existing file{} (pass --force to overwrite; nothing was written):\n{}",
        existing.len(),
        if existing.len() == 1 { "" } else { "s" },
        list.join("\n")
    ))
}

fn write_file(path: &Path, contents: &str) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| io_error("create the directory", parent, e))?;
    }
    fs::write(path, contents).map_err(|e| io_error("write", path, e))
}

fn read_file(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(|e| io_error("read", path, e))
}

/// The crate name (as Rust code spells it) of the package whose manifest is `manifest`: its `[package]` name with
/// `-` as `_`. A line-based reading of the manifest, enough for the ones `channels new` writes.
pub fn crate_name_of(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        if in_package && key.trim() == "name" {
            let name = value.trim().strip_prefix('"')?.split('"').next()?;
            return Some(name.replace('-', "_"));
        }
    }
    None
}

/// `text` with `insert` (lines ending in `\n`) added above the line that contains `marker`, indented like that
/// line; `None` when no line contains `marker`. Keeps the file's line endings (`\r\n` or `\n`).
fn insert_above_marker(text: &str, marker: &str, insert: &str) -> Option<String> {
    let line_start = text.find(marker).map(|at| text[..at].rfind('\n').map_or(0, |nl| nl + 1))?;
    let indent: String = text[line_start..].chars().take_while(|c| *c == ' ' || *c == '\t').collect();
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let block: String = insert
        .lines()
        .map(|line| if line.is_empty() { newline.to_owned() } else { format!("{indent}{line}{newline}") })
        .collect();
    Some(format!("{}{block}{}", &text[..line_start], &text[line_start..]))
}

/// `channels gen channel`: adds the channel `name` to the project in `project` (a project `channels new` made).
pub fn gen_channel(project: &Path, name: &ChannelName, force: bool) -> Result<Vec<Change>, Error> {
    for required in ["Cargo.toml", WEB_MOD, USER_SOCKET] {
        if !project.join(required).is_file() {
            return Err(Error(format!(
                "{} is not a project made by `channels new`: it has no {required}. Run `channels gen channel` in \
                 the project's directory",
                project.display()
            )));
        }
    }
    let crate_name = crate_name_of(&read_file(&project.join("Cargo.toml"))?)
        .ok_or_else(|| Error("Cargo.toml has no [package] name".into()))?;

    let vars = [
        ("channel_type", name.type_name.as_str()),
        ("topic", name.topic.as_str()),
        ("crate_name", crate_name.as_str()),
    ];
    let files = [
        (PathBuf::from(format!("src/web/{}.rs", name.module)), fill(CHANNEL, &vars)),
        (PathBuf::from(format!("tests/{}.rs", name.module)), fill(CHANNEL_TEST, &vars)),
    ];
    let existing: Vec<&Path> =
        files.iter().map(|(path, _)| path.as_path()).filter(|path| project.join(path).exists()).collect();
    if !existing.is_empty() && !force {
        return Err(refusal(Path::new(""), &existing));
    }

    // The edits, decided before anything is written.
    let module_decl = format!("pub mod {};", name.module);
    let modules = read_file(&project.join(WEB_MOD))?;
    let new_modules = if modules.lines().any(|line| line.trim() == module_decl) {
        None
    } else {
        let insert = format!("{module_decl}\npub use {}::{};\n\n", name.module, name.type_name);
        Some(
            insert_above_marker(&modules, MODULES_MARKER, &insert)
                .ok_or_else(|| missing_marker(WEB_MOD, MODULES_MARKER))?,
        )
    };
    let pattern = format!("\"{}:*\"", name.topic);
    let route = format!("channel!({pattern} => {});", name.type_name);
    let socket = read_file(&project.join(USER_SOCKET))?;
    let new_socket = if socket.lines().any(|line| line.trim() == route) {
        None
    } else if socket.lines().any(|line| line.contains("channel!") && line.contains(&pattern)) {
        return Err(Error(format!(
            "{USER_SOCKET} already routes the topics {pattern} to another channel; name the new channel differently"
        )));
    } else {
        Some(
            insert_above_marker(&socket, ROUTES_MARKER, &format!("{route}\n"))
                .ok_or_else(|| missing_marker(USER_SOCKET, ROUTES_MARKER))?,
        )
    };

    let mut changes = Vec::new();
    for (path, contents) in &files {
        let existed = project.join(path).exists();
        write_file(&project.join(path), contents)?;
        changes.push(if existed { Change::Overwritten(path.clone()) } else { Change::Created(path.clone()) });
    }
    for (path, edited) in [(WEB_MOD, new_modules), (USER_SOCKET, new_socket)] {
        match edited {
            Some(text) => {
                write_file(&project.join(path), &text)?;
                changes.push(Change::Updated(PathBuf::from(path)));
            }
            None => changes.push(Change::Unchanged(PathBuf::from(path))),
        }
    }
    Ok(changes)
}

fn missing_marker(file: &str, marker: &str) -> Error {
    Error(format!(
        "{file} has no line with the comment `// {marker}.`, which shows where to add the channel; put it back \
         (nothing was written)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{channel_name, project_name};

    /// A fresh directory under the system's temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(label: &str) -> TempDir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("channels-cli-unit-{}-{label}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn generate(dir: &TempDir, force: bool) -> Result<Vec<Change>, Error> {
        let name = project_name("my-chat").unwrap();
        new_project(&dir.0.join("my-chat"), Path::new("my-chat"), &name, &Framework::published(), force)
    }

    #[test]
    fn every_placeholder_is_filled() {
        let name = project_name("my-chat").unwrap();
        for framework in [Framework::published(), Framework::Checkout("/opt/channels".into())] {
            for (path, text) in project_files(&name, &framework).unwrap() {
                assert!(!text.contains("{{"), "{}", path.display());
            }
        }
        let lobby = channel_name("Lobby").unwrap();
        let vars = [("channel_type", "LobbyChannel"), ("topic", lobby.topic.as_str()), ("crate_name", "my_chat")];
        assert!(!fill(CHANNEL, &vars).contains("{{") && !fill(CHANNEL_TEST, &vars).contains("{{"));
        assert!(fill(CHANNEL, &vars).contains("pub struct LobbyChannel;"));
        assert!(fill(CHANNEL, &vars).contains("#[join(\"lobby:{_id}\")]"));
        assert!(fill(CHANNEL_TEST, &vars).contains("use my_chat::web::UserSocket;"));
    }

    #[test]
    #[should_panic(expected = "placeholder `missing` has no value")]
    fn an_unfilled_placeholder_panics() {
        fill("a {{missing}} b", &[("other", "x")]);
    }

    #[test]
    fn values_are_not_scanned_for_placeholders() {
        assert_eq!(fill("{{a}}-{{b}}", &[("a", "{{b}}"), ("b", "x")]), "{{b}}-x");
    }

    #[test]
    fn depends_on_the_published_framework_by_default() {
        let name = project_name("my-chat").unwrap();
        let files = project_files(&name, &Framework::published()).unwrap();
        let text = |path: &str| &files.iter().find(|(p, _)| p == Path::new(path)).unwrap().1;
        let version: Vec<&str> = env!("CARGO_PKG_VERSION").split('.').take(2).collect();
        let line = format!("channels = {{ package = \"phx-channels\", version = \"{}\" }}\n", version.join("."));
        assert!(text("Cargo.toml").contains(&line), "{}", text("Cargo.toml"));
        assert!(!text("Cargo.toml").contains(", path ="), "{}", text("Cargo.toml"));
        assert!(text("README.md").contains(&line) && text("README.md").contains("cargo install phx-channels-cli\n"));
    }

    #[test]
    fn fills_names_and_the_escaped_channels_path() {
        let name = project_name("my-chat").unwrap();
        let files = project_files(&name, &Framework::Checkout(r#"C:\src\"channels""#.into())).unwrap();
        let text = |path: &str| &files.iter().find(|(p, _)| p == Path::new(path)).unwrap().1;
        assert!(text("Cargo.toml").contains(r#"name = "my-chat""#));
        assert!(
            text("Cargo.toml").contains(r#"channels = { package = "phx-channels", path = "C:\\src\\\"channels\"" }"#)
        );
        assert!(text("README.md").contains(r#"cargo install --path 'C:\src\"channels"/channels-cli'"#));
        assert!(text("src/main.rs").contains("use my_chat::web::UserSocket;"));
        assert!(text("tests/room_channel.rs").contains("use my_chat::web::UserSocket;"));
        assert!(text("assets/index.html").contains("<title>my-chat</title>"));
        assert_eq!(crate_name_of(text("Cargo.toml")).as_deref(), Some("my_chat"));
    }

    #[test]
    fn the_templates_carry_the_markers() {
        let name = project_name("chat").unwrap();
        let files = project_files(&name, &Framework::published()).unwrap();
        let text = |path: &str| &files.iter().find(|(p, _)| p == Path::new(path)).unwrap().1;
        assert!(text(WEB_MOD).contains(MODULES_MARKER));
        assert!(text(USER_SOCKET).contains(ROUTES_MARKER));
    }

    #[test]
    fn new_writes_every_file_then_refuses_to_overwrite() {
        let dir = TempDir::new("refuse");
        let changes = generate(&dir, false).unwrap();
        assert_eq!(changes.len(), NEW_PROJECT.len());
        assert!(changes.contains(&Change::Created(PathBuf::from("my-chat/src/main.rs"))));
        let main = dir.0.join("my-chat/src/main.rs");
        fs::write(&main, "// mine").unwrap();
        fs::remove_file(dir.0.join("my-chat/README.md")).unwrap();

        let refused = generate(&dir, false).expect_err("existing files must be refused").0;
        assert!(refused.contains("--force"), "{refused}");
        assert!(refused.contains("my-chat/src/main.rs") && refused.contains("my-chat/Cargo.toml"), "{refused}");
        assert!(!refused.contains("README.md"), "{refused}");
        // Nothing written: the edited file stays, the removed one stays removed.
        assert_eq!(fs::read_to_string(&main).unwrap(), "// mine");
        assert!(!dir.0.join("my-chat/README.md").exists());
    }

    #[test]
    fn new_with_force_overwrites_and_leaves_other_files_alone() {
        let dir = TempDir::new("force");
        generate(&dir, false).unwrap();
        fs::write(dir.0.join("my-chat/src/main.rs"), "// mine").unwrap();
        fs::write(dir.0.join("my-chat/notes.txt"), "keep").unwrap();
        let changes = generate(&dir, true).unwrap();
        assert!(changes.contains(&Change::Overwritten(PathBuf::from("my-chat/src/main.rs"))));
        assert_ne!(fs::read_to_string(dir.0.join("my-chat/src/main.rs")).unwrap(), "// mine");
        assert_eq!(fs::read_to_string(dir.0.join("my-chat/notes.txt")).unwrap(), "keep");
    }

    #[test]
    fn new_refuses_a_file_where_the_directory_goes() {
        let dir = TempDir::new("file");
        fs::write(dir.0.join("my-chat"), "").unwrap();
        assert!(generate(&dir, true).unwrap_err().0.contains("not a directory"));
    }

    #[test]
    fn gen_channel_adds_the_module_route_and_test() {
        let dir = TempDir::new("gen");
        generate(&dir, false).unwrap();
        let project = dir.0.join("my-chat");
        let changes = gen_channel(&project, &channel_name("ChatRoom").unwrap(), false).unwrap();
        assert_eq!(
            changes,
            [
                Change::Created("src/web/chat_room_channel.rs".into()),
                Change::Created("tests/chat_room_channel.rs".into()),
                Change::Updated(WEB_MOD.into()),
                Change::Updated(USER_SOCKET.into()),
            ]
        );
        let modules = fs::read_to_string(project.join(WEB_MOD)).unwrap();
        assert!(
            modules.contains(&format!(
                "pub mod chat_room_channel;\npub use chat_room_channel::ChatRoomChannel;\n\n// {MODULES_MARKER}"
            )),
            "{modules}"
        );
        let socket = fs::read_to_string(project.join(USER_SOCKET)).unwrap();
        assert!(
            socket.contains(&format!(
                "    channel!(\"rooms:*\" => RoomChannel);\n    channel!(\"chat_room:*\" => ChatRoomChannel);\n    // {ROUTES_MARKER}"
            )),
            "{socket}"
        );
        let test = fs::read_to_string(project.join("tests/chat_room_channel.rs")).unwrap();
        assert!(test.contains("use my_chat::web::UserSocket;") && test.contains("\"chat_room:lobby\""), "{test}");
    }

    #[test]
    fn gen_channel_refuses_to_overwrite_and_with_force_does_not_duplicate() {
        let dir = TempDir::new("gen-force");
        generate(&dir, false).unwrap();
        let project = dir.0.join("my-chat");
        let lobby = channel_name("Lobby").unwrap();
        gen_channel(&project, &lobby, false).unwrap();
        let modules = fs::read_to_string(project.join(WEB_MOD)).unwrap();
        let socket = fs::read_to_string(project.join(USER_SOCKET)).unwrap();
        fs::write(project.join("src/web/lobby_channel.rs"), "// mine").unwrap();

        let refused = gen_channel(&project, &lobby, false).unwrap_err().0;
        assert!(refused.contains("src/web/lobby_channel.rs") && refused.contains("--force"), "{refused}");
        assert_eq!(fs::read_to_string(project.join("src/web/lobby_channel.rs")).unwrap(), "// mine");

        let changes = gen_channel(&project, &lobby, true).unwrap();
        assert!(changes.contains(&Change::Overwritten("src/web/lobby_channel.rs".into())));
        assert!(changes.contains(&Change::Unchanged(WEB_MOD.into())));
        assert!(changes.contains(&Change::Unchanged(USER_SOCKET.into())));
        assert_eq!(fs::read_to_string(project.join(WEB_MOD)).unwrap(), modules);
        assert_eq!(fs::read_to_string(project.join(USER_SOCKET)).unwrap(), socket);
    }

    #[test]
    fn gen_channel_refuses_a_routed_topic_a_missing_marker_or_a_foreign_directory() {
        let dir = TempDir::new("gen-refuse");
        generate(&dir, false).unwrap();
        let project = dir.0.join("my-chat");
        // `Rooms` would route "rooms:*" again, to a new channel.
        let refused = gen_channel(&project, &channel_name("Rooms").unwrap(), false).unwrap_err().0;
        assert!(refused.contains("already routes the topics \"rooms:*\""), "{refused}");
        assert!(!project.join("src/web/rooms_channel.rs").exists());

        let socket = fs::read_to_string(project.join(USER_SOCKET)).unwrap();
        fs::write(project.join(USER_SOCKET), socket.replace(ROUTES_MARKER, "routes")).unwrap();
        let refused = gen_channel(&project, &channel_name("Lobby").unwrap(), false).unwrap_err().0;
        assert!(refused.contains(ROUTES_MARKER) && refused.contains("nothing was written"), "{refused}");
        assert!(!project.join("src/web/lobby_channel.rs").exists());
        assert!(!fs::read_to_string(project.join(WEB_MOD)).unwrap().contains("lobby"));

        let refused = gen_channel(&dir.0, &channel_name("Lobby").unwrap(), false).unwrap_err().0;
        assert!(refused.contains("not a project made by `channels new`"), "{refused}");
    }

    #[test]
    fn inserts_above_the_marker_with_its_indentation_and_line_endings() {
        let text = "fn a() {\r\n    x();\r\n    // MARK here\r\n}\r\n";
        assert_eq!(
            insert_above_marker(text, "MARK", "y();\n").unwrap(),
            "fn a() {\r\n    x();\r\n    y();\r\n    // MARK here\r\n}\r\n"
        );
        assert_eq!(insert_above_marker("// MARK", "MARK", "a\n\n").unwrap(), "a\n\n// MARK");
        assert_eq!(insert_above_marker("nothing", "MARK", "a\n"), None);
    }

    #[test]
    fn reads_the_crate_name_of_a_manifest() {
        assert_eq!(crate_name_of("[package]\nname = \"my-chat\"\n").as_deref(), Some("my_chat"));
        assert_eq!(
            crate_name_of("[workspace]\nname = \"x\"\n[package]\nversion = \"1\"\nname=\"b\"").as_deref(),
            Some("b")
        );
        assert_eq!(crate_name_of("[dependencies]\nname = \"x\"\n"), None);
        assert_eq!(crate_name_of("[package]\nnamespace = 1\nname = \"c\"").as_deref(), Some("c"));
    }
}
