//! Handler signatures: what each parameter of a handler receives, decided from its type and name.
//!
//! Extraction is by type, as in axum: `&mut ChannelSocket<Self>` (or `&`) is the socket, `Payload` / `&Payload`
//! the raw payload, `&TerminateReason` the reason, `State<T>` the endpoint's app state of type `T`; by name for
//! the few values that share a type with a payload: `topic: &str`, `assigns: &UserSocket`, and in joins the topic
//! captures. Anything else is the payload, deserialized with serde (in `#[handle_info]`, the message). Names
//! compare without one leading `_`, so an unused `_topic` still works.

use proc_macro2::Span;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Error, FnArg, GenericArgument, Pat, PathArguments, ReturnType, Signature, Type};

use crate::attr::Kind;
use crate::ctxt::Ctxt;

/// How a handler takes the channel state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receiver {
    /// An associated function.
    None,
    /// `&self`.
    Shared,
    /// `&mut self`.
    Exclusive,
}

/// What one parameter receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// The `ChannelSocket`, by `&mut` or `&`.
    Socket {
        /// `&mut`.
        mutable: bool,
    },
    /// `topic: &str`.
    Topic,
    /// `assigns: &S`, the connection's assigns.
    Assigns,
    /// The raw `Payload`, owned or borrowed.
    RawPayload {
        /// `&Payload`.
        by_ref: bool,
    },
    /// The payload deserialized into this parameter's type.
    Payload,
    /// The join-pattern capture of this name, parsed into this parameter's type.
    Capture(String),
    /// The `#[handle_info]` message.
    Info,
    /// The `#[terminate]` reason, owned or borrowed.
    Reason {
        /// `&TerminateReason`.
        by_ref: bool,
    },
    /// `State<T>`, the endpoint's app state of type `T` ([`state_type`]).
    State,
}

/// One classified parameter.
#[derive(Clone)]
pub struct Param {
    /// What it receives.
    pub arg: Arg,
    /// Its declared type (spans of generated conversions point at it).
    pub ty: Type,
}

/// A classified handler signature.
#[derive(Clone)]
pub struct HandlerSig {
    /// How it takes the channel state.
    pub receiver: Receiver,
    /// Its parameters, in order.
    pub params: Vec<Param>,
    /// Whether it is an `async fn` (otherwise it is called without `.await`).
    pub is_async: bool,
    /// Where errors about its return type point: the first and last tokens of the return type (so the whole
    /// type is underlined), or the name twice when there is none.
    pub output_span: (Span, Span),
}

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ty = &self.ty;
        write!(f, "{:?}: {}", self.arg, quote::quote!(#ty))
    }
}

impl std::fmt::Debug for HandlerSig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerSig")
            .field("receiver", &self.receiver)
            .field("params", &self.params)
            .field("is_async", &self.is_async)
            .finish_non_exhaustive()
    }
}

impl HandlerSig {
    /// Whether some parameter takes `&mut ChannelSocket` (then borrowed values are cloned out first).
    pub fn socket_is_mut(&self) -> bool {
        self.params.iter().any(|p| p.arg == Arg::Socket { mutable: true })
    }
}

