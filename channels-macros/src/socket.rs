//! `#[socket]`: a socket handler's impl block with `channel!` routes becomes an `impl Socket` whose router is a
//! `match` on the topic, first route wins.
//!
//! Whether a route can reach any of its channel's join patterns needs both macros' knowledge, so it is checked
//! by the compiler: `#[channel]` records its patterns in `ChannelInfo::JOIN_PATTERNS`, and each route becomes a
//! constant whose evaluation panics (a compile error spanned on the route's pattern) when `route_reaches` says no.
//! The same constant names the channel type, so a type that is not a channel of this socket handler is one
//! error on the user's type.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::{Error, ImplItem, ImplItemFn, ItemImpl, LitStr, Token, Type, Visibility};

use channels_topic::RoutePattern;

use crate::signature::Errors;

/// The signature `connect` must have, quoted in errors.
const CONNECT_SIGNATURE: &str =
    "async fn connect(params: &ConnectParams, info: &ConnectInfo) -> Result<Self, Refuse> { .. }";

/// `"pattern" => ChannelType`, the body of `channel!(..)`.
pub struct RouteSyntax {
    /// The pattern literal.
    pub lit: LitStr,
    /// The channel type.
    pub channel: Type,
}

impl Parse for RouteSyntax {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let lit: LitStr = input.parse()?;
        input.parse::<Token![=>]>()?;
        let channel: Type = input.parse()?;
        if !input.is_empty() {
            return Err(input.error("one route per `channel!`: `channel!(\"rooms:*\" => RoomChannel);`"));
        }
        Ok(RouteSyntax { lit, channel })
    }
}

/// A route whose pattern parsed.
pub struct Route {
    /// The pattern literal (errors and the reachability check point at it).
    pub lit: LitStr,
    /// The parsed pattern.
    pub pattern: RoutePattern,
    /// The channel type.
    pub channel: Type,
}

/// A parsed `#[socket]` impl block.
pub struct Model {
    /// The valid routes, in order.
    pub routes: Vec<Route>,
    /// `connect`, moved into the `Socket` impl (`None`: missing or malformed, reported).
    pub connect: Option<ImplItemFn>,
    /// `id`, moved into the `Socket` impl.
    pub id: Option<ImplItemFn>,
}

