//! The checks that span a whole model: duplicates, unreachable join clauses and routes, intercepts that disagree
//! with `#[handle_out]`, a missing join. Each mistake is one error on the user's token.

use proc_macro2::Span;
use syn::Type;

use channels_topic::JoinPattern;

use crate::ast::{Channel, Handler, Socket};
use crate::attr::{Join, Kind, Route};
use crate::ctxt::Ctxt;
use crate::signature::{Arg, is_total_capture_type};

/// Checks a `#[channel]` model.
pub fn channel(cx: &Ctxt, channel: &Channel, self_ty: &Type) {
    if channel.joins().next().is_none() {
        cx.error_spanned_by(
            self_ty,
            "a channel needs at least one join handler, e.g. \
             `#[join(\"rooms:{room_id}\")] async fn join(room_id: String) -> JoinResult<Self> { .. }`",
        );
    }
    for kind in [Kind::HandleIn, Kind::HandleOut] {
        let events: Vec<_> = channel.events(kind).collect();
        for (i, (_, lit)) in events.iter().enumerate() {
            if let Some((first, _)) = events[..i].iter().find(|(_, l)| l.value() == lit.value()) {
                cx.error(
                    lit.span(),
                    format!(
                        "duplicate #[{}({:?})]: `fn {}` already handles this event; merge the two handlers \
                         (Rust has no function clauses: branch inside one handler)",
                        kind.name(),
                        lit.value(),
                        first.ident
                    ),
                );
            }
        }
    }
    for kind in [Kind::HandleInfo, Kind::Terminate] {
        let mut handlers = channel.handlers(kind);
        let Some(first) = handlers.next() else { continue };
        for h in handlers {
            let hint = if kind == Kind::HandleInfo { "; make its message type an enum and `match` on it" } else { "" };
            cx.error(
                h.ident.span(),
                format!("a channel has one #[{}] handler and `fn {}` is it{hint}", kind.name(), first.ident),
            );
        }
    }
    joins(cx, channel);
    intercepts(cx, channel);
}

/// The catch-all's pattern, compared like any other.
static ANY: JoinPattern = JoinPattern::Any;

/// A join clause is unreachable when an earlier one accepts every topic it accepts.
fn joins(cx: &Ctxt, channel: &Channel) {
    let clauses: Vec<(&Handler, &JoinPattern, Span, String)> = channel
        .joins()
        .filter_map(|(h, join)| match join {
            Join::Pattern { lit, pattern } => Some((h, pattern, lit.span(), format!("{:?}", lit.value()))),
            Join::Any(span) => Some((h, &ANY, *span, "`_`".to_owned())),
            Join::Malformed => None,
        })
        .collect();
    for (j, (_, pattern, span, shown)) in clauses.iter().enumerate() {
        for (earlier, covering, _, earlier_shown) in &clauses[..j] {
            let Some(sig) = &earlier.sig else { continue };
            let total = |capture: &str| {
                let param = sig.params.iter().find(|p| p.arg == Arg::Capture(capture.to_owned()));
                param.is_none_or(|p| is_total_capture_type(&p.ty))
            };
            if covering.covers(pattern, total) {
                cx.error(
                    *span,
                    format!(
                        "join clause {shown} is unreachable: the earlier clause `fn {}` ({earlier_shown}) matches \
                         every topic it matches, and clauses are tried in order; move this clause above it, or \
                         remove it",
                        earlier.ident
                    ),
                );
                break;
            }
        }
    }
}

