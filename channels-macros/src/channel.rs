//! `#[channel]`: an inherent impl of handlers becomes an `impl Channel` whose callbacks `match` on events and
//! test join clauses in order.
//!
//! Parse (attributes into [`Handler`]s, signatures classified), validate (duplicates, coverage, intercepts), then
//! generate. A handler with a mistake is reported and left out of the dispatch, while the impl block itself is
//! always emitted unchanged (minus our attributes): the user's other code keeps compiling, so one mistake gives
//! one error, not a cascade.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Error, Ident, ImplItem, ItemImpl, Lifetime, LitStr, Meta, Token, Type};

use channels_topic::{JoinPattern, Segment};

use crate::signature::{Arg, Errors, HandlerSig, Kind, Receiver, classify, is_total_capture_type};

/// One method carrying a handler attribute.
pub struct Handler {
    /// Which attribute.
    pub kind: Kind,
    /// The join pattern or event literal (`None` for `#[handle_info]` / `#[terminate]`).
    pub lit: Option<LitStr>,
    /// The parsed join pattern (joins whose pattern parsed).
    pub pattern: Option<JoinPattern>,
    /// The method's name.
    pub ident: Ident,
    /// The classified signature; `None` when it has a mistake (the handler is then left out of dispatch).
    pub sig: Option<HandlerSig>,
}

/// A parsed `#[channel]` impl block.
pub struct Model {
    /// The `Channel::Socket` type.
    pub socket: Type,
    /// `#[intercept(..)]` events.
    pub intercepts: Vec<LitStr>,
    /// The handlers, in source order.
    pub handlers: Vec<Handler>,
}

/// Expands `#[channel(attr)] item`.
pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let socket = parse_args(attr, &mut errors);
    let mut imp = match syn::parse2::<ItemImpl>(item.clone()) {
        Ok(imp) if imp.trait_.is_none() => imp,
        Ok(imp) => {
            let (_, path, _) = imp.trait_.as_ref().expect("checked");
            let e = Error::new_spanned(
                path,
                "#[channel] goes on the inherent impl block of your channel struct (`#[channel] impl RoomChannel { .. }`), \
                 not on a trait impl; it writes the `Channel` impl for you",
            );
            let e = e.to_compile_error();
            return quote!(#item #e);
        }
        Err(_) => {
            let e = Error::new(
                Span::call_site(),
                "#[channel] goes on the impl block of your channel struct: `#[channel] impl RoomChannel { .. }`",
            );
            let e = e.to_compile_error();
            return quote!(#item #e);
        }
    };
    let model = Model::parse(&mut imp, socket, &mut errors);
    model.validate(&imp, &mut errors);
    let generated = model.generate(&imp);
    let errors = errors.to_compile_errors();
    quote! {
        #imp
        #generated
        #errors
    }
}

fn parse_args(attr: TokenStream, errors: &mut Errors) -> Type {
    let mut socket: Option<Type> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("socket") {
            socket = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error(
                "unknown #[channel] argument; the only one is `socket = SocketType` (the socket handler whose \
                 connections join this channel; `UserSocket` when omitted)",
            ))
        }
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, attr) {
        errors.push(e);
    }
    // Phoenix's convention: channels belong to `UserSocket` unless told otherwise.
    socket.unwrap_or_else(|| syn::parse_quote_spanned!(Span::call_site()=> UserSocket))
}

