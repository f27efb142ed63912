//! The command line, parsed by hand: two commands and four options do not need an argument-parsing crate.

use std::fmt;
use std::path::PathBuf;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `channels new NAME [--dir DIR] [--channels-path PATH] [--force]`.
    New {
        /// The project name, not yet validated.
        name: String,
        /// The directory to create the project in (`DIR/NAME`); the current directory when absent.
        dir: Option<PathBuf>,
        /// The checkout of channels the project depends on by path; when absent, `CHANNELS_PATH`, else the
        /// published framework.
        channels_path: Option<PathBuf>,
        /// Overwrite files that already exist.
        force: bool,
    },
    /// `channels gen channel NAME [--force]`, run in a project made by `channels new`.
    GenChannel {
        /// The channel name, not yet validated.
        name: String,
        /// Overwrite files that already exist.
        force: bool,
    },
    /// `channels help [COMMAND]`, `--help`, `-h`: usage, of one command or of all.
    Help(Option<HelpTopic>),
    /// `channels --version`, `-V`.
    Version,
}

/// The command whose usage `help` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelpTopic {
    /// `channels new`.
    New,
    /// `channels gen channel`.
    GenChannel,
}

/// A command line that does not parse; the message says what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    /// What is wrong.
    pub message: String,
    /// The command it concerns, whose usage follows the message.
    pub topic: Option<HelpTopic>,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UsageError {}

/// The usage of every command.
pub const USAGE: &str = "\
channels: scaffolds apps on the channels framework (Phoenix Channels, done in Rust)

Usage:
  channels new NAME [--dir DIR] [--channels-path PATH] [--force]
  channels gen channel NAME [--force]
  channels help [new | gen]
  channels --version

Run `channels help new` or `channels help gen` for details.
";

/// The usage of `channels new`.
pub const USAGE_NEW: &str = "\
Usage: channels new NAME [--dir DIR] [--channels-path PATH] [--force]

Creates the chat app of the Phoenix Channels guide in ./NAME (or DIR/NAME): Cargo.toml, src/main.rs and
src/lib.rs, the socket handler and RoomChannel in src/web/, the chat page in assets/, a channel test in tests/,
and a README.

The project depends on the published framework: the package phx-channels, at the MAJOR.MINOR version of this
command (`channels --version`). --channels-path, or the environment variable CHANNELS_PATH, makes it depend on a
local checkout of channels by path instead.

NAME is a Cargo package name: a lowercase letter, then lowercase letters, digits, `_` or `-` (`my-chat` is
accepted as `cargo new` accepts it: the Rust code calls the crate `my_chat`).

Options:
  --dir DIR              create the project in DIR/NAME instead of ./NAME
  --channels-path PATH   depend on the channels checkout at PATH (the directory of its top Cargo.toml) by path
                         instead of the published framework; default: $CHANNELS_PATH when set
  -f, --force            overwrite files that already exist (other files in the directory are left alone)
  -h, --help             show this help
";

/// The usage of `channels gen channel`.
pub const USAGE_GEN: &str = "\
Usage: channels gen channel NAME [--force]

Run in a project made by `channels new`. Like `mix phx.gen.channel`, adds the channel NAME: with NAME `Lobby`,
src/web/lobby_channel.rs (LobbyChannel: joins \"lobby:*\" topics, replies to `ping`, broadcasts `shout`), its
route `channel!(\"lobby:*\" => LobbyChannel)` in src/web/user_socket.rs, its module in src/web/mod.rs, and its
test in tests/lobby_channel.rs.

NAME is `Lobby`, `ChatRoom` or `chat_room` (a trailing `Channel` is dropped): letters, digits and `_`, starting
with a letter.

Options:
  -f, --force            overwrite the channel's files if they exist
  -h, --help             show this help
";

/// Parses the arguments after the program name.
pub fn parse<I, S>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut args = args.into_iter().map(Into::into);
    let Some(command) = args.next() else {
        return Err(UsageError { message: "no command given".into(), topic: None });
    };
    match command.as_str() {
        "new" => parse_new(args),
        "gen" => parse_gen(args),
        "help" => match args.next().as_deref() {
            None => Ok(Command::Help(None)),
            Some("new") => Ok(Command::Help(Some(HelpTopic::New))),
            Some("gen") => Ok(Command::Help(Some(HelpTopic::GenChannel))),
            Some(other) => Err(usage(None, format!("no help for `{other}`: the commands are `new` and `gen`"))),
        },
        "-h" | "--help" => Ok(Command::Help(None)),
        "-V" | "--version" => Ok(Command::Version),
        other if other.starts_with('-') => Err(usage(None, format!("unknown option `{other}` before the command"))),
        other => Err(usage(None, format!("unknown command `{other}`: the commands are `new` and `gen channel`"))),
    }
}

