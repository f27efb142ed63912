//! The macros' own syntax, read into types: the `#[channel(..)]` and `#[socket(..)]` arguments, the handler
//! attributes, `#[intercept(..)]` and `channel!(..)` routes. Mistakes are reported to the [`Ctxt`] and read as
//! the nearest harmless value, so that the rest still expands.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Error, Ident, LitStr, Macro, Meta, Path, Token, Type};

use channels_topic::{JoinPattern, RoutePattern};

use crate::ctxt::Ctxt;

/// Which handler attribute a method carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `#[join("pattern")]`.
    Join,
    /// `#[handle_in("event")]`.
    HandleIn,
    /// `#[handle_out("event")]`.
    HandleOut,
    /// `#[handle_info]`.
    HandleInfo,
    /// `#[terminate]`.
    Terminate,
}

impl Kind {
    /// The attribute's name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Join => "join",
            Kind::HandleIn => "handle_in",
            Kind::HandleOut => "handle_out",
            Kind::HandleInfo => "handle_info",
            Kind::Terminate => "terminate",
        }
    }

    /// The kind of a handler attribute, by its last path segment.
    pub fn of(attr: &Attribute) -> Option<Kind> {
        let name = last_ident(attr)?;
        [Kind::Join, Kind::HandleIn, Kind::HandleOut, Kind::HandleInfo, Kind::Terminate]
            .into_iter()
            .find(|k| name == k.name())
    }
}

/// The last segment of an attribute's path, so that `#[channels::join(..)]` works as `#[join(..)]` does.
pub fn last_ident(attr: &Attribute) -> Option<&Ident> {
    attr.path().segments.last().map(|s| &s.ident)
}

/// What a handler attribute says.
pub enum Role {
    /// `#[join(..)]`.
    Join(Join),
    /// `#[handle_in("event")]`.
    HandleIn(Event),
    /// `#[handle_out("event")]`.
    HandleOut(Event),
    /// `#[handle_info]`.
    HandleInfo,
    /// `#[terminate]`.
    Terminate,
}

/// A join clause's pattern.
pub enum Join {
    /// `#[join("..")]` whose pattern parsed (always [`JoinPattern::Segments`]).
    Pattern {
        /// The literal, where errors about the clause point.
        lit: LitStr,
        /// The parsed pattern.
        pattern: JoinPattern,
    },
    /// `#[join(_)]`, the catch-all, and where errors about it point.
    Any(Span),
    /// A pattern that is missing or did not parse (reported).
    Malformed,
}

/// The event of a `#[handle_in]` / `#[handle_out]`.
pub enum Event {
    /// The event's literal. A refused name (`"phx_.."`, reported) leaves the handler out of dispatch, but it
    /// still counts in the duplicate and intercept checks.
    Literal(LitStr),
    /// No string literal (reported).
    Malformed,
}

impl Event {
    /// The literal, when there is one.
    pub fn lit(&self) -> Option<&LitStr> {
        match self {
            Event::Literal(lit) => Some(lit),
            Event::Malformed => None,
        }
    }
}

impl Role {
    /// Reads the handler attribute `attr` of `kind`. The flag says whether it is free of mistakes; a handler
    /// with a mistake is left out of dispatch.
    pub fn parse(cx: &Ctxt, kind: Kind, attr: &Attribute) -> (Role, bool) {
        match kind {
            Kind::Join if is_underscore(attr) => (Role::Join(Join::Any(attr.meta.span())), true),
            Kind::Join => match string_argument(kind, attr) {
                Ok(lit) => match parse_join_pattern(&lit.value()) {
                    Ok(pattern) => (Role::Join(Join::Pattern { lit, pattern }), true),
                    Err(message) => {
                        cx.error(lit.span(), message);
                        (Role::Join(Join::Malformed), false)
                    }
                },
                Err(e) => {
                    cx.syn_error(e);
                    (Role::Join(Join::Malformed), false)
                }
            },
            Kind::HandleIn | Kind::HandleOut => {
                let (event, ok) = match string_argument(kind, attr) {
                    Ok(lit) => {
                        let checked = check_event(kind, &lit.value());
                        if let Err(message) = &checked {
                            cx.error(lit.span(), message);
                        }
                        (Event::Literal(lit), checked.is_ok())
                    }
                    Err(e) => {
                        cx.syn_error(e);
                        (Event::Malformed, false)
                    }
                };
                (if kind == Kind::HandleIn { Role::HandleIn(event) } else { Role::HandleOut(event) }, ok)
            }
            Kind::HandleInfo | Kind::Terminate => {
                if !matches!(attr.meta, Meta::Path(_)) {
                    cx.error_spanned_by(&attr.meta, format!("#[{0}] takes no arguments: write `#[{0}]`", kind.name()));
                }
                (if kind == Kind::HandleInfo { Role::HandleInfo } else { Role::Terminate }, true)
            }
        }
    }