impl Model {
    /// Reads the handlers out of `imp`, stripping our attributes so the impl can be emitted as plain Rust.
    pub fn parse(imp: &mut ItemImpl, socket: Type, errors: &mut Errors) -> Model {
        let mut intercepts = Vec::new();
        imp.attrs.retain(|attr| {
            if last_ident(attr).as_deref() != Some("intercept") {
                return true;
            }
            match attr.parse_args_with(Punctuated::<LitStr, Token![,]>::parse_terminated) {
                Ok(list) if !list.is_empty() => intercepts.extend(list),
                Ok(_) => errors
                    .push(Error::new_spanned(attr, "list the intercepted events: `#[intercept(\"user_joined\")]`")),
                Err(e) => errors.push(Error::new(
                    e.span(),
                    "#[intercept] lists event names as strings: `#[intercept(\"user_joined\", \"user_left\")]`",
                )),
            }
            false
        });

        let mut handlers = Vec::new();
        for item in &mut imp.items {
            let ImplItem::Fn(method) = item else {
                if let Some(attrs) = item_attrs(item) {
                    for attr in attrs.iter().filter(|a| handler_kind(a).is_some()) {
                        errors.push(Error::new_spanned(attr, "handler attributes go on methods (`async fn ..`)"));
                    }
                    attrs.retain(|a| handler_kind(a).is_none());
                }
                continue;
            };
            let mut found: Option<(Kind, Attribute)> = None;
            let mut keep = Vec::with_capacity(method.attrs.len());
            for attr in std::mem::take(&mut method.attrs) {
                match handler_kind(&attr) {
                    None => keep.push(attr),
                    Some(kind) => match &found {
                        None => found = Some((kind, attr)),
                        Some((first, _)) => errors.push(Error::new_spanned(
                            &attr,
                            format!(
                                "`fn {}` is already a #[{}] handler; a method handles one thing, so move this \
                                 attribute to a method of its own",
                                method.sig.ident,
                                first.name()
                            ),
                        )),
                    },
                }
            }
            method.attrs = keep;
            let Some((kind, attr)) = found else { continue };
            let handler = Handler::parse(kind, &attr, &method.sig, errors);
            if handler.sig.is_none() {
                // Left out of dispatch: don't add an unused-method warning to the error.
                method.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
            }
            handlers.push(handler);
        }
        Model { socket, intercepts, handlers }
    }

    fn of(&self, kind: Kind) -> impl Iterator<Item = &Handler> {
        self.handlers.iter().filter(move |h| h.kind == kind)
    }

    /// The checks that span handlers: duplicates, unreachable clauses, intercepts, a missing join.
    pub fn validate(&self, imp: &ItemImpl, errors: &mut Errors) {
        if self.of(Kind::Join).next().is_none() {
            errors.push(Error::new_spanned(
                &imp.self_ty,
                "a channel needs at least one join handler, e.g. \
                 `#[join(\"rooms:{room_id}\")] async fn join(room_id: String) -> JoinResult<Self> { .. }`",
            ));
        }
        for kind in [Kind::HandleIn, Kind::HandleOut] {
            let handlers: Vec<&Handler> = self.of(kind).filter(|h| h.lit.is_some()).collect();
            for (i, h) in handlers.iter().enumerate() {
                let lit = h.lit.as_ref().expect("filtered");
                if let Some(first) =
                    handlers[..i].iter().find(|f| f.lit.as_ref().expect("filtered").value() == lit.value())
                {
                    errors.push(Error::new(
                        lit.span(),
                        format!(
                            "duplicate #[{}({:?})]: `fn {}` already handles this event; merge the two handlers \
                             (Rust has no function clauses: branch inside one handler)",
                            kind.name(),
                            lit.value(),
                            first.ident
                        ),
                    ));
                }
            }
        }
        for kind in [Kind::HandleInfo, Kind::Terminate] {
            let handlers: Vec<&Handler> = self.of(kind).collect();
            if let [first, rest @ ..] = handlers.as_slice() {
                for h in rest {
                    let hint =
                        if kind == Kind::HandleInfo { "; make its message type an enum and `match` on it" } else { "" };
                    errors.push(Error::new(
                        h.ident.span(),
                        format!("a channel has one #[{}] handler and `fn {}` is it{hint}", kind.name(), first.ident),
                    ));
                }
            }
        }
        self.validate_joins(errors);
        self.validate_intercepts(errors);
    }

    fn validate_joins(&self, errors: &mut Errors) {
        let joins: Vec<&Handler> = self.of(Kind::Join).collect();
        for (j, later) in joins.iter().enumerate() {
            let (Some(pattern), Some(lit)) = (&later.pattern, &later.lit) else { continue };
            for earlier in &joins[..j] {
                let (Some(covering), Some(sig)) = (&earlier.pattern, &earlier.sig) else { continue };
                let total = |capture: &str| {
                    let param = sig.params.iter().find(|p| p.arg == Arg::Capture(capture.to_owned()));
                    param.is_none_or(|p| is_total_capture_type(&p.ty))
                };
                if covering.covers(pattern, total) {
                    errors.push(Error::new(
                        lit.span(),
                        format!(
                            "join clause {} is unreachable: the earlier clause `fn {}` ({}) matches every topic it \
                             matches, and clauses are tried in order; move this clause above it, or remove it",
                            shown(later),
                            earlier.ident,
                            shown(earlier)
                        ),
                    ));
                    break;
                }
            }
        }
    }

