//! `check_origin`. Input: `origin NUL host NUL pattern NUL pattern ...`. Invariants: no Origin header always
//! passes; with the default (request host) check an origin passes only if its host is the request's; an
//! `Allow` list passes exactly when one of its patterns passes on its own.
#![no_main]

use channels_runtime::fuzz::check_origin;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let origin = parts.next().unwrap_or("");
    let host = parts.next();
    let patterns: Vec<&str> = parts.collect();

    assert_eq!(check_origin(None, None, host), Some(true));
    let same_host = check_origin(None, Some(origin), host).expect("RequestHost has no patterns");
    if same_host {
        let host = host.expect("an origin passed with no Host");
        assert!(origin.to_ascii_lowercase().contains(&host.split(':').next().unwrap_or("").to_ascii_lowercase()));
    }
    let Some(any) = check_origin(Some(&patterns), Some(origin), host) else { return };
    let each = patterns.iter().any(|p| check_origin(Some(&[p]), Some(origin), host) == Some(true));
    assert_eq!(any, each);
    assert_eq!(check_origin(Some(&patterns), None, host), Some(true));
});