/// Classifies `sig` as a handler of `kind`. `captures` are the join pattern's capture names (empty for other
/// kinds); `pattern_span` is where "capture without parameter" errors point.
pub fn classify(sig: &Signature, kind: Kind, captures: &[&str], pattern_span: Span) -> Result<HandlerSig, Error> {
    let cx = Ctxt::new();
    let attr = kind.name();
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(
            &sig.generics,
            format!("a #[{attr}] handler cannot be generic; the generated dispatch calls it with concrete types"),
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        cx.error(unsafety.span, format!("a #[{attr}] handler cannot be `unsafe`; remove `unsafe`"));
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(variadic, "a handler cannot be variadic");
    }

    let mut receiver = Receiver::None;
    let mut params: Vec<Param> = Vec::new();
    let mut bound: Vec<String> = Vec::new();
    // Join parameters that match no capture, kept back: with as many unbound captures, each is one misspelling.
    let mut unmatched: Vec<(&syn::PatType, String, String)> = Vec::new();
    for input in &sig.inputs {
        let typed = match input {
            FnArg::Receiver(r) => {
                if kind == Kind::Join {
                    cx.error_spanned_by(
                        r,
                        "a #[join] handler creates the channel's state, so it takes no `self`: remove it and \
                         return `JoinResult<Self>`, e.g. `JoinResult::ok(Self { .. })`",
                    );
                } else if r.reference.is_none() || r.colon_token.is_some() {
                    cx.error_spanned_by(
                        r,
                        format!(
                            "a #[{attr}] handler takes the channel as `&mut self` (or `&self`); the channel lives \
                             on after the handler returns"
                        ),
                    );
                } else {
                    receiver = if r.mutability.is_some() { Receiver::Exclusive } else { Receiver::Shared };
                }
                continue;
            }
            FnArg::Typed(t) => t,
        };
        let ty = (*typed.ty).clone();
        let name = match &*typed.pat {
            Pat::Ident(p) => Some(p.ident.to_string()),
            _ => None,
        };
        let key = name.as_deref().map(normalize);
        match classify_param(kind, &ty, key, captures) {
            Ok(arg) => {
                let param = Param { arg, ty };
                if let Some(prev) = params.iter().find(|p| same_slot(p, &param)) {
                    cx.error_spanned_by(typed, duplicate_message(kind, &param.arg, &prev.ty));
                    continue;
                }
                if let Arg::Capture(c) = &param.arg {
                    bound.push(c.clone());
                }
                params.push(param);
            }
            Err(message) => match key {
                Some(key) if kind == Kind::Join && message.starts_with(&no_capture(key)) => {
                    unmatched.push((typed, key.to_owned(), message));
                }
                _ => cx.error_spanned_by(typed, message),
            },
        }
    }
    let unbound: Vec<&&str> =
        captures.iter().filter(|c| !c.starts_with('_') && !bound.iter().any(|b| b == *c)).collect();
    if !unmatched.is_empty() && unmatched.len() == unbound.len() {
        // One mistake, one error: a misspelled capture name is reported once, on the parameter.
        for ((typed, name, _), capture) in unmatched.iter().zip(&unbound) {
            cx.error_spanned_by(
                typed,
                format!(
                    "parameter `{name}` matches no capture, and capture `{{{capture}}}` has no parameter; did you \
                     mean to name the parameter `{capture}`?"
                ),
            );
            bound.push((**capture).to_owned());
        }
        unmatched.clear();
    }
    for (typed, _, message) in unmatched {
        cx.error_spanned_by(typed, message);
    }
    for capture in captures {
        if !capture.starts_with('_') && !bound.iter().any(|b| b == capture) {
            cx.error(
                pattern_span,
                format!(
                    "capture `{{{capture}}}` has no parameter; add `{capture}: String` (or any `FromTopicSegment` \
                     type) to `fn {}`, or write `{{_{capture}}}` to match it without binding it",
                    sig.ident
                ),
            );
        }
    }
    let output_span = match &sig.output {
        ReturnType::Type(_, ty) => {
            let mut tokens = ty.to_token_stream().into_iter();
            let first = tokens.next().map_or_else(|| ty.span(), |t| t.span());
            (first, tokens.last().map_or(first, |t| t.span()))
        }
        ReturnType::Default => (sig.ident.span(), sig.ident.span()),
    };
    cx.check()?;
    Ok(HandlerSig { receiver, params, is_async: sig.asyncness.is_some(), output_span })
}

/// A capture name or parameter name without one leading `_` (so `_room_id` binds `{room_id}`).
pub fn normalize(name: &str) -> &str {
    match name.strip_prefix('_') {
        Some(rest) if !rest.is_empty() => rest,
        _ => name,
    }
}

/// How the error for a join parameter `name` that matches no capture starts.
fn no_capture(name: &str) -> String {
    format!("parameter `{name}` matches no capture")
}