    /// Which attribute.
    pub fn kind(&self) -> Kind {
        match self {
            Role::Join(_) => Kind::Join,
            Role::HandleIn(_) => Kind::HandleIn,
            Role::HandleOut(_) => Kind::HandleOut,
            Role::HandleInfo => Kind::HandleInfo,
            Role::Terminate => Kind::Terminate,
        }
    }
}

fn is_underscore(attr: &Attribute) -> bool {
    matches!(&attr.meta, Meta::List(list) if syn::parse2::<Token![_]>(list.tokens.clone()).is_ok())
}

fn string_argument(kind: Kind, attr: &Attribute) -> Result<LitStr, Error> {
    let example = match kind {
        Kind::Join => "#[join(\"rooms:{room_id}\")]` (or `#[join(_)]` for any topic)",
        Kind::HandleIn => "#[handle_in(\"new_msg\")]",
        _ => "#[handle_out(\"user_joined\")]",
    };
    let what = if kind == Kind::Join { "the topic pattern" } else { "the event name" };
    match &attr.meta {
        Meta::List(list) => syn::parse2::<LitStr>(list.tokens.clone()).map_err(|_| {
            let message = format!("#[{}] takes {what} as one string literal: `{example}`", kind.name());
            if list.tokens.is_empty() {
                Error::new(list.delimiter.span().join(), message)
            } else {
                Error::new_spanned(&list.tokens, message)
            }
        }),
        meta => Err(Error::new_spanned(meta, format!("#[{}] needs {what}: `{example}`", kind.name()))),
    }
}

/// A join pattern whose captures name parameters, so each must be a Rust identifier (or `_`).
fn parse_join_pattern(pattern: &str) -> Result<JoinPattern, String> {
    let parsed = JoinPattern::parse(pattern).map_err(|e| e.to_string())?;
    if let Some(name) = parsed.captures().find(|name| *name != "_" && syn::parse_str::<Ident>(name).is_err()) {
        return Err(format!(
            "capture name `{name}` in {pattern:?} is not a Rust identifier; it names the handler parameter that \
             receives it, e.g. `{{room_id}}`"
        ));
    }
    Ok(parsed)
}

fn check_event(kind: Kind, event: &str) -> Result<(), String> {
    if event.is_empty() {
        Err(format!("an event name cannot be empty: `#[{}(\"new_msg\")]`", kind.name()))
    } else if event.starts_with("phx_") {
        Err(format!(
            "{event:?} is a protocol event that the runtime handles itself (joins, leaves, replies); \
             pick an event name that does not start with `phx_`"
        ))
    } else {
        Ok(())
    }
}

/// Takes the `#[intercept(..)]` attributes out of `attrs`: the intercepted events.
pub fn take_intercepts(cx: &Ctxt, attrs: &mut Vec<Attribute>) -> Vec<LitStr> {
    let mut intercepts = Vec::new();
    attrs.retain(|attr| {
        if last_ident(attr).is_none_or(|name| name != "intercept") {
            return true;
        }
        match attr.parse_args_with(Punctuated::<LitStr, Token![,]>::parse_terminated) {
            Ok(list) if !list.is_empty() => intercepts.extend(list),
            Ok(_) => cx.error_spanned_by(attr, "list the intercepted events: `#[intercept(\"user_joined\")]`"),
            Err(e) => cx.error(
                e.span(),
                "#[intercept] lists event names as strings: `#[intercept(\"user_joined\", \"user_left\")]`",
            ),
        }
        false
    });
    intercepts
}

/// Where generated code finds the runtime: `<crate>::__private`, the crate being `::channels` unless
/// `crate = path` names it (a renamed dependency, or `crate` inside the `channels` crate itself).
fn runtime(krate: Option<Path>) -> Path {
    let mut path = krate.unwrap_or_else(|| syn::parse_quote!(::channels));
    path.segments.push(Ident::new("__private", Span::call_site()).into());
    path
}

/// `crate = path`: a path, as a type would be written (`crate = my_channels`), not a string.
fn crate_path(input: ParseStream) -> syn::Result<Path> {
    // The value runs to the next `,`: an error then spans all of it, even one that ends too early.
    let mut value = TokenStream::new();
    while !input.is_empty() && !input.peek(Token![,]) {
        value.extend([input.parse::<TokenTree>()?]);
    }
    if let Ok(lit) = syn::parse2::<LitStr>(value.clone()) {
        return Err(Error::new(
            lit.span(),
            format!("`crate` takes a path, not a string: write `crate = {}` without the quotes", lit.value()),
        ));
    }
    Path::parse_mod_style.parse2(value.clone()).map_err(|_| {
        Error::new_spanned(value, "`crate` takes the path of the `channels` crate, e.g. `crate = my_channels`")
    })
}

/// What the `crate` argument does, for "unknown argument" messages.
const CRATE_ARGUMENT: &str = "`crate = path` (the `channels` crate, when it is renamed)";

/// `#[channel(socket = SocketType, crate = path)]`.
pub struct ChannelArgs {
    /// The `Channel::Socket` type.
    pub socket: Type,
    /// The runtime's `__private` module.
    pub runtime: Path,
}

