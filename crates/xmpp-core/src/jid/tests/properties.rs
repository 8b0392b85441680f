//! Property tests: normalization is idempotent and the fast paths agree with the
//! PRECIS profiles and UTS 46.

use precis_core::profile::PrecisFastInvocation;
use precis_profiles::{OpaqueString, UsernameCaseMapped};
use proptest::prelude::*;

use super::*;

/// Concatenations of `n` tokens from `tokens`.
fn tokens(tokens: &'static [&'static str], n: std::ops::Range<usize>) -> BoxedStrategy<String> {
    prop::collection::vec(prop::sample::select(tokens), n)
        .prop_map(|v| v.concat())
        .boxed()
}

/// Strings that look like JIDs: each part drawn from characters that exercise its rules
/// (case, width forms, sigma variants, combining marks, spaces, A-labels, dots), mostly
/// valid, sometimes not.
fn jidish() -> impl Strategy<Value = String> {
    let local = tokens(
        &[
            "a", "Z", "0", "-", "\\", "\u{DF}", "\u{3A3}", "\u{3C2}", "\u{FF21}", "e\u{301}",
            "\u{5D0}", " ",
        ],
        1..6,
    );
    let label = prop_oneof![
        tokens(
            &[
                "a", "B", "0", "-", "\u{FC}", "\u{DF}", "\u{FF45}", "\u{3A3}", "\u{5D0}"
            ],
            1..6
        ),
        Just("xn--bcher-kva".to_owned()),
        Just("XN--BCHER-KVA".to_owned()),
    ];
    let domain = prop_oneof![
        prop::collection::vec(label, 1..4).prop_map(|v| v.join(".")),
        Just("[::FFFF:192.0.2.1]".to_owned()),
        Just("192.0.2.1".to_owned()),
    ];
    let resource = tokens(
        &[
            "a", "Z", " ", "@", "/", "\u{3000}", "\u{FF21}", "\u{265A}", "\u{2163}", "e\u{301}",
            "\u{5D0}",
        ],
        1..6,
    );
    (
        prop::option::of(local),
        domain,
        any::<bool>(),
        prop::option::of(resource),
    )
        .prop_map(|(l, d, dot, r)| {
            let mut s = String::new();
            if let Some(l) = l {
                s.push_str(&l);
                s.push('@');
            }
            s.push_str(&d);
            if dot {
                s.push('.');
            }
            if let Some(r) = r {
                s.push('/');
                s.push_str(&r);
            }
            s
        })
}

proptest! {
    // RFC 7622 §3.2.3 and RFC 8264 §7: enforcement is idempotent, so printing a JID and
    // parsing it again gives the same JID.
    #[test]
    fn display_then_parse_is_identity(s in prop_oneof![jidish(), any::<String>()]) {
        if let Ok(j) = Jid::new(&s) {
            let again = Jid::new(&format!("{j}"));
            prop_assert_eq!(again.as_ref(), Ok(&j));
            let again = again.unwrap();
            prop_assert_eq!(again.local(), j.local());
            prop_assert_eq!(again.domain(), j.domain());
            prop_assert_eq!(again.resource(), j.resource());
            let rebuilt = Jid::from_parts(j.local(), j.domain(), j.resource());
            prop_assert_eq!(rebuilt.as_ref(), Ok(&j));
        }
    }

    // The ASCII fast paths must agree with the PRECIS profiles and full UTS 46 processing.
    #[test]
    fn localpart_fast_path_matches_profile(s in "[!-~]{1,12}") {
        let expected = UsernameCaseMapped::enforce(s.as_str()).map(|c| c.into_owned());
        let got = localpart(&s);
        match got {
            Ok(out) => prop_assert_eq!(Ok(out.into_owned()), expected),
            Err(JidError::ForbiddenLocalpartChar(_)) => {}
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }

    #[test]
    fn resourcepart_fast_path_matches_profile(s in "[ -~]{1,12}") {
        let expected = OpaqueString::enforce(s.as_str()).map(|c| c.into_owned()).ok();
        prop_assert_eq!(resourcepart(&s).ok().map(Cow::into_owned), expected);
    }

    #[test]
    fn domain_fast_path_matches_uts46(s in "[a-zA-Z0-9.-]{1,20}") {
        if let Some(fast) = ldh_fast_path(&s) {
            prop_assert_eq!(idna_domain(&s).ok(), Some(fast));
        }
    }
}