    fn validate_intercepts(&self, errors: &mut Errors) {
        for (i, lit) in self.intercepts.iter().enumerate() {
            if self.intercepts[..i].iter().any(|l| l.value() == lit.value()) {
                errors.push(Error::new(lit.span(), format!("{:?} is already intercepted; list it once", lit.value())));
            } else if !self.of(Kind::HandleOut).any(|h| h.lit.as_ref().is_some_and(|l| l.value() == lit.value())) {
                errors.push(Error::new(
                    lit.span(),
                    format!(
                        "intercepted event {0:?} has no handler: add `#[handle_out({0:?})] async fn ..(&mut self, \
                         payload: Payload, socket: &mut ChannelSocket<Self>) -> OutResult`, or stop intercepting it",
                        lit.value()
                    ),
                ));
            }
        }
        for h in self.of(Kind::HandleOut) {
            let Some(lit) = &h.lit else { continue };
            if !self.intercepts.iter().any(|l| l.value() == lit.value()) {
                let list: Vec<String> = self
                    .intercepts
                    .iter()
                    .map(|l| format!("{:?}", l.value()))
                    .chain([format!("{:?}", lit.value())])
                    .collect();
                errors.push(Error::new(
                    lit.span(),
                    format!(
                        "#[handle_out({0:?})] would never run: {0:?} is not intercepted, so its broadcasts go \
                         straight to clients; intercept it with `#[intercept({1})]` below `#[channel]`",
                        lit.value(),
                        list.join(", ")
                    ),
                ));
            }
        }
    }

