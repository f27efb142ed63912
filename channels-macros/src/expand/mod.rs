//! Each macro's pipeline: read the model ([`crate::ast`]), check it ([`crate::check`]), generate. The user's
//! block is always emitted, minus the macros' own attributes, so that one mistake gives one error, not a
//! cascade from the code around it.

mod channel;
mod socket;

use proc_macro2::TokenStream;
use quote::quote;
use syn::Error;

use crate::ast::{self, Channel, Socket};
use crate::attr::{self, ChannelArgs};
use crate::check;
use crate::ctxt::Ctxt;

/// Expands `#[channel(attr)] item`.
pub fn channel(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut imp = match ast::channel_impl(item.clone()) {
        Ok(imp) => imp,
        Err(e) => return unexpanded(item, e),
    };
    let cx = Ctxt::new();
    let model = Channel::from_impl(&cx, &mut imp, ChannelArgs::parse(&cx, attr));
    check::channel(&cx, &model, &imp.self_ty);
    let generated = channel::generate(&model, &imp);
    with_errors(quote!(#imp #generated), cx)
}

/// Expands `#[socket(attr)] item`.
pub fn socket(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut imp = match ast::socket_impl(item.clone()) {
        Ok(imp) => imp,
        Err(e) => return unexpanded(item, e),
    };
    let cx = Ctxt::new();
    let runtime = attr::socket_args(&cx, attr);
    let mut model = Socket::from_impl(&cx, &mut imp, runtime);
    check::socket(&cx, &mut model);
    let generated = socket::generate(&model, &imp.self_ty);
    let inherent = (!imp.items.is_empty()).then_some(&imp);
    with_errors(quote!(#inherent #generated), cx)
}

/// The item as written, and the error saying where the macro goes instead.
fn unexpanded(item: TokenStream, error: Error) -> TokenStream {
    let error = error.to_compile_error();
    quote!(#item #error)
}

fn with_errors(tokens: TokenStream, cx: Ctxt) -> TokenStream {
    let errors = cx.check().err().map(|e| e.to_compile_error());
    quote!(#tokens #errors)
}