/// Expands `#[socket(attr)] item`.
pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    if !attr.is_empty() {
        errors.push(Error::new_spanned(&attr, "#[socket] takes no arguments; routes go inside: `channel!(..);`"));
    }
    let mut imp = match syn::parse2::<ItemImpl>(item.clone()) {
        Ok(imp) if imp.trait_.is_none() && imp.generics.params.is_empty() => imp,
        Ok(imp) => {
            let (tokens, message) = match &imp.trait_ {
                Some((_, path, _)) => (
                    quote!(#path),
                    "#[socket] goes on the inherent impl block of your socket handler \
                     (`#[socket] impl UserSocket { .. }`); it writes the `Socket` impl for you",
                ),
                None => (
                    imp.generics.to_token_stream(),
                    "a #[socket] handler cannot be generic: its routes are checked against concrete channel types",
                ),
            };
            let e = Error::new_spanned(tokens, message).to_compile_error();
            return quote!(#item #e);
        }
        Err(_) => {
            let e = Error::new(
                Span::call_site(),
                "#[socket] goes on the impl block of your socket handler struct: `#[socket] impl UserSocket { .. }`",
            )
            .to_compile_error();
            return quote!(#item #e);
        }
    };
    let model = Model::parse(&mut imp, &mut errors);
    let generated = model.generate(&imp.self_ty);
    let errors = errors.to_compile_errors();
    let inherent = (!imp.items.is_empty()).then_some(&imp);
    quote! {
        #inherent
        #generated
        #errors
    }
}

impl Model {
    /// Takes the routes, `connect` and `id` out of `imp` (what remains is an inherent impl) and validates them.
    pub fn parse(imp: &mut ItemImpl, errors: &mut Errors) -> Model {
        let mut model = Model { routes: Vec::new(), connect: None, id: None };
        let mut connect_seen = false;
        let mut rest = Vec::with_capacity(imp.items.len());
        for item in std::mem::take(&mut imp.items) {
            match item {
                ImplItem::Macro(m) if m.mac.path.segments.last().is_some_and(|s| s.ident == "channel") => {
                    match m.mac.parse_body::<RouteSyntax>() {
                        Ok(route) => model.add_route(route, errors),
                        Err(e) => errors.push(Error::new(
                            e.span(),
                            format!("{e}; a route is written `channel!(\"rooms:*\" => RoomChannel);`"),
                        )),
                    }
                }
                ImplItem::Fn(mut f) if f.sig.ident == "connect" => {
                    connect_seen = true;
                    if f.sig.receiver().is_some() || f.sig.inputs.len() != 2 {
                        let message =
                            format!("`connect` takes the client's params and connection info: `{CONNECT_SIGNATURE}`");
                        errors.push(if f.sig.inputs.is_empty() {
                            Error::new(f.sig.ident.span(), message)
                        } else {
                            Error::new_spanned(&f.sig.inputs, message)
                        });
                        rest.push(ImplItem::Fn(f));
                        continue;
                    }
                    // Trait methods take no visibility; a sync `connect` is fine too (it runs inside the future).
                    f.vis = Visibility::Inherited;
                    f.sig.asyncness.get_or_insert_with(|| Token![async](f.sig.fn_token.span));
                    model.connect = Some(f);
                }
                ImplItem::Fn(mut f) if f.sig.ident == "id" => {
                    if f.sig.receiver().is_none() || f.sig.inputs.len() != 1 {
                        errors.push(Error::new(
                            f.sig.ident.span(),
                            "`id` names a connection from its assigns: `fn id(&self) -> Option<String> { .. }`",
                        ));
                        rest.push(ImplItem::Fn(f));
                        continue;
                    }
                    f.vis = Visibility::Inherited;
                    model.id = Some(f);
                }
                ImplItem::Fn(f) if f.sig.ident == "channels" => {
                    errors.push(Error::new(
                        f.sig.ident.span(),
                        "#[socket] generates `channels()` from the `channel!` routes; remove this method and declare \
                         each route as `channel!(\"rooms:*\" => RoomChannel);`",
                    ));
                    rest.push(ImplItem::Fn(f));
                }
                other => rest.push(other),
            }
        }
        imp.items = rest;
        if !connect_seen {
            errors.push(Error::new_spanned(
                &imp.self_ty,
                format!(
                    "socket handler `{}` has no `connect`; add `{CONNECT_SIGNATURE}` (return `Ok(Self {{ .. }})` to \
                     accept the connection with these assigns, `Err(Refuse)` to refuse it)",
                    ToTokens::to_token_stream(&imp.self_ty)
                ),
            ));
        }
        model
    }

    fn add_route(&mut self, route: RouteSyntax, errors: &mut Errors) {
        let text = route.lit.value();
        // Braces are literal text in a route, but here they are a join pattern written in the wrong place.
        if text.contains(['{', '}']) {
            return errors.push(Error::new(
                route.lit.span(),
                format!(
                    "channel routes match a topic or a prefix ({text:?} has a capture); write a prefix such as \
                     \"rooms:*\" here and put captures in the channel's #[join] patterns"
                ),
            ));
        }
        let pattern = match RoutePattern::parse(&text) {
            Ok(p) => p,
            Err(message) => return errors.push(Error::new(route.lit.span(), message)),
        };
        if let Some(earlier) = self.routes.iter().find(|r| r.pattern.covers(&pattern)) {
            errors.push(Error::new(
                route.lit.span(),
                format!(
                    "route {:?} is unreachable: the earlier route {:?} matches every topic it matches, and the first \
                     matching route wins; move this route above it, or remove it",
                    route.lit.value(),
                    earlier.lit.value()
                ),
            ));
            return;
        }
        self.routes.push(Route { lit: route.lit, pattern, channel: route.channel });
    }

    /// The `Socket` impl and the per-route checked constants, inside one anonymous const so their names stay
    /// private to this expansion.
    pub fn generate(&self, self_ty: &Type) -> TokenStream {
        let p = quote!(::channels::__private);
        let mut consts = Vec::new();
        let mut arms = Vec::new();
        let mut catch_all = false;
        for (i, route) in self.routes.iter().enumerate() {
            let name = format_ident!("__CHANNELS_ROUTE_{i}");
            let (lit, channel) = (&route.lit, &route.channel);
            let message = LitStr::new(
                &format!(
                    "channel route {:?} can never reach `{}`: none of its #[join] patterns matches a topic this \
                     route matches; change the route, or add a #[join] clause for these topics",
                    lit.value(),
                    ToTokens::to_token_stream(channel).to_string().replace(' ', "")
                ),
                lit.span(),
            );
            let panic = quote_spanned!(lit.span()=> ::core::panic!(#message));
            consts.push(quote! {
                const #name: fn() -> #p::ChannelRoute<#self_ty> = {
                    if !#p::route_reaches(#lit, <#channel as #p::ChannelInfo<#self_ty>>::JOIN_PATTERNS) {
                        #panic
                    }
                    #p::route::<#self_ty, #channel>
                };
            });
            let found = quote!(::core::option::Option::Some(#name()));
            arms.push(match &route.pattern {
                RoutePattern::Exact(_) => quote!(#lit => #found,),
                RoutePattern::Prefix(prefix) if prefix.is_empty() => {
                    catch_all = true;
                    quote!(_ => #found,)
                }
                RoutePattern::Prefix(prefix) => {
                    quote!(__t if ::core::primitive::str::starts_with(__t, #prefix) => #found,)
                }
            });
        }
        if !catch_all {
            arms.push(quote!(_ => ::core::option::Option::None,));
        }
        let connect = match &self.connect {
            Some(f) => quote!(#f),
            // Keeps the impl complete after the missing-`connect` error, so that error stands alone.
            None => quote! {
                async fn connect(
                    _: &#p::ConnectParams,
                    _: &#p::ConnectInfo,
                ) -> ::core::result::Result<Self, #p::Refuse> {
                    ::core::result::Result::Err(#p::Refuse)
                }
            },
        };
        let id = &self.id;
        quote! {
            const _: () = {
                #(#consts)*

                impl #p::Socket for #self_ty {
                    #connect
                    #id
                    fn channels() -> #p::Router<Self> {
                        #p::Router::from_fn(|__topic: &::core::primitive::str| match __topic {
                            #(#arms)*
                        })
                    }
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(tokens: TokenStream) -> (Model, ItemImpl, Vec<String>) {
        let mut imp: ItemImpl = syn::parse2(tokens).unwrap();
        let mut errors = Errors::default();
        let model = Model::parse(&mut imp, &mut errors);
        let messages =
            errors.finish().err().map(|e| e.into_iter().map(|e| e.to_string()).collect()).unwrap_or_default();
        (model, imp, messages)
    }

    #[test]
    fn splits_routes_trait_methods_and_the_rest() {
        let (model, imp, errors) = parse(quote! {
            impl UserSocket {
                channel!("rooms:*" => RoomChannel);
                channel!("admin:lobby" => admin::AdminChannel);
                pub fn connect(params: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket) }
                fn id(&self) -> Option<String> { None }
                fn helper(&self) {}
            }
        });
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(model.routes.len(), 2);
        let connect = model.connect.as_ref().unwrap();
        assert!(connect.sig.asyncness.is_some() && matches!(connect.vis, Visibility::Inherited));
        assert!(model.id.is_some());
        assert_eq!(imp.items.len(), 1, "only `helper` stays inherent");
        let generated = model.generate(&imp.self_ty).to_string();
        assert!(generated.contains("\"admin:lobby\" =>"), "{generated}");
        assert!(generated.contains("starts_with (__t , \"rooms:\")"), "{generated}");
        assert!(generated.contains("_ => :: core :: option :: Option :: None"), "{generated}");
    }

    #[test]
    fn catch_all_route_has_no_fallback_arm() {
        let (model, imp, _) = parse(quote! { impl S { channel!("*" => C); } });
        let generated = model.generate(&imp.self_ty).to_string();
        assert!(!generated.contains("Option :: None"), "{generated}");
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
            let (_, _, errors) = parse(quote!(impl S { #routes #connect }));
            assert_eq!(errors.len(), 1, "{routes}: {errors:?}");
            assert!(errors[0].contains(needle), "{routes}: {errors:?}");
        }
    }

    #[test]
    fn method_mistakes() {
        let (model, _, errors) = parse(quote!(impl S { channel!("a:*" => A); }));
        assert!(errors[0].contains("has no `connect`; add `async fn connect(params: &ConnectParams"), "{errors:?}");
        assert!(model.connect.is_none() && model.routes.len() == 1);
        let (_, _, errors) =
            parse(quote!(impl S { async fn connect(p: &ConnectParams) -> Result<Self, Refuse> { todo!() } }));
        assert!(errors[0].contains("`connect` takes the client's params and connection info"), "{errors:?}");
        let (_, _, errors) = parse(quote!(impl S {
            async fn connect(p: &ConnectParams, i: &ConnectInfo) -> Result<Self, Refuse> { todo!() }
            fn channels() -> Router<Self> { todo!() }
            fn id() -> Option<String> { None }
        }));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("generates `channels()`") && errors[1].contains("fn id(&self)"), "{errors:?}");
    }
}