fn usage(topic: Option<HelpTopic>, message: String) -> UsageError {
    UsageError { message, topic }
}

/// One option with its value, from `--name VALUE` or `--name=VALUE`.
fn option_value(
    topic: HelpTopic,
    flag: &str,
    inline: Option<&str>,
    rest: &mut impl Iterator<Item = String>,
) -> Result<PathBuf, UsageError> {
    let value = match inline {
        Some(value) => value.to_owned(),
        None => rest.next().ok_or_else(|| usage(Some(topic), format!("`{flag}` needs a value")))?,
    };
    if value.is_empty() {
        return Err(usage(Some(topic), format!("`{flag}` needs a non-empty value")));
    }
    Ok(PathBuf::from(value))
}

fn parse_new(mut args: impl Iterator<Item = String>) -> Result<Command, UsageError> {
    let topic = Some(HelpTopic::New);
    let (mut name, mut dir, mut channels_path, mut force) = (None, None, None, false);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
            _ => (arg.as_str(), None),
        };
        match flag {
            "-h" | "--help" => return Ok(Command::Help(topic)),
            "-f" | "--force" if inline.is_none() => force = true,
            "--dir" => set_once(&mut dir, option_value(HelpTopic::New, flag, inline, &mut args)?, flag, topic)?,
            "--channels-path" => {
                set_once(&mut channels_path, option_value(HelpTopic::New, flag, inline, &mut args)?, flag, topic)?;
            }
            _ if flag.starts_with('-') => return Err(usage(topic, format!("unknown option `{arg}` for `new`"))),
            _ if name.is_some() => {
                return Err(usage(topic, format!("unexpected argument `{arg}`: `new` takes one NAME")));
            }
            _ => name = Some(arg),
        }
    }
    let name =
        name.ok_or_else(|| usage(topic, "`new` needs the NAME of the project, e.g. `channels new my_chat`".into()))?;
    Ok(Command::New { name, dir, channels_path, force })
}

fn parse_gen(mut args: impl Iterator<Item = String>) -> Result<Command, UsageError> {
    let topic = Some(HelpTopic::GenChannel);
    match args.next().as_deref() {
        Some("channel") => {}
        Some("-h" | "--help") => return Ok(Command::Help(topic)),
        Some(other) => {
            return Err(usage(topic, format!("unknown generator `{other}`: the generator is `channel`")));
        }
        None => return Err(usage(topic, "`gen` needs a generator: `channels gen channel NAME`".into())),
    }
    let (mut name, mut force) = (None, false);
    for arg in args {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help(topic)),
            "-f" | "--force" => force = true,
            _ if arg.starts_with('-') => {
                return Err(usage(topic, format!("unknown option `{arg}` for `gen channel`")));
            }
            _ if name.is_some() => {
                return Err(usage(topic, format!("unexpected argument `{arg}`: `gen channel` takes one NAME")));
            }
            _ => name = Some(arg),
        }
    }
    let name = name.ok_or_else(|| usage(topic, "`gen channel` needs the channel's NAME, e.g. `Lobby`".into()))?;
    Ok(Command::GenChannel { name, force })
}

