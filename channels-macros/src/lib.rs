//! Procedural macros of the channels framework. Use them through the `channels` crate, whose re-exports carry
//! the documentation and examples.
//!
//! Laid out as serde_derive is: `attr` reads the macros' own syntax, `ast` the typed model of an impl block
//! (`ast::Channel`, `ast::Socket`), `check` validates it, `expand` generates the code; `ctxt` collects the
//! mistakes, `syn::Error`s spanned on the user's tokens, all reported at once, and the user's items are still
//! emitted so that one mistake gives one error. All of it is plain functions over `proc_macro2` tokens,
//! unit-tested in this crate; topic patterns come from `channels-topic`.
//!
//! Generated code names the runtime only through `<crate>::__private` and `::core`, so user items named
//! `Result`, `Option`, `String`, ... cannot break it. `<crate>` is `::channels`, the facade's library name (its
//! package is `phx-channels`; `phx-channels = "0.1"` and `channels = { package = "phx-channels", .. }` both call it
//! `channels`), unless the macro is given `crate = path` (`#[channel(crate = my_channels)]`,
//! `#[socket(crate = my_channels)]`: a path, not a string), for a dependency renamed under another key or for
//! `crate` inside the `channels` crate itself.

#![deny(missing_docs)]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::spanned::Spanned;

mod ast;
mod attr;
mod check;
mod ctxt;
mod expand;
mod signature;

/// Expansion: an inherent impl of the block's other items, plus `impl Socket` (the user's `connect` and `id`, and
/// `channels()` as a `match` on the topic) and one compile-time-checked constant per `channel!` route.
#[proc_macro_attribute]
pub fn socket(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::socket(attr.into(), item.into()).into()
}

/// Expansion: the impl block without the handler attributes, plus `impl Channel` (generated `join`, `handle_in`,
/// and `handle_out`/`handle_info`/`terminate` when there are handlers) and the hidden `ChannelInfo<Socket>` impl
/// through which `#[socket]` checks its routes.
#[proc_macro_attribute]
pub fn channel(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::channel(attr.into(), item.into()).into()
}

/// The attributes `#[channel]` reads: on their own (outside a `#[channel]` impl) each is a compile error saying
/// to add `#[channel]`.
macro_rules! markers {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[proc_macro_attribute]
        pub fn $name(attr: TokenStream, item: TokenStream) -> TokenStream {
            misplaced(stringify!($name), attr.into(), item.into()).into()
        }
    )*};
}

markers! {
    /// Read by `#[channel]`; on its own (outside a `#[channel]` impl) it is a compile error saying to add `#[channel]`.
    join;
    /// Read by `#[channel]`; on its own (outside a `#[channel]` impl) it is a compile error saying to add `#[channel]`.
    handle_in;
    /// Read by `#[channel]`; on its own (outside a `#[channel]` impl) it is a compile error saying to add `#[channel]`.
    handle_out;
    /// Read by `#[channel]`; on its own (outside a `#[channel]` impl) it is a compile error saying to add `#[channel]`.
    handle_info;
    /// Read by `#[channel]`; on its own (outside a `#[channel]` impl) it is a compile error saying to add `#[channel]`.
    terminate;
    /// Read by `#[channel]`, above or below which it may be written; on an impl block without `#[channel]` it is a
    /// compile error.
    intercept;
}

/// `#[channel]` consumes these attributes, so expanding one on its own means it is not under `#[channel]`.
fn misplaced(name: &str, attr: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let span = if attr.is_empty() { item_name_span(&item) } else { attr.span() };
    let message = if name == "intercept" {
        // Above `#[channel]` it expands first: hand it down to `#[channel]`, so the order does not matter.
        if let Ok(mut imp) = syn::parse2::<syn::ItemImpl>(item.clone()) {
            let channel = imp.attrs.iter().position(|a| a.path().segments.last().is_some_and(|s| s.ident == "channel"));
            if let Some(i) = channel {
                imp.attrs.insert(i + 1, syn::parse_quote!(#[intercept(#attr)]));
                return quote!(#imp);
            }
        }
        "#[intercept(..)] lists the events a channel intercepts; put it next to #[channel] on the channel's impl \
         block"
            .to_owned()
    } else {
        format!(
            "#[{name}] only works on a method of a `#[channel]` impl block; add `#[channel]` above the `impl` \
             (for a channel of a socket handler other than `UserSocket`: `#[channel(socket = MySocket)]`)"
        )
    };
    let error = syn::Error::new(span, message).to_compile_error();
    // The method stays, and stays quiet: the error says what to fix.
    let allow = (name != "intercept").then(|| quote!(#[allow(dead_code)]));
    quote! {
        #allow
        #item
        #error
    }
}

fn item_name_span(item: &TokenStream2) -> Span {
    syn::parse2::<syn::ImplItemFn>(item.clone())
        .map(|f| f.sig.ident.span())
        .or_else(|_| syn::parse2::<syn::ItemImpl>(item.clone()).map(|i| i.self_ty.span()))
        .unwrap_or_else(|_| Span::call_site())
}
