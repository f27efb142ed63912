//! The typed models of the macros' input: [`Channel`] for a `#[channel]` impl block, [`Socket`] for a `#[socket]`
//! one. Reading a model strips the macros' own attributes and items from the impl block, which is then emitted as
//! plain Rust; a part with a mistake is reported and left out of the model's dispatch, never of the block.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{
    Attribute, Error, FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, LitStr, Path, Signature, Token, Type, Visibility,
};

use crate::attr::{ChannelArgs, Event, Join, Kind, Role, Route, take_intercepts};
use crate::ctxt::Ctxt;
use crate::signature::{HandlerSig, classify, state_param};

/// The signature `connect` must have, quoted in errors.
const CONNECT_SIGNATURE: &str =
    "async fn connect(params: &ConnectParams, info: &ConnectInfo) -> Result<Self, Refuse> { .. }";

/// Where `connect`'s app state goes, quoted in errors.
const CONNECT_STATE: &str = "app state parameters go after `params` and `info`: \
                             `async fn connect(params: &ConnectParams, info: &ConnectInfo, config: State<Config>) ..`";

/// The impl block `#[channel]` is on, or the error that says where `#[channel]` goes.
pub fn channel_impl(item: TokenStream) -> Result<ItemImpl, Error> {
    match syn::parse2::<ItemImpl>(item) {
        Ok(imp) => match &imp.trait_ {
            None => Ok(imp),
            Some((_, path, _)) => Err(Error::new_spanned(
                path,
                "#[channel] goes on the inherent impl block of your channel struct (`#[channel] impl RoomChannel { .. }`), \
                 not on a trait impl; it writes the `Channel` impl for you",
            )),
        },
        Err(_) => Err(Error::new(
            Span::call_site(),
            "#[channel] goes on the impl block of your channel struct: `#[channel] impl RoomChannel { .. }`",
        )),
    }
}

/// The impl block `#[socket]` is on, or the error that says where `#[socket]` goes.
pub fn socket_impl(item: TokenStream) -> Result<ItemImpl, Error> {
    let imp = syn::parse2::<ItemImpl>(item).map_err(|_| {
        Error::new(
            Span::call_site(),
            "#[socket] goes on the impl block of your socket handler struct: `#[socket] impl UserSocket { .. }`",
        )
    })?;
    if let Some((_, path, _)) = &imp.trait_ {
        return Err(Error::new_spanned(
            path,
            "#[socket] goes on the inherent impl block of your socket handler (`#[socket] impl UserSocket { .. }`); \
             it writes the `Socket` impl for you",
        ));
    }
    if !imp.generics.params.is_empty() {
        return Err(Error::new_spanned(
            &imp.generics,
            "a #[socket] handler cannot be generic: its routes are checked against concrete channel types",
        ));
    }
    Ok(imp)
}

/// One method carrying a handler attribute.
pub struct Handler {
    /// The method's name.
    pub ident: Ident,
    /// What its attribute says.
    pub role: Role,
    /// The classified signature; `None` when the handler has a mistake (reported): it is then left out of
    /// dispatch.
    pub sig: Option<HandlerSig>,
}

/// A `#[channel]` impl block.
pub struct Channel {
    /// The runtime's `__private` module.
    pub runtime: Path,
    /// The `Channel::Socket` type.
    pub socket: Type,
    /// The `#[intercept(..)]` events.
    pub intercepts: Vec<LitStr>,
    /// The handlers, in source order.
    pub handlers: Vec<Handler>,
}

impl Channel {
    /// Reads the handlers out of `imp`, stripping our attributes so the impl can be emitted as plain Rust.
    pub fn from_impl(cx: &Ctxt, imp: &mut ItemImpl, args: ChannelArgs) -> Channel {
        let intercepts = take_intercepts(cx, &mut imp.attrs);
        let mut handlers = Vec::new();
        for item in &mut imp.items {
            let ImplItem::Fn(method) = item else {
                if let Some(attrs) = item_attrs(item) {
                    for attr in attrs.iter().filter(|a| Kind::of(a).is_some()) {
                        cx.error_spanned_by(attr, "handler attributes go on methods (`async fn ..`)");
                    }
                    attrs.retain(|a| Kind::of(a).is_none());
                }
                continue;
            };
            let mut found: Option<(Kind, Attribute)> = None;
            let mut keep = Vec::with_capacity(method.attrs.len());
            for attr in std::mem::take(&mut method.attrs) {
                match (Kind::of(&attr), &found) {
                    (None, _) => keep.push(attr),
                    (Some(kind), None) => found = Some((kind, attr)),
                    (Some(_), Some((first, _))) => cx.error_spanned_by(
                        &attr,
                        format!(
                            "`fn {}` is already a #[{}] handler; a method handles one thing, so move this \
                             attribute to a method of its own",
                            method.sig.ident,
                            first.name()
                        ),
                    ),
                }
            }
            method.attrs = keep;
            let Some((kind, attr)) = found else { continue };
            let handler = Handler::parse(cx, kind, &attr, &method.sig);
            if handler.sig.is_none() {
                // Left out of dispatch: don't add an unused-method warning to the error.
                method.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
            }
            handlers.push(handler);
        }
        Channel { runtime: args.runtime, socket: args.socket, intercepts, handlers }
    }

