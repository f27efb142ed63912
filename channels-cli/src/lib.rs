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
use generate::{FRAMEWORK_PACKAGE, Framework, shell_quote};

/// The environment variable that, like `--channels-path` (which wins over it), names a local checkout of channels
/// for `channels new` to depend on.
pub const CHANNELS_PATH_ENV: &str = "CHANNELS_PATH";

/// What the command reads from its environment besides the arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    /// [`CHANNELS_PATH_ENV`], when set and not empty.
    pub channels_path: Option<PathBuf>,
}

impl Env {
    /// The process's environment.
    pub fn from_process() -> Env {
        let channels_path = std::env::var_os(CHANNELS_PATH_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
        Env { channels_path }
    }
}

/// Runs `command` with `cwd` as the current directory; returns what to print, or the error to report.
pub fn run(command: Command, cwd: &Path, env: &Env) -> Result<String, String> {
    match command {
        Command::Help(None) => Ok(args::USAGE.to_owned()),
        Command::Help(Some(topic)) => Ok(usage(topic).to_owned()),
        Command::Version => Ok(format!("channels {}\n", env!("CARGO_PKG_VERSION"))),
        Command::New { name, dir, channels_path, force } => new(&name, dir, channels_path, force, cwd, env),
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
    env: &Env,
) -> Result<String, String> {
    let name = names::project_name(name).map_err(|e| e.to_string())?;
    let framework = framework(channels_path, env, cwd)?;
    let display_root = match &dir {
        Some(dir) => dir.join(&name.package),
        None => PathBuf::from(&name.package),
    };
    let root = cwd.join(&display_root);
    let changes = generate::new_project(&root, &display_root, &name, &framework, force).map_err(|e| e.to_string())?;

    let mut out = String::new();
    for change in &changes {
        let _ = writeln!(out, "{change}");
    }
    let source = match &framework {
        Framework::Published { version } => format!("{FRAMEWORK_PACKAGE} {version}"),
        Framework::Checkout(path) => format!("the channels checkout at {}", path.display()),
    };
    let _ = write!(
        out,
        "\nYour chat app is ready, depending on {source}. Run it:\n\n    cd {}\n    cargo run\n\nthen open \
         http://127.0.0.1:4000 in two browser tabs. `cargo test` runs its channel tests; `channels gen channel NAME` \
         adds a channel.\n",
        shell_quote(&display_root.display().to_string()),
    );
    Ok(out)
}

/// Where the project takes the framework from: the checkout named by `--channels-path` or else by
/// `CHANNELS_PATH` (relative to `cwd`; made absolute and checked), or else the published package.
fn framework(given: Option<PathBuf>, env: &Env, cwd: &Path) -> Result<Framework, String> {
    let (path, origin) = match (given, &env.channels_path) {
        (Some(path), _) => (cwd.join(path), "--channels-path"),
        (None, Some(path)) => (cwd.join(path), CHANNELS_PATH_ENV),
        (None, None) => return Ok(Framework::published()),
    };
    let path = path
        .canonicalize()
        .map_err(|e| format!("cannot use {} ({origin}) as the channels dependency: {e}", path.display()))?;
    let manifest = std::fs::read_to_string(path.join("Cargo.toml")).unwrap_or_default();
    if generate::crate_name_of(&manifest) != Some(FRAMEWORK_PACKAGE.replace('-', "_")) {
        return Err(format!(
            "{} ({origin}) is not a checkout of channels: its Cargo.toml does not define the package \
             `{FRAMEWORK_PACKAGE}`; give the directory of the checkout's top Cargo.toml",
            path.display()
        ));
    }
    Ok(Framework::Checkout(path))
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
    fn the_default_is_the_published_framework() {
        assert_eq!(framework(None, &Env::default(), Path::new("/")).unwrap(), Framework::published());
        let version: Vec<&str> = env!("CARGO_PKG_VERSION").split('.').take(2).collect();
        assert_eq!(Framework::published(), Framework::Published { version: version.join(".") });
    }

    #[test]
    fn a_channels_path_must_be_a_checkout_of_channels() {
        // This workspace's root defines the package FRAMEWORK_PACKAGE (which also checks the constant).
        let cli = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = cli.parent().unwrap().canonicalize().unwrap();
        assert_eq!(framework(Some("..".into()), &Env::default(), cli).unwrap(), Framework::Checkout(root));
        let err = framework(Some(".".into()), &Env::default(), cli).unwrap_err();
        assert!(err.contains("is not a checkout of channels") && err.contains("`phx-channels`"), "{err}");
        let err = framework(Some("no/such/dir".into()), &Env::default(), cli).unwrap_err();
        assert!(err.contains("cannot use") && err.contains("--channels-path"), "{err}");
    }

    #[test]
    fn channels_path_in_the_environment_is_used_unless_the_option_is_given() {
        let cli = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = cli.parent().unwrap().canonicalize().unwrap();
        let env = Env { channels_path: Some("..".into()) };
        assert_eq!(framework(None, &env, cli).unwrap(), Framework::Checkout(root));
        let err = framework(Some("no/such/dir".into()), &env, cli).unwrap_err();
        assert!(err.contains("(--channels-path)"), "{err}");
        let env = Env { channels_path: Some("no/such/dir".into()) };
        let err = framework(None, &env, cli).unwrap_err();
        assert!(err.contains("(CHANNELS_PATH)"), "{err}");
    }

    #[test]
    fn quotes_paths_for_the_shell_only_when_needed() {
        assert_eq!(shell_quote("apps/my_chat"), "apps/my_chat");
        assert_eq!(shell_quote("my apps/chat"), "'my apps/chat'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn help_and_version() {
        let (root, env) = (Path::new("/"), &Env::default());
        assert!(run(Command::Help(None), root, env).unwrap().contains("channels gen channel NAME"));
        assert!(run(Command::Help(Some(HelpTopic::New)), root, env).unwrap().contains("--channels-path"));
        assert_eq!(run(Command::Version, root, env).unwrap(), format!("channels {}\n", env!("CARGO_PKG_VERSION")));
    }
}
