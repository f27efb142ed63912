//! The error collector of one expansion, as serde_derive's: every check reports into it, so one expansion reports
//! every independent mistake, as one combined `syn::Error`.

use std::cell::RefCell;
use std::fmt::Display;

use proc_macro2::Span;
use quote::ToTokens;
use syn::Error;

/// Collects errors; [`Ctxt::check`] takes them. Dropping a `Ctxt` unchecked panics: errors collected and then
/// forgotten would let a mistake compile.
pub struct Ctxt {
    /// `None` once checked.
    errors: RefCell<Option<Vec<Error>>>,
}

impl Ctxt {
    /// No errors yet.
    pub fn new() -> Self {
        Ctxt { errors: RefCell::new(Some(Vec::new())) }
    }

    /// An error at `span`.
    pub fn error(&self, span: Span, message: impl Display) {
        self.syn_error(Error::new(span, message));
    }

    /// An error spanning `tokens`.
    pub fn error_spanned_by(&self, tokens: impl ToTokens, message: impl Display) {
        self.syn_error(Error::new_spanned(tokens, message));
    }

    /// An error as it is.
    pub fn syn_error(&self, error: Error) {
        self.errors.borrow_mut().as_mut().expect("Ctxt used after check()").push(error);
    }

    /// `Err` with every error combined, if any.
    pub fn check(self) -> Result<(), Error> {
        let errors = self.errors.borrow_mut().take().expect("Ctxt checked twice");
        errors
            .into_iter()
            .reduce(|mut all, e| {
                all.combine(e);
                all
            })
            .map_or(Ok(()), Err)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("a Ctxt was dropped without check(): its errors would be lost");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combines_errors_in_order() {
        let cx = Ctxt::new();
        assert!(Ctxt::new().check().is_ok());
        cx.error(Span::call_site(), "one");
        cx.error_spanned_by(quote::quote!(x), "two");
        let messages: Vec<String> = cx.check().unwrap_err().into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages, ["one", "two"]);
    }

    #[test]
    #[should_panic(expected = "without check()")]
    fn must_be_checked() {
        Ctxt::new().error(Span::call_site(), "lost");
    }
}