    /// The handlers of one kind, in order.
    pub fn handlers(&self, kind: Kind) -> impl Iterator<Item = &Handler> {
        self.handlers.iter().filter(move |h| h.role.kind() == kind)
    }

    /// The join clauses, in order.
    pub fn joins(&self) -> impl Iterator<Item = (&Handler, &Join)> {
        self.handlers.iter().filter_map(|h| match &h.role {
            Role::Join(join) => Some((h, join)),
            _ => None,
        })
    }

    /// The `#[handle_in]` or `#[handle_out]` handlers that name their event, in order.
    pub fn events(&self, kind: Kind) -> impl Iterator<Item = (&Handler, &LitStr)> {
        self.handlers.iter().filter_map(move |h| match &h.role {
            Role::HandleIn(event) | Role::HandleOut(event) if h.role.kind() == kind => Some((h, event.lit()?)),
            _ => None,
        })
    }
}

impl Handler {
    fn parse(cx: &Ctxt, kind: Kind, attr: &Attribute, signature: &syn::Signature) -> Handler {
        let (role, ok) = Role::parse(cx, kind, attr);
        let (captures, pattern_span) = match &role {
            Role::Join(Join::Pattern { lit, pattern }) => (pattern.captures().collect(), lit.span()),
            Role::Join(Join::Any(span)) => (Vec::new(), *span),
            Role::HandleIn(Event::Literal(lit)) | Role::HandleOut(Event::Literal(lit)) => (Vec::new(), lit.span()),
            _ => (Vec::new(), attr.span()),
        };
        let sig = match classify(signature, kind, &captures, pattern_span) {
            Ok(classified) => ok.then_some(classified),
            Err(e) => {
                cx.syn_error(e);
                None
            }
        };
        Handler { ident: signature.ident.clone(), role, sig }
    }
}

/// The `T` of each `State<T>` parameter `connect` takes after `params` and `info`, or the errors that say how
/// to fix its signature.
fn connect_state(sig: &Signature) -> Result<Vec<Type>, Error> {
    if sig.receiver().is_some() || sig.inputs.len() < 2 {
        let message = format!("`connect` takes the client's params and connection info: `{CONNECT_SIGNATURE}`");
        return Err(if sig.inputs.is_empty() {
            Error::new(sig.ident.span(), message)
        } else {
            Error::new_spanned(&sig.inputs, message)
        });
    }
    let cx = Ctxt::new();
    let mut state = Vec::new();
    // `params` and `info` are the first two parameters that are not state; state goes after them.
    let mut others = 0;
    for input in &sig.inputs {
        let FnArg::Typed(typed) = input else { continue };
        match state_param(&typed.ty) {
            Some(_) if others < 2 => cx.error_spanned_by(
                typed,
                format!("`connect` takes the client's params and connection info first; {CONNECT_STATE}"),
            ),
            Some(Ok(inner)) => state.push(inner.clone()),
            Some(Err(why)) => cx.error_spanned_by(typed, why),
            None if others < 2 => others += 1,
            None => cx.error_spanned_by(
                typed,
                format!("after `params` and `info`, `connect` takes only app state, as `State<T>`; {CONNECT_STATE}"),
            ),
        }
    }
    cx.check().map(|()| state)
}

fn item_attrs(item: &mut ImplItem) -> Option<&mut Vec<Attribute>> {
    match item {
        ImplItem::Const(i) => Some(&mut i.attrs),
        ImplItem::Type(i) => Some(&mut i.attrs),
        ImplItem::Macro(i) => Some(&mut i.attrs),
        _ => None,
    }
}

/// A `#[socket]` impl block.
pub struct Socket {
    /// The runtime's `__private` module.
    pub runtime: Path,
    /// The routes whose patterns parsed, in order.
    pub routes: Vec<Route>,
    /// `connect`, moved into the `Socket` impl (`None`: missing or malformed, reported).
    pub connect: Option<ImplItemFn>,
    /// The `T` of each `State<T>` parameter of `connect`, after `params` and `info`, in order.
    pub connect_state: Vec<Type>,
    /// `id`, moved into the `Socket` impl.
    pub id: Option<ImplItemFn>,
}