impl ChannelArgs {
    /// Reads the arguments; a mistake is reported and the default taken.
    pub fn parse(cx: &Ctxt, attr: TokenStream) -> ChannelArgs {
        let (mut socket, mut krate) = (None, None);
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("socket") {
                socket = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("crate") {
                krate = Some(crate_path(meta.value()?)?);
            } else {
                return Err(meta.error(format!(
                    "unknown #[channel] argument; it takes `socket = SocketType` (the socket handler whose \
                     connections join this channel; `UserSocket` when omitted) and {CRATE_ARGUMENT}"
                )));
            }
            Ok(())
        });
        if let Err(e) = parser.parse2(attr) {
            cx.syn_error(e);
        }
        ChannelArgs {
            // Phoenix's convention: channels belong to `UserSocket` unless told otherwise.
            socket: socket.unwrap_or_else(|| syn::parse_quote_spanned!(Span::call_site()=> UserSocket)),
            runtime: runtime(krate),
        }
    }
}

/// `#[socket(crate = path)]`: the runtime's `__private` module.
pub fn socket_args(cx: &Ctxt, attr: TokenStream) -> Path {
    let mut krate = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("crate") {
            krate = Some(crate_path(meta.value()?)?);
            return Ok(());
        }
        Err(meta.error(format!(
            "unknown #[socket] argument; the only one is {CRATE_ARGUMENT}; routes go inside: `channel!(..);`"
        )))
    });
    if let Err(e) = parser.parse2(attr) {
        cx.syn_error(e);
    }
    runtime(krate)
}

/// A `channel!("pattern" => ChannelType)` route whose pattern parsed.
pub struct Route {
    /// The pattern literal (errors and the reachability check point at it).
    pub lit: LitStr,
    /// The parsed pattern.
    pub pattern: RoutePattern,
    /// The channel type.
    pub channel: Type,
}

impl Route {
    /// Reads a `channel!` invocation; `None` when it has a mistake (reported).
    pub fn parse(cx: &Ctxt, mac: &Macro) -> Option<Route> {
        let (lit, channel) = match mac.parse_body_with(route_body) {
            Ok(route) => route,
            Err(e) => {
                cx.error(e.span(), format!("{e}; a route is written `channel!(\"rooms:*\" => RoomChannel);`"));
                return None;
            }
        };
        let text = lit.value();
        // Braces are literal text in a route, but here they are a join pattern written in the wrong place.
        if text.contains(['{', '}']) {
            cx.error(
                lit.span(),
                format!(
                    "channel routes match a topic or a prefix ({text:?} has a capture); write a prefix such as \
                     \"rooms:*\" here and put captures in the channel's #[join] patterns"
                ),
            );
            return None;
        }
        match RoutePattern::parse(&text) {
            Ok(pattern) => Some(Route { lit, pattern, channel }),
            Err(message) => {
                cx.error(lit.span(), message);
                None
            }
        }
    }
}

/// `"pattern" => ChannelType`, the body of `channel!(..)`.
fn route_body(input: ParseStream) -> syn::Result<(LitStr, Type)> {
    let lit: LitStr = input.parse()?;
    input.parse::<Token![=>]>()?;
    let channel: Type = input.parse()?;
    if !input.is_empty() {
        return Err(input.error("one route per `channel!`: `channel!(\"rooms:*\" => RoomChannel);`"));
    }
    Ok((lit, channel))
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn errors(cx: Ctxt) -> String {
        cx.check().err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn channel_arguments() {
        let cx = Ctxt::new();
        let args = ChannelArgs::parse(&cx, quote!(socket = AdminSocket, crate = ::renamed));
        let (socket, runtime) = (args.socket, args.runtime);
        assert_eq!(quote!(#socket).to_string(), "AdminSocket");
        assert_eq!(quote!(#runtime).to_string(), ":: renamed :: __private");
        let args = ChannelArgs::parse(&cx, quote!());
        let (socket, runtime) = (args.socket, args.runtime);
        assert_eq!(
            (quote!(#socket).to_string(), quote!(#runtime).to_string()),
            ("UserSocket".to_owned(), ":: channels :: __private".to_owned())
        );
        assert_eq!(errors(cx), "");
        let cx = Ctxt::new();
        ChannelArgs::parse(&cx, quote!(sockt = AdminSocket));
        assert!(errors(cx).contains("unknown #[channel] argument"));
    }

    #[test]
    fn crate_argument() {
        let cx = Ctxt::new();
        let runtime = socket_args(&cx, quote!(crate = crate));
        assert_eq!(quote!(#runtime).to_string(), "crate :: __private");
        assert_eq!(errors(cx), "");
        for (args, needle) in [
            (quote!(crate = "chans"), "write `crate = chans` without the quotes"),
            (quote!(crate = 1), "takes the path of the `channels` crate"),
            (quote!(crate = a::<T>), "takes the path of the `channels` crate"),
            (quote!(routes = 1), "unknown #[socket] argument; the only one is `crate = path`"),
        ] {
            let cx = Ctxt::new();
            socket_args(&cx, args.clone());
            let error = errors(cx);
            assert!(error.contains(needle), "{args}: {error}");
        }
    }
}