fn classify_param(kind: Kind, ty: &Type, name: Option<&str>, captures: &[&str]) -> Result<Arg, String> {
    let attr = kind.name();
    if let Some(state) = state_param(ty) {
        return state.map(|_| Arg::State).map_err(Into::into);
    }
    if let Some((mutable, inner)) = reference(ty) {
        if last_segment_is(inner, "ChannelSocket") {
            return Ok(Arg::Socket { mutable });
        }
        if last_segment_is(inner, "Payload") {
            return payload_allowed(kind).map(|()| Arg::RawPayload { by_ref: true });
        }
        if last_segment_is(inner, "TerminateReason") {
            return reason_allowed(kind).map(|()| Arg::Reason { by_ref: true });
        }
    } else if last_segment_is(ty, "ChannelSocket") {
        return Err("take the socket by reference: `socket: &mut ChannelSocket<Self>`".into());
    } else if last_segment_is(ty, "Payload") {
        return payload_allowed(kind).map(|()| Arg::RawPayload { by_ref: false });
    } else if last_segment_is(ty, "TerminateReason") {
        return reason_allowed(kind).map(|()| Arg::Reason { by_ref: false });
    }
    if kind == Kind::Join {
        if let Some(capture) = captures.iter().find(|c| Some(normalize(c)) == name) {
            return Ok(Arg::Capture((*capture).to_owned()));
        }
    }
    match name {
        Some("topic") if is_str_ref(ty) => return Ok(Arg::Topic),
        Some("topic") => return Err("`topic` receives the channel's topic: declare it `topic: &str`".into()),
        Some("assigns") if reference(ty).is_some_and(|(mutable, _)| !mutable) => return Ok(Arg::Assigns),
        Some("assigns") => {
            return Err("`assigns` borrows the connection's assigns (the socket handler's value): declare it \
                        `assigns: &UserSocket` (your socket handler's type)"
                .into());
        }
        _ => {}
    }
    match kind {
        Kind::Join => match name {
            Some("payload" | "params") => Ok(Arg::Payload),
            Some(other) if captures.is_empty() => Err(format!(
                "{} (the pattern has none); to take the join payload name \
                 it `payload` or `params`, or add a capture `{{{other}}}` to the pattern",
                no_capture(other)
            )),
            Some(other) => Err(format!(
                "{} of the pattern (it has {}); rename it to a capture, add \
                 `{{{other}}}` to the pattern, or name the join payload `payload` or `params`",
                no_capture(other),
                captures.iter().map(|c| format!("`{{{c}}}`")).collect::<Vec<_>>().join(", ")
            )),
            None => Err("a #[join] parameter needs a plain name: a capture's name, `payload`/`params` for the \
                         payload, `topic`, or `assigns` (or a `State<T>` type, for app state)"
                .into()),
        },
        Kind::HandleIn | Kind::HandleOut => Ok(Arg::Payload),
        Kind::HandleInfo => Ok(Arg::Info),
        Kind::Terminate => Err(format!(
            "a #[{attr}] handler takes only `reason: &TerminateReason`, the socket (`&mut ChannelSocket<Self>`), \
             `topic: &str`, `assigns: &UserSocket` and app state (`State<T>`)"
        )),
    }
}

/// Whether a parameter of type `ty` takes app state: `Some(Ok(T))` for `State<T>` (any path ending in `State`
/// with one type argument, as other by-type parameters match by their last segment), `Some(Err(why))` for one
/// by reference, `None` for any other type. A `State` without a type argument is left alone: it may be the
/// user's own type of that name (a payload), and if it was meant as ours, rustc says it needs `<T>`.
pub fn state_param(ty: &Type) -> Option<Result<&Type, &'static str>> {
    match reference(ty) {
        Some((_, inner)) => state_type(inner).map(|_| {
            Err("take app state by value: `State<T>`, not a reference (it is an `Arc`, cloned from the endpoint's)")
        }),
        None => state_type(ty).map(Ok),
    }
}

/// The `T` of a parameter type `State<T>`, or `None` when it is not one with a single type argument.
pub fn state_type(ty: &Type) -> Option<&Type> {
    let segment = match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last()?,
        Type::Group(g) => return state_type(&g.elem),
        _ => return None,
    };
    let PathArguments::AngleBracketed(args) = &segment.arguments else { return None };
    match (segment.ident == "State", args.args.len(), args.args.first()) {
        (true, 1, Some(GenericArgument::Type(inner))) => Some(inner),
        _ => None,
    }
}

fn payload_allowed(kind: Kind) -> Result<(), String> {
    match kind {
        Kind::Join | Kind::HandleIn | Kind::HandleOut => Ok(()),
        Kind::HandleInfo => Err("a #[handle_info] message is not a `Payload`: take the message's own type, which \
                                 becomes the channel's `Info` type"
            .into()),
        Kind::Terminate => Err("a #[terminate] handler gets no payload; it takes `reason: &TerminateReason`".into()),
    }
}