    /// The `Channel` and `ChannelInfo` impls (complete, minus the handlers that had mistakes).
    pub fn generate(&self, imp: &ItemImpl) -> TokenStream {
        let (impl_generics, _, where_clause) = imp.generics.split_for_impl();
        let self_ty = &imp.self_ty;
        let socket = &self.socket;
        let p = quote!(::channels::__private);

        let mut clauses: Vec<TokenStream> = self
            .of(Kind::Join)
            .filter_map(|h| match (&h.pattern, &h.lit) {
                (Some(JoinPattern::Any), _) => Some(quote!(#p::JoinClause::Any)),
                (Some(JoinPattern::Segments(_)), Some(lit)) => Some(quote!(#p::JoinClause::Pattern(#lit))),
                _ => None,
            })
            .collect();
        if clauses.is_empty() || self.of(Kind::Join).any(|h| h.pattern.is_none()) {
            // A join pattern is missing or malformed (already an error): claim every topic, so that the routes
            // naming this channel do not add "can never reach" errors to it.
            clauses.push(quote!(#p::JoinClause::Any));
        }
        let intercepts = &self.intercepts;

        let info = self.of(Kind::HandleInfo).find_map(|h| h.sig.as_ref());
        let info_ty = info
            .and_then(|sig| sig.params.iter().find(|p| p.arg == Arg::Info))
            .map(|p| p.ty.clone())
            .unwrap_or_else(|| syn::parse_quote!(()));

        let join = self.generate_join();
        let handle_in = self.generate_handle_in();
        let handle_out = self.generate_handle_out();
        let handle_info = self.generate_handle_info();
        let terminate = self.generate_terminate();
        quote! {
            impl #impl_generics #p::Channel for #self_ty #where_clause {
                type Socket = #socket;
                type Info = #info_ty;
                const INTERCEPTS: &'static [&'static ::core::primitive::str] = &[#(#intercepts),*];
                #join
                #handle_in
                #handle_out
                #handle_info
                #terminate
            }

            impl #impl_generics #p::ChannelInfo<<#self_ty as #p::Channel>::Socket> for #self_ty #where_clause {
                const JOIN_PATTERNS: &'static [#p::JoinClause<'static>] = &[#(#clauses),*];
            }
        }
    }

    fn generate_join(&self) -> TokenStream {
        let p = quote!(::channels::__private);
        let mut clauses = Vec::new();
        let mut tail = quote!(#p::unmatched_topic(__topic));
        for (i, h) in self.of(Kind::Join).enumerate() {
            let (Some(pattern), Some(sig)) = (&h.pattern, &h.sig) else { continue };
            if *pattern == JoinPattern::Any {
                // Matches every topic: it ends the chain (a clause after it is an error already).
                let body = invocation(Kind::Join, h, sig);
                tail = quote!({ #body });
                break;
            }
            clauses.push(join_clause(i, h, pattern, sig));
        }
        quote! {
            async fn join(
                __topic: &::core::primitive::str,
                __payload: #p::Payload,
                __socket: &mut #p::ChannelSocket<Self>,
            ) -> #p::JoinResult<Self> {
                #(#clauses)*
                #tail
            }
        }
    }

    /// The first handler of each event (a duplicate is an error already; leaving it out spares an
    /// unreachable-pattern warning).
    fn distinct(&self, kind: Kind) -> impl Iterator<Item = &Handler> {
        let mut seen = Vec::new();
        self.of(kind).filter(move |h| {
            let event = h.lit.as_ref().map(LitStr::value);
            let new = !seen.contains(&event);
            seen.push(event);
            new
        })
    }

    fn generate_handle_in(&self) -> TokenStream {
        let p = quote!(::channels::__private);
        let arms = self.distinct(Kind::HandleIn).filter_map(|h| {
            let (lit, sig) = (h.lit.as_ref()?, h.sig.as_ref()?);
            let body = invocation(Kind::HandleIn, h, sig);
            Some(quote!(#lit => { #body }))
        });
        quote! {
            async fn handle_in(
                &mut self,
                __event: &::core::primitive::str,
                __payload: #p::Payload,
                __socket: &mut #p::ChannelSocket<Self>,
            ) -> #p::HandleResult {
                match __event {
                    #(#arms)*
                    _ => #p::unhandled_event(__event, __socket.topic()),
                }
            }
        }
    }

    fn generate_handle_out(&self) -> TokenStream {
        if self.of(Kind::HandleOut).next().is_none() {
            return TokenStream::new();
        }
        let p = quote!(::channels::__private);
        let arms = self.distinct(Kind::HandleOut).filter_map(|h| {
            let (lit, sig) = (h.lit.as_ref()?, h.sig.as_ref()?);
            let body = invocation(Kind::HandleOut, h, sig);
            Some(quote!(#lit => { #body }))
        });
        quote! {
            async fn handle_out(
                &mut self,
                __event: &::core::primitive::str,
                __payload: &#p::Payload,
                __socket: &mut #p::ChannelSocket<Self>,
            ) -> #p::OutResult {
                match __event {
                    #(#arms)*
                    _ => #p::push_unchanged(__event, __payload, __socket),
                }
            }
        }
    }

    fn generate_handle_info(&self) -> TokenStream {
        let Some((h, sig)) = self.of(Kind::HandleInfo).find_map(|h| Some((h, h.sig.as_ref()?))) else {
            return TokenStream::new();
        };
        let p = quote!(::channels::__private);
        let body = invocation(Kind::HandleInfo, h, sig);
        quote! {
            async fn handle_info(
                &mut self,
                __info: <Self as #p::Channel>::Info,
                __socket: &mut #p::ChannelSocket<Self>,
            ) -> #p::OutResult {
                #body
            }
        }
    }

    fn generate_terminate(&self) -> TokenStream {
        let Some((h, sig)) = self.of(Kind::Terminate).find_map(|h| Some((h, h.sig.as_ref()?))) else {
            return TokenStream::new();
        };
        let p = quote!(::channels::__private);
        let body = invocation(Kind::Terminate, h, sig);
        quote! {
            async fn terminate(
                &mut self,
                __reason: &#p::TerminateReason,
                __socket: &mut #p::ChannelSocket<Self>,
            ) {
                #body
            }
        }
    }
}

impl Handler {
    fn parse(kind: Kind, attr: &Attribute, sig: &syn::Signature, errors: &mut Errors) -> Handler {
        let mut handler = Handler { kind, lit: None, pattern: None, ident: sig.ident.clone(), sig: None };
        let mut ok = true;
        match kind {
            Kind::Join if is_underscore(attr) => {
                // The catch-all clause; the literal only carries the span for errors.
                handler.pattern = Some(JoinPattern::Any);
                handler.lit = Some(LitStr::new("_", attr.meta.span()));
            }
            Kind::Join | Kind::HandleIn | Kind::HandleOut => match parse_lit(kind, attr) {
                Ok(lit) => {
                    let checked = if kind == Kind::Join {
                        parse_join_pattern(&lit.value()).map(|p| handler.pattern = Some(p))
                    } else {
                        check_event(kind, &lit.value())
                    };
                    if let Err(message) = checked {
                        errors.push(Error::new(lit.span(), message));
                        ok = false;
                    }
                    handler.lit = Some(lit);
                }
                Err(e) => {
                    errors.push(e);
                    ok = false;
                }
            },
            Kind::HandleInfo | Kind::Terminate => {
                if !matches!(attr.meta, Meta::Path(_)) {
                    errors.push(Error::new_spanned(
                        &attr.meta,
                        format!("#[{0}] takes no arguments: write `#[{0}]`", kind.name()),
                    ));
                }
            }
        }
        let pattern_span = handler.lit.as_ref().map_or_else(|| attr.span(), LitStr::span);
        let captures: Vec<&str> = handler.pattern.iter().flat_map(JoinPattern::captures).collect();
        match classify(sig, kind, &captures, pattern_span) {
            Ok(classified) if ok => handler.sig = Some(classified),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
        handler
    }
}

fn is_underscore(attr: &Attribute) -> bool {
    matches!(&attr.meta, Meta::List(list) if syn::parse2::<Token![_]>(list.tokens.clone()).is_ok())
}

/// How a join clause is named in messages.
fn shown(h: &Handler) -> String {
    match (&h.pattern, &h.lit) {
        (Some(JoinPattern::Any), _) => "`_`".to_owned(),
        (_, Some(lit)) => format!("{:?}", lit.value()),
        _ => String::new(),
    }
}

fn parse_lit(kind: Kind, attr: &Attribute) -> Result<LitStr, Error> {
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

fn handler_kind(attr: &Attribute) -> Option<Kind> {
    last_ident(attr).as_deref().and_then(Kind::from_name)
}

fn last_ident(attr: &Attribute) -> Option<String> {
    attr.path().segments.last().map(|s| s.ident.to_string())
}

fn item_attrs(item: &mut ImplItem) -> Option<&mut Vec<Attribute>> {
    match item {
        ImplItem::Const(i) => Some(&mut i.attrs),
        ImplItem::Type(i) => Some(&mut i.attrs),
        ImplItem::Macro(i) => Some(&mut i.attrs),
        _ => None,
    }
}

/// One join clause: a labelled block that breaks out as soon as the topic does not fit, else returns the
/// handler's result. Clauses run in source order, like Elixir function clauses.
fn join_clause(index: usize, h: &Handler, pattern: &JoinPattern, sig: &HandlerSig) -> TokenStream {
    let p = quote!(::channels::__private);
    let label = Lifetime::new(&format!("'__channels_clause_{index}"), Span::call_site());
    let mut matching = Vec::new();
    if let Some(topic) = pattern.as_literal() {
        matching.push(quote!(if __topic != #topic { break #label; }));
    } else {
        matching.push(quote!(let mut __segments = ::core::primitive::str::split(__topic, ':');));
        for (k, segment) in pattern.segments().iter().enumerate() {
            matching.push(quote! {
                let ::core::option::Option::Some(__segment) = ::core::iter::Iterator::next(&mut __segments) else {
                    break #label;
                };
            });
            matching.push(match segment {
                Segment::Literal(text) => quote!(if __segment != #text { break #label; }),
                Segment::Capture { prefix, name, suffix } => {
                    match sig.params.iter().find(|p| p.arg == Arg::Capture(name.clone())) {
                        Some(param) => {
                            let local = format_ident!("__channels_capture_{k}");
                            let ty = &param.ty;
                            quote! {
                                let ::core::option::Option::Some(#local) =
                                    #p::capture::<#ty>(__segment, #prefix, #suffix) else { break #label; };
                            }
                        }
                        None => quote!(if !#p::segment_matches(__segment, #prefix, #suffix) { break #label; }),
                    }
                }
            });
        }
        matching.push(quote!(if ::core::iter::Iterator::next(&mut __segments).is_some() { break #label; }));
    }
    let captures: Vec<(String, Ident)> = pattern
        .segments()
        .iter()
        .enumerate()
        .filter_map(|(k, s)| match s {
            Segment::Capture { name, .. } => Some((name.clone(), format_ident!("__channels_capture_{k}"))),
            Segment::Literal(_) => None,
        })
        .collect();
    let body = invocation_with(Kind::Join, h, sig, &captures);
    quote! {
        #label: {
            #(#matching)*
            return { #body };
        }
    }
}

fn invocation(kind: Kind, h: &Handler, sig: &HandlerSig) -> TokenStream {
    invocation_with(kind, h, sig, &[])
}

/// The statements that extract a handler's arguments, call it and convert its result to the callback's type.
fn invocation_with(kind: Kind, h: &Handler, sig: &HandlerSig, captures: &[(String, Ident)]) -> TokenStream {
    let p = quote!(::channels::__private);
    let mut prelude = Vec::new();
    let mut args = Vec::new();
    // `&mut ChannelSocket` and a borrow of its topic or assigns cannot coexist: clone the (refcounted) value out.
    let socket_is_mut = sig.socket_is_mut();
    for param in &sig.params {
        let ty = &param.ty;
        args.push(match &param.arg {
            Arg::Socket { mutable } => reborrow(ty, "__socket", *mutable),
            Arg::Topic if kind == Kind::Join => quote!(__topic),
            Arg::Topic if socket_is_mut => {
                prelude.push(quote!(let __channels_topic = #p::topic_of(__socket);));
                quote!(&*__channels_topic)
            }
            Arg::Topic => quote!(__socket.topic()),
            Arg::Assigns => {
                prelude.push(if socket_is_mut {
                    quote!(let __channels_assigns = #p::assigns_of(__socket);)
                } else {
                    quote!(let __channels_assigns = __socket.assigns();)
                });
                reborrow(ty, "__channels_assigns", false)
            }
            Arg::RawPayload { by_ref } => match (kind, by_ref) {
                (Kind::HandleOut, true) => quote!(__payload),
                (Kind::HandleOut, false) => quote!(::core::clone::Clone::clone(__payload)),
                (_, true) => quote!(&__payload),
                (_, false) => quote!(__payload),
            },
            Arg::Payload => {
                let (source, on_error) = match kind {
                    Kind::Join => (quote!(&__payload), quote!(#p::invalid_join_payload(__topic, __error))),
                    Kind::HandleOut => (quote!(__payload), quote!(#p::undecodable_broadcast(__event, __error))),
                    _ => (quote!(&__payload), quote!(#p::invalid_payload(__event, __error))),
                };
                prelude.push(quote! {
                    let __channels_payload = match #p::decode::<#ty>(#source) {
                        ::core::result::Result::Ok(__value) => __value,
                        ::core::result::Result::Err(__error) => return #on_error,
                    };
                });
                quote!(__channels_payload)
            }
            Arg::Capture(name) => {
                let (_, local) = captures.iter().find(|(n, _)| n == name).expect("classify binds only captures");
                quote!(#local)
            }
            Arg::Info => quote!(__info),
            Arg::Reason { by_ref: true } => quote!(__reason),
            Arg::Reason { by_ref: false } => quote!(::core::clone::Clone::clone(__reason)),
        });
    }
    let receiver = match sig.receiver {
        Receiver::None => None,
        Receiver::Shared | Receiver::Exclusive => Some(quote!(self,)),
    };
    let ident = &h.ident;
    // The callee carries the handler's name span, so "arguments to this function" notes point at the handler.
    let callee = quote_spanned!(ident.span()=> Self::#ident);
    let call =
        if sig.is_async { quote!(#callee(#receiver #(#args),*).await) } else { quote!(#callee(#receiver #(#args),*)) };
    // Spanned on the user's return type, so a wrong one is reported there with the trait's explanation.
    let convert = match kind {
        Kind::Join => quote_spanned!(sig.output_span=> #p::join_result::<Self, _>(__channels_result)),
        Kind::HandleIn => quote_spanned!(sig.output_span=> #p::handle_result(__channels_result)),
        Kind::HandleOut | Kind::HandleInfo => quote_spanned!(sig.output_span=> #p::out_result(__channels_result)),
        Kind::Terminate => quote_spanned!(sig.output_span=> #p::terminate_result(__channels_result)),
    };
    quote! {
        #(#prelude)*
        let __channels_result = #call;
        #convert
    }
}

/// `&*local` / `&mut *local` whose first and last tokens carry the spans of the first and last tokens of the
/// parameter's type, so that a type mismatch underlines the user's whole type.
fn reborrow(ty: &Type, local: &str, mutable: bool) -> TokenStream {
    let mut tokens = ty.to_token_stream().into_iter();
    let first = tokens.next().map_or_else(Span::call_site, |t| t.span());
    let last = tokens.last().map_or(first, |t| t.span());
    // Every token must carry a user span: a span of this macro's own would make rustc fall back to the macro.
    let reference = if mutable { quote_spanned!(first=> &mut *) } else { quote_spanned!(first=> &*) };
    let local = Ident::new(local, last);
    quote!(#reference #local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(tokens: TokenStream) -> (Model, ItemImpl, Vec<String>) {
        let mut imp: ItemImpl = syn::parse2(tokens).unwrap();
        let mut errors = Errors::default();
        let model = Model::parse(&mut imp, syn::parse_quote!(UserSocket), &mut errors);
        model.validate(&imp, &mut errors);
        let messages =
            errors.finish().err().map(|e| e.into_iter().map(|e| e.to_string()).collect()).unwrap_or_default();
        (model, imp, messages)
    }

    fn one_error(tokens: TokenStream, needle: &str) {
        let (_, _, errors) = model(tokens);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(errors[0].contains(needle), "{errors:#?}");
    }

    #[test]
    fn parses_the_guide_channel_and_strips_attributes() {
        let (model, imp, errors) = model(quote! {
            #[intercept("user_joined")]
            impl RoomChannel {
                #[join("rooms:lobby")]
                async fn lobby() -> JoinResult<Self> { JoinResult::ok(RoomChannel) }
                #[join("rooms:{_private}")]
                async fn private() -> JoinResult<Self> { JoinResult::error(&json!({})) }
                #[handle_in("new_msg")]
                async fn new_msg(&mut self, msg: NewMsg, socket: &mut ChannelSocket<Self>) {}
                #[handle_out("user_joined")]
                async fn user_joined(&mut self, payload: &Payload, socket: &mut ChannelSocket<Self>) -> OutResult {}
                fn helper(&self) {}
            }
        });
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(model.handlers.len(), 4);
        assert_eq!(model.intercepts.len(), 1);
        let printed = quote!(#imp).to_string();
        assert!(!printed.contains("join") || !printed.contains("# [join"), "{printed}");
        assert!(!printed.contains("intercept"), "{printed}");
        let generated = model.generate(&imp).to_string();
        assert!(generated.contains("\"new_msg\" =>"), "{generated}");
        assert!(generated.contains("JOIN_PATTERNS"), "{generated}");
    }

    #[test]
    fn duplicate_events() {
        one_error(
            quote! { impl C {
                #[join("a")] fn j() -> JoinResult<Self> { todo!() }
                #[handle_in("x")] fn a(&mut self) {}
                #[handle_in("x")] fn b(&mut self) {}
            }},
            "duplicate #[handle_in(\"x\")]: `fn a` already handles",
        );
    }

    #[test]
    fn unreachable_join_clause() {
        one_error(
            quote! { impl C {
                #[join("rooms:{name}")] fn named(name: String) -> JoinResult<Self> { todo!() }
                #[join("rooms:lobby")] fn lobby() -> JoinResult<Self> { todo!() }
            }},
            "join clause \"rooms:lobby\" is unreachable: the earlier clause `fn named`",
        );
        // a fallible capture falls through, so the later clause is reachable
        let (_, _, errors) = model(quote! { impl C {
            #[join("rooms:{id}")] fn numbered(id: u32) -> JoinResult<Self> { todo!() }
            #[join("rooms:{name}")] fn named(name: String) -> JoinResult<Self> { todo!() }
        }});
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn catch_all_clause() {
        let (model, imp, errors) = model(quote! { impl C {
            #[join("rooms:lobby")] fn lobby() -> JoinResult<Self> { todo!() }
            #[join(_)] fn other(topic: &str) -> JoinResult<Self> { todo!() }
        }});
        assert!(errors.is_empty(), "{errors:?}");
        let generated = model.generate(&imp).to_string();
        assert!(
            generated.contains(
                "= & [:: channels :: __private :: JoinClause :: Pattern (\"rooms:lobby\") , :: channels :: __private :: JoinClause :: Any]"
            ),
            "{generated}"
        );
        assert!(!generated.contains("unmatched_topic"), "{generated}");
        one_error(
            quote! { impl C {
                #[join(_)] fn other() -> JoinResult<Self> { todo!() }
                #[join("rooms:lobby")] fn lobby() -> JoinResult<Self> { todo!() }
            }},
            "join clause \"rooms:lobby\" is unreachable: the earlier clause `fn other` (`_`)",
        );
    }

    #[test]
    fn a_malformed_pattern_claims_every_topic() {
        // so that the routes naming this channel do not add "can never reach" errors
        let (model, imp, errors) =
            model(quote! { impl C { #[join("rooms:{")] fn j() -> JoinResult<Self> { todo!() } } });
        assert_eq!(errors.len(), 1);
        assert!(model.generate(&imp).to_string().contains("= & [:: channels :: __private :: JoinClause :: Any]"));
    }

    #[test]
    fn intercepts_and_handle_out_must_agree() {
        one_error(
            quote! { impl C {
                #[join("a")] fn j() -> JoinResult<Self> { todo!() }
                #[handle_out("x")] fn x(&mut self) {}
            }},
            "is not intercepted",
        );
        one_error(
            quote! { #[intercept("x", "y")] impl C {
                #[join("a")] fn j() -> JoinResult<Self> { todo!() }
                #[handle_out("x")] fn x(&mut self) {}
            }},
            "intercepted event \"y\" has no handler",
        );
    }

    #[test]
    fn a_malformed_handler_is_one_error_and_left_out() {
        let (model, imp, errors) = model(quote! { #[intercept("x")] impl C {
            #[join("a")] fn j() -> JoinResult<Self> { todo!() }
            #[handle_out("x")] fn x(self) {}
            #[handle_in("y")] fn y(&mut self, a: A, b: B) {}
        }});
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(model.handlers.iter().filter(|h| h.sig.is_none()).count() == 2);
        let printed = quote!(#imp).to_string();
        assert_eq!(printed.matches("allow (dead_code)").count(), 2, "{printed}");
    }

    #[test]
    fn attribute_mistakes() {
        one_error(quote! { impl C { fn x(&mut self) {} } }, "at least one join handler");
        one_error(
            quote! { impl C { #[join] fn j() -> JoinResult<Self> { todo!() } } },
            "#[join] needs the topic pattern",
        );
        one_error(quote! { impl C { #[join(rooms)] fn j() -> JoinResult<Self> { todo!() } } }, "one string literal");
        one_error(quote! { impl C { #[join("rooms:{")] fn j() -> JoinResult<Self> { todo!() } } }, "unclosed `{`");
        one_error(
            quote! { impl C { #[join("a")] #[handle_in("b")] fn j() -> JoinResult<Self> { todo!() } } },
            "already a #[join] handler",
        );
        one_error(
            quote! { impl C { #[join("a")] fn j() -> JoinResult<Self> { todo!() } #[handle_in("phx_join")] fn x(&self) {} } },
            "protocol event",
        );
        one_error(
            quote! { impl C { #[join("a")] fn j() -> JoinResult<Self> { todo!() }
            #[handle_info] fn a(&mut self, m: u8) {} #[handle_info] fn b(&mut self, m: u8) {} } },
            "one #[handle_info] handler and `fn a` is it",
        );
        one_error(
            quote! { impl C { #[join("a")] fn j() -> JoinResult<Self> { todo!() } #[terminate(x)] fn t(&mut self) {} } },
            "takes no arguments",
        );
    }

    #[test]
    fn socket_argument() {
        let mut errors = Errors::default();
        let ty = parse_args(quote!(socket = AdminSocket), &mut errors);
        assert!(errors.to_compile_errors().is_empty());
        assert_eq!(quote!(#ty).to_string(), "AdminSocket");
        parse_args(quote!(sockt = AdminSocket), &mut errors);
        assert!(errors.finish().unwrap_err().to_string().contains("unknown #[channel] argument"));
    }
}