impl Socket {
    /// Takes the routes, `connect` and `id` out of `imp`; what remains is an inherent impl.
    pub fn from_impl(cx: &Ctxt, imp: &mut ItemImpl, runtime: Path) -> Socket {
        let mut socket = Socket { runtime, routes: Vec::new(), connect: None, connect_state: Vec::new(), id: None };
        let mut connect_seen = false;
        let mut rest = Vec::with_capacity(imp.items.len());
        for item in std::mem::take(&mut imp.items) {
            match item {
                ImplItem::Macro(m) if m.mac.path.segments.last().is_some_and(|s| s.ident == "channel") => {
                    socket.routes.extend(Route::parse(cx, &m.mac));
                }
                ImplItem::Fn(mut f) if f.sig.ident == "connect" => {
                    connect_seen = true;
                    match connect_state(&f.sig) {
                        Ok(state) => socket.connect_state = state,
                        Err(e) => {
                            cx.syn_error(e);
                            rest.push(ImplItem::Fn(f));
                            continue;
                        }
                    }
                    // Trait methods take no visibility; a sync `connect` is fine too (it runs inside the future).
                    f.vis = Visibility::Inherited;
                    f.sig.asyncness.get_or_insert_with(|| Token![async](f.sig.fn_token.span));
                    socket.connect = Some(f);
                }
                ImplItem::Fn(mut f) if f.sig.ident == "id" => {
                    if f.sig.receiver().is_none() || f.sig.inputs.len() != 1 {
                        cx.error(
                            f.sig.ident.span(),
                            "`id` names a connection from its assigns: `fn id(&self) -> Option<String> { .. }`",
                        );
                        rest.push(ImplItem::Fn(f));
                        continue;
                    }
                    f.vis = Visibility::Inherited;
                    socket.id = Some(f);
                }
                ImplItem::Fn(f) if f.sig.ident == "channels" => {
                    cx.error(
                        f.sig.ident.span(),
                        "#[socket] generates `channels()` from the `channel!` routes; remove this method and declare \
                         each route as `channel!(\"rooms:*\" => RoomChannel);`",
                    );
                    rest.push(ImplItem::Fn(f));
                }
                other => rest.push(other),
            }
        }
        imp.items = rest;
        if !connect_seen {
            cx.error_spanned_by(
                &imp.self_ty,
                format!(
                    "socket handler `{}` has no `connect`; add `{CONNECT_SIGNATURE}` (return `Ok(Self {{ .. }})` to \
                     accept the connection with these assigns, `Err(Refuse)` to refuse it)",
                    ToTokens::to_token_stream(&imp.self_ty)
                ),
            );
        }
        socket
    }
}

#[cfg(test)]
pub mod tests {
    use quote::quote;

    use super::*;

    /// The messages of the errors `cx` collected.
    pub fn messages(cx: Ctxt) -> Vec<String> {
        cx.check().err().map(|e| e.into_iter().map(|e| e.to_string()).collect()).unwrap_or_default()
    }

    /// A `#[channel]` block read and checked: the model, the stripped block, the error messages.
    pub fn channel(tokens: TokenStream) -> (Channel, ItemImpl, Vec<String>) {
        let cx = Ctxt::new();
        let mut imp: ItemImpl = syn::parse2(tokens).unwrap();
        let model = Channel::from_impl(&cx, &mut imp, ChannelArgs::parse(&cx, TokenStream::new()));
        crate::check::channel(&cx, &model, &imp.self_ty);
        (model, imp, messages(cx))
    }

    /// A `#[socket]` block read and checked.
    pub fn socket(tokens: TokenStream) -> (Socket, ItemImpl, Vec<String>) {
        let cx = Ctxt::new();
        let mut imp: ItemImpl = syn::parse2(tokens).unwrap();
        let mut model = Socket::from_impl(&cx, &mut imp, crate::attr::socket_args(&cx, TokenStream::new()));
        crate::check::socket(&cx, &mut model);
        (model, imp, messages(cx))
    }

    /// The guide's channel, with a second join clause and a helper method.
    pub(crate) fn guide_channel() -> TokenStream {
        quote! {
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
        }
    }

    /// The guide's socket handler, with a second route, an `id` and a helper method.
    pub(crate) fn guide_socket() -> TokenStream {
        quote! {
            impl UserSocket {
                channel!("rooms:*" => RoomChannel);
                channel!("admin:lobby" => admin::AdminChannel);
                pub fn connect(params: &ConnectParams, _: &ConnectInfo) -> Result<Self, Refuse> { Ok(UserSocket) }
                fn id(&self) -> Option<String> { None }
                fn helper(&self) {}
            }
        }
    }

