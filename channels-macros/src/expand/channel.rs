//! `#[channel]`'s code: an `impl Channel` whose callbacks `match` on events and test join clauses in order, and
//! the hidden `ChannelInfo` impl through which `#[socket]` checks its routes.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemImpl, Lifetime, Path, Type};

use channels_topic::{JoinPattern, Segment};

use crate::ast::{Channel, Handler};
use crate::attr::{Join, Kind};
use crate::signature::{Arg, HandlerSig, Receiver, state_type};

/// The `Channel` and `ChannelInfo` impls (complete, minus the handlers that had mistakes).
pub fn generate(channel: &Channel, imp: &ItemImpl) -> TokenStream {
    let (impl_generics, _, where_clause) = imp.generics.split_for_impl();
    let self_ty = &imp.self_ty;
    let socket = &channel.socket;
    let p = &channel.runtime;

    let mut clauses: Vec<TokenStream> = channel
        .joins()
        .map(|(_, join)| match join {
            Join::Pattern { lit, .. } => quote!(#p::JoinClause::Pattern(#lit)),
            // A malformed pattern (already an error) claims every topic, so that the routes naming this channel
            // do not add "can never reach" errors to it.
            Join::Any(_) | Join::Malformed => quote!(#p::JoinClause::Any),
        })
        .collect();
    if clauses.is_empty() {
        // No join at all (an error already): likewise.
        clauses.push(quote!(#p::JoinClause::Any));
    }
    let intercepts = &channel.intercepts;
    let required_state = required_state(channel);

    let info = channel.handlers(Kind::HandleInfo).find_map(|h| h.sig.as_ref());
    let info_ty = info
        .and_then(|sig| sig.params.iter().find(|p| p.arg == Arg::Info))
        .map(|p| p.ty.clone())
        .unwrap_or_else(|| syn::parse_quote!(()));

    let join = join(channel);
    let handle_in = handle_in(channel);
    let handle_out = handle_out(channel);
    let handle_info = handle_info(channel);
    let terminate = terminate(channel);
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
            const REQUIRED_STATE: &'static [#p::StateRequirement] = &[#(#required_state),*];
        }
    }
}

/// A `StateRequirement` per type the handlers take as `State<T>`, each type once.
fn required_state(channel: &Channel) -> Vec<TokenStream> {
    let p = &channel.runtime;
    let mut seen = Vec::new();
    let mut required = Vec::new();
    let params = channel.handlers.iter().filter_map(|h| h.sig.as_ref()).flat_map(|sig| &sig.params);
    for ty in params.filter(|param| param.arg == Arg::State).filter_map(|param| state_type(&param.ty)) {
        let key = ty.to_token_stream().to_string();
        if !seen.contains(&key) {
            seen.push(key);
            required.push(quote_spanned!(ty.span()=> #p::StateRequirement::of::<#ty>()));
        }
    }
    required
}

fn join(channel: &Channel) -> TokenStream {
    let p = &channel.runtime;
    let mut clauses = Vec::new();
    let mut tail = quote!(#p::unmatched_topic(__topic));
    for (i, (h, join)) in channel.joins().enumerate() {
        let Some(sig) = &h.sig else { continue };
        match join {
            Join::Pattern { pattern, .. } => clauses.push(join_clause(p, i, h, pattern, sig)),
            Join::Any(_) => {
                // Matches every topic: it ends the chain (a clause after it is an error already).
                let body = invocation(p, Kind::Join, h, sig, &[]);
                tail = quote!({ #body });
                break;
            }
            Join::Malformed => {}
        }
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

/// The match arms of the first handler of each event (a duplicate is an error already; leaving it out spares
/// an unreachable-pattern warning).
fn event_arms(channel: &Channel, kind: Kind) -> Vec<TokenStream> {
    let mut seen = Vec::new();
    let mut arms = Vec::new();
    for (h, lit) in channel.events(kind) {
        if seen.contains(&lit.value()) {
            continue;
        }
        seen.push(lit.value());
        if let Some(sig) = &h.sig {
            let body = invocation(&channel.runtime, kind, h, sig, &[]);
            arms.push(quote!(#lit => { #body }));
        }
    }
    arms
}

fn handle_in(channel: &Channel) -> TokenStream {
    let p = &channel.runtime;
    let method = quote! {
        async fn handle_in(
            &mut self,
            __event: &::core::primitive::str,
            __payload: #p::Payload,
            __socket: &mut #p::ChannelSocket<Self>,
        ) -> #p::HandleResult
    };
    dispatch(channel, Kind::HandleIn, method, quote!(#p::unhandled_event(__event, __socket.topic())))
}

fn handle_out(channel: &Channel) -> TokenStream {
    if channel.handlers(Kind::HandleOut).next().is_none() {
        return TokenStream::new();
    }
    let p = &channel.runtime;
    let method = quote! {
        async fn handle_out(
            &mut self,
            __event: &::core::primitive::str,
            __payload: &#p::Payload,
            __socket: &mut #p::ChannelSocket<Self>,
        ) -> #p::OutResult
    };
    dispatch(channel, Kind::HandleOut, method, quote!(#p::push_unchanged(__event, __payload, __socket)))
}

/// `method` (a trait method's signature) matching `__event` against the channel's handlers of `kind`, and
/// `fallback` for any other event.
fn dispatch(channel: &Channel, kind: Kind, method: TokenStream, fallback: TokenStream) -> TokenStream {
    let arms = event_arms(channel, kind);
    quote! {
        #method {
            match __event {
                #(#arms)*
                _ => #fallback,
            }
        }
    }
}

/// The first well-formed handler of `kind` (a second one is an error already).
fn single(channel: &Channel, kind: Kind) -> Option<(&Handler, &HandlerSig)> {
    channel.handlers(kind).find_map(|h| Some((h, h.sig.as_ref()?)))
}

/// `method` (a trait method's signature) forwarding to the channel's handler of `kind`, if it has one.
fn forward(channel: &Channel, kind: Kind, method: TokenStream) -> TokenStream {
    let Some((h, sig)) = single(channel, kind) else { return TokenStream::new() };
    let body = invocation(&channel.runtime, kind, h, sig, &[]);
    quote! { #method { #body } }
}

fn handle_info(channel: &Channel) -> TokenStream {
    let p = &channel.runtime;
    let method = quote! {
        async fn handle_info(
            &mut self,
            __info: <Self as #p::Channel>::Info,
            __socket: &mut #p::ChannelSocket<Self>,
        ) -> #p::OutResult
    };
    forward(channel, Kind::HandleInfo, method)
}

fn terminate(channel: &Channel) -> TokenStream {
    let p = &channel.runtime;
    let method = quote! { async fn terminate(&mut self, __reason: &#p::TerminateReason, __socket: &mut #p::ChannelSocket<Self>) };
    forward(channel, Kind::Terminate, method)
}

/// One join clause: a labelled block that breaks out as soon as the topic does not fit, else returns the
/// handler's result. Clauses run in source order, like Elixir function clauses.
fn join_clause(p: &Path, index: usize, h: &Handler, pattern: &JoinPattern, sig: &HandlerSig) -> TokenStream {
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
    let body = invocation(p, Kind::Join, h, sig, &captures);
    quote! {
        #label: {
            #(#matching)*
            return { #body };
        }
    }
}

/// The statements that extract a handler's arguments (`captures`: the locals holding a join clause's parsed
/// captures), call it and convert its result to the callback's type.
fn invocation(p: &Path, kind: Kind, h: &Handler, sig: &HandlerSig, captures: &[(String, Ident)]) -> TokenStream {
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
            Arg::State => {
                let inner = state_type(ty).expect("classify accepts `State<T>` only");
                // Spanned on the user's type, so a `State` that is not this crate's is an error there.
                let local = Ident::new(&format!("__channels_state_{}", args.len()), ty.span());
                prelude.push(quote! {
                    let ::core::option::Option::Some(#local) = #p::ChannelSocket::state::<#inner>(__socket) else {
                        return #p::missing_state::<#inner, _, _>(__socket);
                    };
                });
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
    // The argument runs from the first to the last token of the return type, so the whole type is underlined
    // (not only `Result`, or the `E` of a `Result<T, E>` whose `E` is the culprit).
    let (first, last) = sig.output_span;
    let identity = quote_spanned!(first=> ::core::convert::identity);
    let mut arg = proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, quote!(__channels_result));
    arg.set_span(last);
    let result = quote!(#identity #arg);
    let convert = match kind {
        Kind::Join => quote_spanned!(first=> #p::join_result::<Self, _>(#result)),
        Kind::HandleIn => quote_spanned!(first=> #p::handle_result(#result)),
        Kind::HandleOut | Kind::HandleInfo => quote_spanned!(first=> #p::out_result(#result)),
        Kind::Terminate => quote_spanned!(first=> #p::terminate_result(#result)),
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
    use quote::quote;

    use crate::ast::tests::{channel, guide_channel};

    #[test]
    fn dispatches_the_guide_channel() {
        let (model, imp, errors) = channel(guide_channel());
        assert!(errors.is_empty(), "{errors:?}");
        let generated = super::generate(&model, &imp).to_string();
        assert!(generated.contains("\"new_msg\" =>"), "{generated}");
        assert!(generated.contains("JOIN_PATTERNS"), "{generated}");
        assert!(generated.contains(":: channels :: __private :: Channel for RoomChannel"), "{generated}");
    }

    #[test]
    fn state_parameters_are_taken_from_the_socket_and_listed_once() {
        let (model, imp, errors) = channel(quote! { impl C {
            #[join("a")] fn j(c: State<Config>) -> JoinResult<Self> { todo!() }
            #[handle_in("x")] fn x(&mut self, p: State<Pool>, c: State<Config>) {}
        }});
        assert!(errors.is_empty(), "{errors:?}");
        let generated = super::generate(&model, &imp).to_string();
        assert!(
            generated.contains(
                "REQUIRED_STATE : & 'static [:: channels :: __private :: StateRequirement] = & [\
                 :: channels :: __private :: StateRequirement :: of :: < Config > () , \
                 :: channels :: __private :: StateRequirement :: of :: < Pool > ()]"
            ),
            "{generated}"
        );
        assert!(
            generated.contains(
                "let :: core :: option :: Option :: Some (__channels_state_0) = \
                 :: channels :: __private :: ChannelSocket :: state :: < Pool > (__socket) else { \
                 return :: channels :: __private :: missing_state :: < Pool , _ , _ > (__socket) ; }"
            ),
            "{generated}"
        );
    }

    #[test]
    fn catch_all_clause() {
        let (model, imp, errors) = channel(quote! { impl C {
            #[join("rooms:lobby")] fn lobby() -> JoinResult<Self> { todo!() }
            #[join(_)] fn other(topic: &str) -> JoinResult<Self> { todo!() }
        }});
        assert!(errors.is_empty(), "{errors:?}");
        let generated = super::generate(&model, &imp).to_string();
        assert!(
            generated.contains(
                "= & [:: channels :: __private :: JoinClause :: Pattern (\"rooms:lobby\") , \
                 :: channels :: __private :: JoinClause :: Any]"
            ),
            "{generated}"
        );
        assert!(!generated.contains("unmatched_topic"), "{generated}");
    }

    #[test]
    fn a_malformed_pattern_claims_every_topic() {
        // so that the routes naming this channel do not add "can never reach" errors
        let (model, imp, errors) =
            channel(quote! { impl C { #[join("rooms:{")] fn j() -> JoinResult<Self> { todo!() } } });
        assert_eq!(errors.len(), 1);
        let generated = super::generate(&model, &imp).to_string();
        assert!(generated.contains("= & [:: channels :: __private :: JoinClause :: Any]"), "{generated}");
    }
}