fn reason_allowed(kind: Kind) -> Result<(), String> {
    if kind == Kind::Terminate {
        Ok(())
    } else {
        Err(format!("only a #[terminate] handler gets a `TerminateReason`, not a #[{}] handler", kind.name()))
    }
}

/// Whether two parameters would receive the same value (one socket, one payload, one message, ...).
fn same_slot(a: &Param, b: &Param) -> bool {
    let (a_ty, b_ty) = (&a.ty, &b.ty);
    let (a, b) = (&a.arg, &b.arg);
    let slot = |arg: &Arg| match arg {
        Arg::Socket { .. } => 0,
        Arg::Topic => 1,
        Arg::Assigns => 2,
        Arg::RawPayload { .. } | Arg::Payload => 3,
        Arg::Capture(_) => 4,
        Arg::Info => 5,
        Arg::Reason { .. } => 6,
        Arg::State => 7,
    };
    match (a, b) {
        (Arg::Capture(x), Arg::Capture(y)) => x == y,
        (Arg::State, Arg::State) => quote::quote!(#a_ty).to_string() == quote::quote!(#b_ty).to_string(),
        _ => slot(a) == slot(b),
    }
}

fn duplicate_message(kind: Kind, arg: &Arg, first: &Type) -> String {
    let first = quote::quote!(#first).to_string();
    match arg {
        Arg::Socket { .. } => "the socket is already a parameter; take it once".into(),
        Arg::Topic => "`topic` is already a parameter".into(),
        Arg::Assigns => "`assigns` is already a parameter".into(),
        Arg::RawPayload { .. } | Arg::Payload => format!(
            "a #[{}] handler takes at most one payload parameter, and it already has one (`{first}`); take a \
             single struct deriving `serde::Deserialize` with both fields, or `payload: Payload` for the raw payload",
            kind.name()
        ),
        Arg::Capture(c) => format!("capture `{{{c}}}` is already bound to a parameter"),
        Arg::Info => format!(
            "a #[handle_info] handler takes one message parameter, and it already has one (`{first}`); wrap both \
             in an enum or struct"
        ),
        Arg::Reason { .. } => "`TerminateReason` is already a parameter".into(),
        Arg::State => "this app state is already a parameter; take it once".into(),
    }
}

/// `&T` / `&mut T`: (mutable, T).
fn reference(ty: &Type) -> Option<(bool, &Type)> {
    match ty {
        Type::Reference(r) => Some((r.mutability.is_some(), &r.elem)),
        Type::Paren(p) => reference(&p.elem),
        Type::Group(g) => reference(&g.elem),
        _ => None,
    }
}

fn last_segment_is(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().is_some_and(|s| s.ident == name),
        Type::Group(g) => last_segment_is(&g.elem, name),
        _ => false,
    }
}

fn is_str_ref(ty: &Type) -> bool {
    reference(ty).is_some_and(|(mutable, inner)| {
        !mutable
            && matches!(inner, Type::Path(p) if p.qself.is_none()
                && p.path.segments.last().is_some_and(|s| s.ident == "str" && s.arguments.is_none()))
    })
}

/// Whether parsing a capture into `ty` cannot fail: `String` (spelled plainly or by its std path). Only such
/// captures make an earlier join clause hide a later one; any other type may refuse a segment.
pub fn is_total_capture_type(ty: &Type) -> bool {
    let Type::Path(p) = ty else { return false };
    if p.qself.is_some() {
        return false;
    }
    let names: Vec<String> = p.path.segments.iter().map(|s| s.ident.to_string()).collect();
    let plain = p.path.segments.iter().all(|s| s.arguments.is_none());
    plain
        && matches!(
            names.iter().map(String::as_str).collect::<Vec<_>>().as_slice(),
            ["String"] | ["std" | "alloc", "string", "String"]
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn sig(tokens: Signature) -> Signature {
        tokens
    }

    fn args(s: &HandlerSig) -> Vec<Arg> {
        s.params.iter().map(|p| p.arg.clone()).collect()
    }

    fn err(result: Result<HandlerSig, Error>) -> String {
        result.expect_err("expected an error").into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn handle_in_extractors() {
        let s = sig(parse_quote! {
            async fn new_msg(&mut self, msg: NewMsg, socket: &mut ChannelSocket<Self>, assigns: &UserSocket,
                             _topic: &str) -> HandleResult
        });
        let c = classify(&s, Kind::HandleIn, &[], Span::call_site()).unwrap();
        assert_eq!(c.receiver, Receiver::Exclusive);
        assert!(c.is_async && c.socket_is_mut());
        assert_eq!(args(&c), [Arg::Payload, Arg::Socket { mutable: true }, Arg::Assigns, Arg::Topic]);

        let s = sig(parse_quote! { fn raw(&self, p: &channels::payload::Payload, s: &ChannelSocket<Self>) });
        let c = classify(&s, Kind::HandleIn, &[], Span::call_site()).unwrap();
        assert_eq!(c.receiver, Receiver::Shared);
        assert!(!c.is_async && !c.socket_is_mut());
        assert_eq!(args(&c), [Arg::RawPayload { by_ref: true }, Arg::Socket { mutable: false }]);
    }

    #[test]
    fn join_binds_captures_by_name() {
        let s = sig(parse_quote! {
            async fn private(room_id: u32, _user: String, params: Join, topic: &str) -> JoinResult<Self>
        });
        let c = classify(&s, Kind::Join, &["user", "room_id"], Span::call_site()).unwrap();
        assert_eq!(c.receiver, Receiver::None);
        assert_eq!(args(&c), [Arg::Capture("room_id".into()), Arg::Capture("user".into()), Arg::Payload, Arg::Topic]);
        // `{_x}` may stay unbound
        let s = sig(parse_quote! { async fn f() -> JoinResult<Self> });
        assert!(classify(&s, Kind::Join, &["_x", "_"], Span::call_site()).is_ok());
    }

    #[test]
    fn join_mistakes() {
        let s = sig(parse_quote! { async fn f(&mut self) -> JoinResult<Self> });
        assert!(err(classify(&s, Kind::Join, &[], Span::call_site())).contains("takes no `self`"));
        let s = sig(parse_quote! { async fn f(room: String) -> JoinResult<Self> });
        assert!(err(classify(&s, Kind::Join, &["room_id"], Span::call_site())).contains("matches no capture"));
        let s = sig(parse_quote! { async fn f(room: String) -> JoinResult<Self> });
        assert!(err(classify(&s, Kind::Join, &[], Span::call_site())).contains("`payload` or `params`"));
        let s = sig(parse_quote! { async fn f() -> JoinResult<Self> });
        assert!(err(classify(&s, Kind::Join, &["room_id"], Span::call_site())).contains("has no parameter"));
    }

    #[test]
    fn a_misspelled_capture_is_one_error() {
        let s = sig(parse_quote! { async fn room(idd: u32) -> JoinResult<Self> });
        let e = err(classify(&s, Kind::Join, &["id"], Span::call_site()));
        assert_eq!(
            e,
            "parameter `idd` matches no capture, and capture `{id}` has no parameter; did you mean to name the \
             parameter `id`?"
        );
        // two parameters for one capture: no pairing, each mistake as usual
        let s = sig(parse_quote! { async fn room(idd: u32, x: u32) -> JoinResult<Self> });
        assert_eq!(err(classify(&s, Kind::Join, &["id"], Span::call_site())).lines().count(), 3);
    }

    #[test]
    fn signature_mistakes() {
        for (s, kind, needle) in [
            (sig(parse_quote! { fn f(self) }), Kind::HandleIn, "`&mut self`"),
            (sig(parse_quote! { fn f(self: Box<Self>) }), Kind::HandleIn, "`&mut self`"),
            (sig(parse_quote! { fn f<T>(&mut self, t: T) }), Kind::HandleIn, "cannot be generic"),
            (sig(parse_quote! { unsafe fn f(&mut self) }), Kind::HandleIn, "`unsafe`"),
            (sig(parse_quote! { fn f(&mut self, a: A, b: B) }), Kind::HandleIn, "at most one payload"),
            (sig(parse_quote! { fn f(&mut self, a: A, p: Payload) }), Kind::HandleIn, "at most one payload"),
            (sig(parse_quote! { fn f(&mut self, s: ChannelSocket<Self>) }), Kind::HandleIn, "by reference"),
            (
                sig(parse_quote! { fn f(&mut self, a: &mut ChannelSocket<Self>, b: &ChannelSocket<Self>) }),
                Kind::HandleIn,
                "already a parameter",
            ),
            (sig(parse_quote! { fn f(&mut self, topic: String) }), Kind::HandleIn, "`topic: &str`"),
            (sig(parse_quote! { fn f(&mut self, assigns: UserSocket) }), Kind::HandleIn, "`assigns: &UserSocket`"),
            (sig(parse_quote! { fn f(&mut self, a: A, b: B) }), Kind::HandleInfo, "one message parameter"),
            (sig(parse_quote! { fn f(&mut self, p: Payload) }), Kind::HandleInfo, "not a `Payload`"),
            (sig(parse_quote! { fn f(&mut self, x: u32) }), Kind::Terminate, "takes only"),
            (sig(parse_quote! { fn f(&mut self, r: &TerminateReason) }), Kind::HandleIn, "only a #[terminate]"),
        ] {
            let e = err(classify(&s, kind, &[], Span::call_site()));
            assert!(e.contains(needle), "{}: {e}", quote::quote!(#s));
        }
    }

    #[test]
    fn errors_accumulate() {
        let s = sig(parse_quote! { fn f<T>(self, a: A, b: B) });
        let e = classify(&s, Kind::HandleIn, &[], Span::call_site()).unwrap_err();
        assert_eq!(e.into_iter().count(), 3);
    }

    #[test]
    fn other_kinds() {
        let s = sig(parse_quote! { async fn tick(&mut self, msg: Tick, socket: &mut ChannelSocket<Self>) });
        let c = classify(&s, Kind::HandleInfo, &[], Span::call_site()).unwrap();
        assert_eq!(args(&c), [Arg::Info, Arg::Socket { mutable: true }]);
        let s = sig(parse_quote! { async fn bye(&mut self, reason: &TerminateReason) });
        let c = classify(&s, Kind::Terminate, &[], Span::call_site()).unwrap();
        assert_eq!(args(&c), [Arg::Reason { by_ref: true }]);
        let s = sig(parse_quote! { fn out(&mut self, p: Payload) -> OutResult });
        let c = classify(&s, Kind::HandleOut, &[], Span::call_site()).unwrap();
        assert_eq!(args(&c), [Arg::RawPayload { by_ref: false }]);
    }

    #[test]
    fn state_by_type_in_every_kind() {
        for kind in [Kind::Join, Kind::HandleIn, Kind::HandleOut, Kind::HandleInfo, Kind::Terminate] {
            let s = sig(parse_quote! { fn f(config: State<Config>, pool: channels::state::State<db::Pool>) });
            let c = classify(&s, kind, &[], Span::call_site()).unwrap();
            assert_eq!(args(&c), [Arg::State, Arg::State], "{kind:?}");
        }
        // a `State` without a type argument is any other type: here, the payload
        let s = sig(parse_quote! { fn f(&mut self, state: machine::State) });
        assert_eq!(args(&classify(&s, Kind::HandleIn, &[], Span::call_site()).unwrap()), [Arg::Payload]);
        let inner = |ty: Type| state_type(&ty).map(|t| quote::quote!(#t).to_string());
        assert_eq!(inner(parse_quote!(State<a::B>)).as_deref(), Some("a :: B"));
        assert_eq!(inner(parse_quote!(State)), None);
        assert_eq!(inner(parse_quote!(State<A, B>)), None);
    }

    #[test]
    fn state_mistakes() {
        let s = sig(parse_quote! { fn f(&mut self, config: &State<Config>) });
        assert!(err(classify(&s, Kind::HandleIn, &[], Span::call_site())).contains("take app state by value"));
        let s = sig(parse_quote! { fn f(&mut self, a: State<Config>, b: State<Config>) });
        let e = err(classify(&s, Kind::HandleIn, &[], Span::call_site()));
        assert!(e.contains("this app state is already a parameter"), "{e}");
    }

    #[test]
    fn type_helpers() {
        assert!(is_total_capture_type(&parse_quote!(String)));
        assert!(is_total_capture_type(&parse_quote!(std::string::String)));
        assert!(!is_total_capture_type(&parse_quote!(u32)));
        assert!(!is_total_capture_type(&parse_quote!(my::String)));
        assert!(is_str_ref(&parse_quote!(&str)) && !is_str_ref(&parse_quote!(&mut str)));
        assert_eq!(normalize("_room"), "room");
        assert_eq!(normalize("_"), "_");
    }
}