/// Intercepted events and `#[handle_out]` handlers must agree.
fn intercepts(cx: &Ctxt, channel: &Channel) {
    let intercepts = &channel.intercepts;
    for (i, lit) in intercepts.iter().enumerate() {
        if intercepts[..i].iter().any(|l| l.value() == lit.value()) {
            cx.error(lit.span(), format!("{:?} is already intercepted; list it once", lit.value()));
        } else if !channel.events(Kind::HandleOut).any(|(_, l)| l.value() == lit.value()) {
            cx.error(
                lit.span(),
                format!(
                    "intercepted event {0:?} has no handler: add `#[handle_out({0:?})] async fn ..(&mut self, \
                     payload: Payload, socket: &mut ChannelSocket<Self>) -> OutResult`, or stop intercepting it",
                    lit.value()
                ),
            );
        }
    }
    for (_, lit) in channel.events(Kind::HandleOut) {
        if !intercepts.iter().any(|l| l.value() == lit.value()) {
            let list: Vec<String> =
                intercepts.iter().map(|l| format!("{:?}", l.value())).chain([format!("{:?}", lit.value())]).collect();
            cx.error(
                lit.span(),
                format!(
                    "#[handle_out({0:?})] would never run: {0:?} is not intercepted, so its broadcasts go \
                     straight to clients; intercept it with `#[intercept({1})]` below `#[channel]`",
                    lit.value(),
                    list.join(", ")
                ),
            );
        }
    }
}

/// Checks a `#[socket]` model. A route that an earlier one shadows is reported and dropped, so that it adds no
/// "can never reach" error of its own.
pub fn socket(cx: &Ctxt, socket: &mut Socket) {
    let mut kept: Vec<Route> = Vec::with_capacity(socket.routes.len());
    for route in std::mem::take(&mut socket.routes) {
        match kept.iter().find(|r| r.pattern.covers(&route.pattern)) {
            Some(earlier) => cx.error(
                route.lit.span(),
                format!(
                    "route {:?} is unreachable: the earlier route {:?} matches every topic it matches, and the first \
                     matching route wins; move this route above it, or remove it",
                    route.lit.value(),
                    earlier.lit.value()
                ),
            ),
            None => kept.push(route),
        }
    }
    socket.routes = kept;
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use crate::ast::tests::{channel, socket};

    fn one_error(tokens: TokenStream, needle: &str) {
        let (_, _, errors) = channel(tokens);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(errors[0].contains(needle), "{errors:#?}");
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
        one_error(
            quote! { impl C { #[join("a")] fn j() -> JoinResult<Self> { todo!() }
            #[handle_info] fn a(&mut self, m: u8) {} #[handle_info] fn b(&mut self, m: u8) {} } },
            "one #[handle_info] handler and `fn a` is it",
        );
        one_error(quote! { impl C { fn x(&mut self) {} } }, "at least one join handler");
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
        let (_, _, errors) = channel(quote! { impl C {
            #[join("rooms:{id}")] fn numbered(id: u32) -> JoinResult<Self> { todo!() }
            #[join("rooms:{name}")] fn named(name: String) -> JoinResult<Self> { todo!() }
        }});
        assert!(errors.is_empty(), "{errors:?}");
        one_error(
            quote! { impl C {
                #[join(_)] fn other() -> JoinResult<Self> { todo!() }
                #[join("rooms:lobby")] fn lobby() -> JoinResult<Self> { todo!() }
            }},
            "join clause \"rooms:lobby\" is unreachable: the earlier clause `fn other` (`_`)",
        );
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
    fn route_mistakes() {
        let connect = quote!(
            async fn connect(p: &ConnectParams, i: &ConnectInfo) -> Result<Self, Refuse> {
                todo!()
            }
        );
        for (routes, needle) in [
            (
                quote!(channel!("rooms:*" => A); channel!("rooms:lobby" => B);),
                "unreachable: the earlier route \"rooms:*\"",
            ),
            (quote!(channel!("a" => A); channel!("a" => B);), "unreachable"),
            (quote!(channel!("ro*oms" => A);), "may only end"),
            (quote!(channel!("" => A);), "cannot be empty"),
            (quote!(channel!("rooms:{id}" => A);), "has a capture"),
            (quote!(channel!("rooms:*", A);), "a route is written"),
            (quote!(channel!("rooms:*" => A, "x" => B);), "one route per"),
        ] {
            let (_, _, errors) = socket(quote!(impl S { #routes #connect }));
            assert_eq!(errors.len(), 1, "{routes}: {errors:?}");
            assert!(errors[0].contains(needle), "{routes}: {errors:?}");
        }
    }
}
