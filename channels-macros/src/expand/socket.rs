//! `#[socket]`'s code: an `impl Socket` whose router is a `match` on the topic, first route wins.
//!
//! Whether a route can reach any of its channel's join clauses needs both macros' knowledge, so it is checked
//! by the compiler: `#[channel]` records its clauses in `ChannelInfo::JOIN_PATTERNS`, and each route becomes a
//! constant whose evaluation panics (a compile error spanned on the route's pattern) when `route_reaches` says
//! no. The same constant names the channel type, so a type that is not a channel of this socket handler is one
//! error on the user's type.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{LitStr, Type};

use channels_topic::RoutePattern;

use crate::ast::Socket;

/// The `Socket` impl and the per-route checked constants, inside one anonymous const so their names stay
/// private to this expansion.
pub fn generate(socket: &Socket, self_ty: &Type) -> TokenStream {
    let p = &socket.runtime;
    let mut consts = Vec::new();
    let mut arms = Vec::new();
    let mut catch_all = false;
    for (i, route) in socket.routes.iter().enumerate() {
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
            RoutePattern::Prefix(prefix) => quote!(__t if ::core::primitive::str::starts_with(__t, #prefix) => #found,),
        });
    }
    if !catch_all {
        arms.push(quote!(_ => ::core::option::Option::None,));
    }
    let mut connect_helper = None;
    let connect = match &socket.connect {
        Some(f) if socket.connect_state.is_empty() => quote!(#f),
        Some(f) => {
            // The user's `connect` becomes an inherent helper; the trait's calls it with the state it takes.
            let mut helper = f.clone();
            helper.sig.ident = format_ident!("__channels_connect", span = f.sig.ident.span());
            connect_helper = Some(quote!(impl #self_ty { #helper }));
            let locals: Vec<_> =
                (0..socket.connect_state.len()).map(|i| format_ident!("__channels_state_{i}")).collect();
            let state = &socket.connect_state;
            quote! {
                async fn connect(
                    __params: &#p::ConnectParams,
                    __info: &#p::ConnectInfo,
                ) -> ::core::result::Result<Self, #p::Refuse> {
                    #(
                        let ::core::option::Option::Some(#locals) = #p::ConnectInfo::state::<#state>(__info) else {
                            return ::core::result::Result::Err(#p::missing_connect_state::<Self, #state>());
                        };
                    )*
                    Self::__channels_connect(__params, __info, #(#locals),*).await
                }
            }
        }
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
    let id = &socket.id;
    let connect_state =
        socket.connect_state.iter().map(|t| quote_spanned!(t.span()=> #p::StateRequirement::of::<#t>()));
    let channels = socket.routes.iter().map(|route| &route.channel);
    quote! {
        const _: () = {
            #(#consts)*

            #connect_helper

            impl #p::Socket for #self_ty {
                #connect
                #id
                fn channels() -> #p::Router<Self> {
                    #p::Router::from_fn(|__topic: &::core::primitive::str| match __topic {
                        #(#arms)*
                    })
                }
                fn required_state() -> #p::Vec<#p::StateRequirement> {
                    #p::required_state(&[
                        &[#(#connect_state),*],
                        #(<#channels as #p::ChannelInfo<Self>>::REQUIRED_STATE),*
                    ])
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use crate::ast::tests::{guide_socket, socket};

    #[test]
    fn routes_become_match_arms() {
        let (model, imp, errors) = socket(guide_socket());
        assert!(errors.is_empty(), "{errors:?}");
        let generated = super::generate(&model, &imp.self_ty).to_string();
        assert!(generated.contains("\"admin:lobby\" =>"), "{generated}");
        assert!(generated.contains("starts_with (__t , \"rooms:\")"), "{generated}");
        assert!(generated.contains("_ => :: core :: option :: Option :: None"), "{generated}");
    }

    #[test]
    fn connect_with_state_becomes_a_helper_the_trait_calls_with_it() {
        let (model, imp, errors) = socket(quote! { impl S {
            channel!("a:*" => A);
            fn connect(p: &ConnectParams, i: &ConnectInfo, c: State<Config>) -> Result<Self, Refuse> { todo!() }
        }});
        assert!(errors.is_empty(), "{errors:?}");
        let generated = super::generate(&model, &imp.self_ty).to_string();
        assert!(generated.contains("impl S { async fn __channels_connect (p : & ConnectParams"), "{generated}");
        assert!(generated.contains("ConnectInfo :: state :: < Config > (__info)"), "{generated}");
        assert!(generated.contains("Self :: __channels_connect (__params , __info , __channels_state_0) . await"));
        assert!(
            generated.contains(
                "required_state (& [& [:: channels :: __private :: StateRequirement :: of :: < Config > ()] , \
                 < A as :: channels :: __private :: ChannelInfo < Self >> :: REQUIRED_STATE])"
            ),
            "{generated}"
        );
    }

    #[test]
    fn catch_all_route_has_no_fallback_arm() {
        let (model, imp, _) = socket(quote! { impl S { channel!("*" => C); } });
        let generated = super::generate(&model, &imp.self_ty).to_string();
        assert!(!generated.contains("Option :: None"), "{generated}");
    }
}
