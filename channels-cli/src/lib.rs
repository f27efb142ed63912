//! The `channels` command: `channels new NAME` scaffolds the chat app of the Phoenix Channels guide, ready to run,
//! and `channels gen channel NAME` adds a channel to it, as `mix phx.new` and `mix phx.gen.channel` do for Phoenix.
//!
//! A separate crate with no dependencies, so nothing only this tool needs reaches the apps that depend on
//! `channels`. The binary (`src/main.rs`) only reads the process's arguments and directory and calls
//! [`run`]; the pieces are [`args`] (the command line), [`names`] (what a valid name is) and [`generate`] (the
//! templates and the files they become).

#![deny(missing_docs)]

pub mod args;
pub mod generate;
pub mod names;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use args::{Command, HelpTopic};
use generate::shell_quote;

/// The checkout of channels this tool was built from, which generated projects depend on unless told otherwise:
/// the parent of this crate's directory, recorded at compile time (`cargo install --path channels-cli` records
/// the checkout it installs from).
pub fn default_channels_path() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Runs `command` with `cwd` as the current directory; returns what to print, or the error to report.
pub fn run(command: Command, cwd: &Path) -> Result<String, String> {
    match command {
        Command::Help(None) => Ok(args::USAGE.to_owned()),
        Command::Help(Some(topic)) => Ok(usage(topic).to_owned()),
        Command::Version => Ok(format!("channels {}\n", env!("CARGO_PKG_VERSION"))),
        Command::New { name, dir, channels_path, force } => new(&name, dir, channels_path, force, cwd),
        Command::GenChannel { name, force } => gen_channel(&name, force, cwd),
    }
}

/// The usage text of one command.
pub fn usage(topic: HelpTopic) -> &'static str {
    match topic {
        HelpTopic::New => args::USAGE_NEW,
        HelpTopic::GenChannel => args::USAGE_GEN,
    }
}

fn new(
    name: &str,
    dir: Option<PathBuf>,
    channels_path: Option<PathBuf>,
    force: bool,
    cwd: &Path,
) -> Result<String, String> {
    let name = names::project_name(name).map_err(|e| e.to_string())?;
    let channels_path = channels_checkout(channels_path, cwd)?;
    let display_root = match &dir {
        Some(dir) => dir.join(&name.package),
        None => PathBuf::from(&name.package),
    };
    let root = cwd.join(&display_root);
    let changes =
        generate::new_project(&root, &display_root, &name, &channels_path, force).map_err(|e| e.to_string())?;

    let mut out = String::new();
    for change in &changes {
        let _ = writeln!(out, "{change}");
    }
    let _ = write!(
        out,
        "\nYour chat app is ready, depending on channels at {}. Run it:\n\n    cd {}\n    cargo run\n\nthen open \
         http://127.0.0.1:4000 in two browser tabs. `cargo test` runs its channel tests; `channels gen channel NAME` \
         adds a channel.\n",
        channels_path.display(),
        shell_quote(&display_root.display().to_string()),
    );
    Ok(out)
}

/// The channels checkout to depend on, absolute and checked: `--channels-path` (relative to `cwd`) or the default.
fn channels_checkout(given: Option<PathBuf>, cwd: &Path) -> Result<PathBuf, String> {
    let (path, origin) = match given {
        Some(path) => (cwd.join(path), "--channels-path"),
        None => (default_channels_path(), "the checkout this tool was built from"),
    };
    let path = path.canonicalize().map_err(|e| {
        format!("cannot use {} ({origin}) as the channels dependency: {e}; pass --channels-path PATH", path.display())
    })?;
    let manifest = std::fs::read_to_string(path.join("Cargo.toml")).unwrap_or_default();
    if generate::crate_name_of(&manifest).as_deref() != Some("phx_channels") {
        return Err(format!(
            "{} ({origin}) is not a checkout of channels: its Cargo.toml does not define the package \
             `phx-channels`; pass --channels-path PATH",
            path.display()
        ));
    }
    Ok(path)
}

fn gen_channel(name: &str, force: bool, cwd: &Path) -> Result<String, String> {
    let name = names::channel_name(name).map_err(|e| e.to_string())?;
    let changes = generate::gen_channel(cwd, &name, force).map_err(|e| e.to_string())?;
    let mut out = String::new();
    for change in &changes {
        let _ = writeln!(out, "{change}");
    }
    let _ = write!(
        out,
        "\n{ty} serves the topics {topic}:*; join one from the page with `socket.channel(\"{topic}:lobby\", \
         {{}}).join()`.\nNext: cargo test --test {module}\n",
        ty = name.type_name,
        topic = name.topic,
        module = name.module,
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_channels_path_is_this_workspace() {
        let path = default_channels_path();
        assert!(path.join("channels-cli/Cargo.toml").is_file(), "{}", path.display());
        assert_eq!(channels_checkout(None, Path::new("/")).unwrap(), path.canonicalize().unwrap());
    }

    #[test]
    fn a_channels_path_must_be_a_checkout_of_channels() {
        let cli = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert!(channels_checkout(Some("..".into()), cli).is_ok());
        let err = channels_checkout(Some(".".into()), cli).unwrap_err();
        assert!(err.contains("is not a checkout of channels"), "{err}");
        let err = channels_checkout(Some("no/such/dir".into()), cli).unwrap_err();
        assert!(err.contains("cannot use") && err.contains("--channels-path"), "{err}");
    }

    #[test]
    fn quotes_paths_for_the_shell_only_when_needed() {
        assert_eq!(shell_quote("apps/my_chat"), "apps/my_chat");
        assert_eq!(shell_quote("my apps/chat"), "'my apps/chat'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn help_and_version() {
        assert!(run(Command::Help(None), Path::new("/")).unwrap().contains("channels gen channel NAME"));
        assert!(run(Command::Help(Some(HelpTopic::New)), Path::new("/")).unwrap().contains("--channels-path"));
        assert_eq!(run(Command::Version, Path::new("/")).unwrap(), format!("channels {}\n", env!("CARGO_PKG_VERSION")));
    }
}