/// Stores an option's value, refusing a second one (which of two values was meant cannot be guessed).
fn set_once(
    slot: &mut Option<PathBuf>,
    value: PathBuf,
    flag: &str,
    topic: Option<HelpTopic>,
) -> Result<(), UsageError> {
    if slot.is_some() {
        return Err(usage(topic, format!("`{flag}` given twice")));
    }
    *slot = Some(value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(args: &[&str]) -> Command {
        parse(args.iter().copied()).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn err(args: &[&str]) -> UsageError {
        parse(args.iter().copied()).expect_err(&format!("{args:?} should not parse"))
    }

    fn new(name: &str, dir: Option<&str>, channels_path: Option<&str>, force: bool) -> Command {
        Command::New {
            name: name.into(),
            dir: dir.map(PathBuf::from),
            channels_path: channels_path.map(PathBuf::from),
            force,
        }
    }

    #[test]
    fn new_with_a_name() {
        assert_eq!(ok(&["new", "my_chat"]), new("my_chat", None, None, false));
    }

    #[test]
    fn new_with_options_in_any_order_and_both_spellings() {
        let expected = new("my_chat", Some("/tmp/apps"), Some("../channels"), true);
        assert_eq!(
            ok(&["new", "my_chat", "--dir", "/tmp/apps", "--channels-path", "../channels", "--force"]),
            expected
        );
        assert_eq!(ok(&["new", "--force", "--channels-path=../channels", "--dir=/tmp/apps", "my_chat"]), expected);
        assert_eq!(ok(&["new", "-f", "my_chat", "--dir", "/tmp/apps", "--channels-path", "../channels"]), expected);
    }

    #[test]
    fn new_needs_exactly_one_name() {
        assert!(err(&["new"]).message.contains("needs the NAME"));
        assert!(err(&["new", "a", "b"]).message.contains("unexpected argument `b`"));
        assert_eq!(err(&["new"]).topic, Some(HelpTopic::New));
    }

    #[test]
    fn new_rejects_unknown_and_incomplete_options() {
        assert!(err(&["new", "a", "--frce"]).message.contains("unknown option `--frce`"));
        assert!(err(&["new", "a", "--force=yes"]).message.contains("unknown option `--force=yes`"));
        assert!(err(&["new", "a", "--channels-path"]).message.contains("needs a value"));
        assert!(err(&["new", "a", "--dir="]).message.contains("non-empty"));
        assert!(err(&["new", "a", "--dir", "x", "--dir", "y"]).message.contains("given twice"));
    }

    #[test]
    fn gen_channel() {
        assert_eq!(ok(&["gen", "channel", "Lobby"]), Command::GenChannel { name: "Lobby".into(), force: false });
        assert_eq!(
            ok(&["gen", "channel", "--force", "Lobby"]),
            Command::GenChannel { name: "Lobby".into(), force: true }
        );
        assert_eq!(ok(&["gen", "channel", "Lobby", "-f"]), Command::GenChannel { name: "Lobby".into(), force: true });
    }

    #[test]
    fn gen_needs_a_known_generator_and_one_name() {
        assert!(err(&["gen"]).message.contains("needs a generator"));
        assert!(err(&["gen", "context", "Accounts"]).message.contains("unknown generator `context`"));
        assert!(err(&["gen", "channel"]).message.contains("needs the channel's NAME"));
        assert!(err(&["gen", "channel", "A", "B"]).message.contains("unexpected argument `B`"));
        assert!(err(&["gen", "channel", "A", "--dir", "x"]).message.contains("unknown option `--dir`"));
    }

    #[test]
    fn help_and_version() {
        assert_eq!(ok(&["--help"]), Command::Help(None));
        assert_eq!(ok(&["-h"]), Command::Help(None));
        assert_eq!(ok(&["help"]), Command::Help(None));
        assert_eq!(ok(&["help", "new"]), Command::Help(Some(HelpTopic::New)));
        assert_eq!(ok(&["new", "--help"]), Command::Help(Some(HelpTopic::New)));
        assert_eq!(ok(&["new", "my_chat", "-h"]), Command::Help(Some(HelpTopic::New)));
        assert_eq!(ok(&["gen", "--help"]), Command::Help(Some(HelpTopic::GenChannel)));
        assert_eq!(ok(&["gen", "channel", "-h"]), Command::Help(Some(HelpTopic::GenChannel)));
        assert_eq!(ok(&["--version"]), Command::Version);
        assert_eq!(ok(&["-V"]), Command::Version);
    }

    #[test]
    fn unknown_or_missing_command() {
        assert!(err(&[]).message.contains("no command"));
        assert!(err(&["init"]).message.contains("unknown command `init`"));
        assert!(err(&["--force"]).message.contains("unknown option"));
        assert!(err(&["help", "deploy"]).message.contains("no help for `deploy`"));
    }
}