    #[test]
    fn reads_the_guide_channel_and_strips_attributes() {
        let (model, imp, errors) = channel(guide_channel());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(model.handlers.len(), 4);
        assert_eq!(model.joins().count(), 2);
        assert_eq!(model.events(Kind::HandleIn).map(|(_, lit)| lit.value()).collect::<Vec<_>>(), ["new_msg"]);
        assert_eq!(model.intercepts.len(), 1);
        let printed = quote!(#imp).to_string();
        assert!(!printed.contains("# [join"), "{printed}");
        assert!(!printed.contains("intercept"), "{printed}");
    }

    #[test]
    fn a_malformed_handler_is_one_error_and_left_out() {
        let (model, imp, errors) = channel(quote! { #[intercept("x")] impl C {
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
        let one_error = |tokens: TokenStream, needle: &str| {
            let (_, _, errors) = channel(tokens);
            assert_eq!(errors.len(), 1, "{errors:#?}");
            assert!(errors[0].contains(needle), "{errors:#?}");
        };
        one_error(
            quote! { impl C { #[join] fn j() -> JoinResult<Self> { todo!() } } },
            "#[join] needs the topic pattern",
        );
        one_error(quote! { impl C { #[join(rooms)] fn j() -> JoinResult<Self> { todo!() } } }, "one string literal");
        one_error(quote! { impl C { #[join("rooms:{")] fn j() -> JoinResult<Self> { todo!() } } }, "unclosed `{`");
        one_error(
            quote! { impl C { #[join("rooms:{1x}")] fn j() -> JoinResult<Self> { todo!() } } },
            "capture name `1x` in \"rooms:{1x}\" is not a Rust identifier",
        );
        one_error(
            quote! { impl C { #[join("a")] #[handle_in("b")] fn j() -> JoinResult<Self> { todo!() } } },
            "already a #[join] handler",
        );
        one_error(
            quote! { impl C { #[join("a")] fn j() -> JoinResult<Self> { todo!() } #[handle_in("phx_join")] fn x(&self) {} } },
            "protocol event",
        );
        one_error(
            quote! { impl C { #[join("a")] fn j() -> JoinResult<Self> { todo!() } #[terminate(x)] fn t(&mut self) {} } },
            "takes no arguments",
        );
    }

    #[test]
    fn splits_routes_trait_methods_and_the_rest() {
        let (model, imp, errors) = socket(guide_socket());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(model.routes.len(), 2);
        let connect = model.connect.as_ref().unwrap();
        assert!(connect.sig.asyncness.is_some() && matches!(connect.vis, Visibility::Inherited));
        assert!(model.id.is_some());
        assert_eq!(imp.items.len(), 1, "only `helper` stays inherent");
    }

    #[test]
    fn method_mistakes() {
        let (model, _, errors) = socket(quote!(impl S { channel!("a:*" => A); }));
        assert!(errors[0].contains("has no `connect`; add `async fn connect(params: &ConnectParams"), "{errors:?}");
        assert!(model.connect.is_none() && model.routes.len() == 1);
        let (_, _, errors) =
            socket(quote!(impl S { async fn connect(p: &ConnectParams) -> Result<Self, Refuse> { todo!() } }));
        assert!(errors[0].contains("`connect` takes the client's params and connection info"), "{errors:?}");
        let (_, _, errors) = socket(quote!(impl S {
            async fn connect(p: &ConnectParams, i: &ConnectInfo) -> Result<Self, Refuse> { todo!() }
            fn channels() -> Router<Self> { todo!() }
            fn id() -> Option<String> { None }
        }));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("generates `channels()`") && errors[1].contains("fn id(&self)"), "{errors:?}");
    }

    #[test]
    fn connect_takes_state_after_params_and_info() {
        let (model, _, errors) = socket(quote!(impl S {
            fn connect(p: &ConnectParams, i: &ConnectInfo, c: State<Config>, d: State<db::Pool>) -> Result<Self, Refuse> {
                todo!()
            }
        }));
        assert!(errors.is_empty(), "{errors:?}");
        let state: Vec<String> = model.connect_state.iter().map(|t| quote!(#t).to_string()).collect();
        assert_eq!(state, ["Config", "db :: Pool"]);
        for (params, needle) in [
            (quote! { c: State<C>, p: &ConnectParams, i: &ConnectInfo }, "params and connection info first"),
            (quote! { p: &ConnectParams, c: State<C>, i: &ConnectInfo }, "params and connection info first"),
            (quote! { p: &ConnectParams, i: &ConnectInfo, pool: Pool }, "takes only app state"),
            (quote! { p: &ConnectParams, i: &ConnectInfo, c: &State<C> }, "by value"),
        ] {
            let (model, _, errors) = socket(quote!(impl S { fn connect(#params) {} }));
            assert_eq!(errors.len(), 1, "{params}: {errors:?}");
            assert!(errors[0].contains(needle), "{params}: {errors:?}");
            assert!(model.connect.is_none());
        }
    }
}
