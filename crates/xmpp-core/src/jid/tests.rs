mod properties;

use std::collections::HashMap;

use super::*;

fn parts(s: &str) -> (Option<String>, String, Option<String>) {
    let j = Jid::new(s).unwrap_or_else(|e| panic!("{s:?} should be a valid JID: {e}"));
    (
        j.local().map(str::to_owned),
        j.domain().to_owned(),
        j.resource().map(str::to_owned),
    )
}

type Parts<'a> = (Option<&'a str>, &'a str, Option<&'a str>);

fn p(l: Option<&str>, d: &str, r: Option<&str>) -> (Option<String>, String, Option<String>) {
    (l.map(str::to_owned), d.to_owned(), r.map(str::to_owned))
}

// RFC 7622 §3.5, Table 1: a sample of legal JIDs.
#[test]
fn rfc7622_3_5_table1_legal_jids() {
    let cases: &[(&str, Parts<'_>)] = &[
        ("juliet@example.com", (Some("juliet"), "example.com", None)), // 1
        (
            "juliet@example.com/foo",
            (Some("juliet"), "example.com", Some("foo")),
        ), // 2
        (
            "juliet@example.com/foo bar",
            (Some("juliet"), "example.com", Some("foo bar")),
        ), // 3
        (
            "juliet@example.com/foo@bar",
            (Some("juliet"), "example.com", Some("foo@bar")),
        ), // 4
        // 5: "\20" is XEP-0106 escaping; the backslash is PVALID, so this is a plain localpart.
        (
            "foo\\20bar@example.com",
            (Some("foo\\20bar"), "example.com", None),
        ),
        (
            "fussball@example.com",
            (Some("fussball"), "example.com", None),
        ), // 6
        (
            "fu\u{DF}ball@example.com",
            (Some("fu\u{DF}ball"), "example.com", None),
        ), // 7
        (
            "\u{3C0}@example.com",
            (Some("\u{3C0}"), "example.com", None),
        ), // 8
        // 9: capital sigma is case-mapped to small sigma.
        (
            "\u{3A3}@example.com/foo",
            (Some("\u{3C3}"), "example.com", Some("foo")),
        ),
        (
            "\u{3C3}@example.com/foo",
            (Some("\u{3C3}"), "example.com", Some("foo")),
        ), // 10
        // 11: final sigma is not mapped to sigma.
        (
            "\u{3C2}@example.com/foo",
            (Some("\u{3C2}"), "example.com", Some("foo")),
        ),
        (
            "king@example.com/\u{265A}",
            (Some("king"), "example.com", Some("\u{265A}")),
        ), // 12
        ("example.com", (None, "example.com", None)), // 13
        ("example.com/foobar", (None, "example.com", Some("foobar"))), // 14
        // 15: the '@' after the first '/' belongs to the resourcepart (§3.2 parsing order).
        (
            "a.example.com/b@example.net",
            (None, "a.example.com", Some("b@example.net")),
        ),
    ];
    for (input, (l, d, r)) in cases {
        assert_eq!(parts(input), p(*l, d, *r), "{input}");
    }
    // §3.5 notes on examples 9-11: 9 and 10 are equivalent, 11 matches neither.
    assert_eq!(
        Jid::new("\u{3A3}@example.com/foo"),
        Jid::new("\u{3C3}@example.com/foo")
    );
    assert_ne!(
        Jid::new("\u{3C3}@example.com/foo"),
        Jid::new("\u{3C2}@example.com/foo")
    );
    // Examples 6 and 7 are different JIDs (§3.5).
    assert_ne!(
        Jid::new("fussball@example.com"),
        Jid::new("fu\u{DF}ball@example.com")
    );
}

// RFC 7622 §3.5, Table 2: strings that are not JIDs.
#[test]
fn rfc7622_3_5_table2_non_jids() {
    use JidError::*;
    let cases: &[(&str, JidError)] = &[
        ("\"juliet\"@example.com", ForbiddenLocalpartChar('"')), // 16
        ("foo bar@example.com", InvalidLocalpart),               // 17
        ("@example.com/", EmptyLocalpart),                       // 19
        ("henry\u{2163}@example.com", InvalidLocalpart),         // 20
        ("\u{265A}@example.com", InvalidLocalpart),              // 21
        ("juliet@", EmptyDomainpart),                            // 22
        ("/foobar", EmptyDomainpart),                            // 23
    ];
    for (input, err) in cases {
        assert_eq!(Jid::new(input).as_ref(), Err(err), "{input}");
    }
}

// RFC 7622 §3.5 example 18 is listed as invalid, but the OpaqueString profile (RFC 8265 §4.2)
// that §3.4 mandates allows spaces anywhere. We follow the profile; see the module docs.
#[test]
fn rfc7622_3_5_example18_leading_space_follows_opaquestring() {
    assert_eq!(parts("juliet@example.com/ foo").2.as_deref(), Some(" foo"));
}

// RFC 7622 §3.3, RFC 8265 §3.3: localparts are case-mapped, resourceparts are not (§3.4),
// domainparts are lowercased by IDNA (§3.2.2).
#[test]
fn rfc7622_3_case_mapping_per_part() {
    let j = Jid::new("Juliet@Example.COM/Balcony").unwrap();
    assert_eq!(j.as_str(), "juliet@example.com/Balcony");
    assert_eq!(j.to_string(), "juliet@example.com/Balcony");
    assert_eq!(j.local(), Some("juliet"));
    assert_eq!(j.domain(), "example.com");
    assert_eq!(j.resource(), Some("Balcony"));
}

// RFC 8265 §3.3 (IdentifierClass disallows compatibility characters); the stringprep-based
// nodeprep of RFC 6122 would have turned this into "ixxii".
#[test]
fn rfc7622_3_3_compatibility_characters_rejected_not_mapped() {
    assert_eq!(
        Jid::new("\u{2168}\u{216B}@example.com"),
        Err(JidError::InvalidLocalpart)
    );
    assert_eq!(normalize_localpart("\u{DF}").unwrap(), "\u{DF}");
    assert_eq!(parts("\u{DF}@example.com").0.as_deref(), Some("\u{DF}"));
}

// RFC 7622 §3.3.1: characters excluded from localparts, also when width mapping produces
// them (§3.1 implementation note: separators are matched before any mapping).
#[test]
fn rfc7622_3_3_1_further_excluded_characters() {
    for c in ['"', '&', '\'', ':', '<', '>'] {
        let s = format!("a{c}b@example.com");
        assert_eq!(
            Jid::new(&s),
            Err(JidError::ForbiddenLocalpartChar(c)),
            "{s}"
        );
    }
    assert_eq!(
        normalize_localpart("a/b"),
        Err(JidError::ForbiddenLocalpartChar('/'))
    );
    assert_eq!(
        normalize_localpart("a@b"),
        Err(JidError::ForbiddenLocalpartChar('@'))
    );
    // FULLWIDTH COMMERCIAL AT maps to '@' under the width mapping rule of RFC 8265 §3.3.1.
    assert_eq!(
        Jid::new("a\u{FF20}b@example.com"),
        Err(JidError::ForbiddenLocalpartChar('@'))
    );
    // Fullwidth letters are width-mapped, not rejected.
    assert_eq!(normalize_localpart("\u{FF2A}uliet").unwrap(), "juliet");
}

// RFC 7622 §3.3, §3.2, §3.4: each separator present demands a non-empty part.
#[test]
fn rfc7622_3_empty_parts() {
    assert_eq!(Jid::new(""), Err(JidError::EmptyDomainpart));
    assert_eq!(Jid::new("@example.com"), Err(JidError::EmptyLocalpart));
    assert_eq!(Jid::new("juliet@"), Err(JidError::EmptyDomainpart));
    assert_eq!(Jid::new("juliet@/foo"), Err(JidError::EmptyDomainpart));
    assert_eq!(Jid::new("example.com/"), Err(JidError::EmptyResourcepart));
    assert_eq!(
        Jid::new("juliet@example.com/"),
        Err(JidError::EmptyResourcepart)
    );
    assert_eq!(Jid::new("."), Err(JidError::EmptyDomainpart));
    assert_eq!(
        Jid::from_parts(Some(""), "example.com", None),
        Err(JidError::EmptyLocalpart)
    );
    assert_eq!(
        Jid::from_parts(None, "example.com", Some("")),
        Err(JidError::EmptyResourcepart)
    );
}

// RFC 7622 §3.1: each part is 1 to 1023 octets, counted after normalization.
#[test]
fn rfc7622_3_1_length_limits() {
    let ok = "a".repeat(1023);
    let long = "a".repeat(1024);
    assert!(Jid::new(&format!("{ok}@example.com")).is_ok());
    assert_eq!(
        Jid::new(&format!("{long}@example.com")),
        Err(JidError::LocalpartTooLong(1024))
    );
    assert!(Jid::new(&format!("example.com/{ok}")).is_ok());
    assert_eq!(
        Jid::new(&format!("example.com/{long}")),
        Err(JidError::ResourcepartTooLong(1024))
    );
    // Domainparts: labels stay within the 63-octet DNS limit.
    let label = "a".repeat(63);
    let d1023 = vec![label.as_str(); 16].join(".");
    assert_eq!(d1023.len(), 1023);
    let d1024 = format!(
        "{}.{}.{}",
        vec![label.as_str(); 15].join("."),
        "b".repeat(32),
        "c".repeat(31)
    );
    assert_eq!(d1024.len(), 1024);
    assert_eq!(Jid::new(&d1023).unwrap().domain().len(), 1023);
    assert_eq!(Jid::new(&d1024), Err(JidError::DomainpartTooLong(1024)));
    // The trailing dot does not count (it is stripped first, §3.2).
    assert!(Jid::new(&format!("{d1023}.")).is_ok());
    // The biggest JID fits in the u16 offsets.
    let max = Jid::new(&format!("{ok}@{d1023}/{ok}")).unwrap();
    assert_eq!(max.as_str().len(), 3071);
    assert_eq!(max.local(), Some(ok.as_str()));
    assert_eq!(max.domain(), d1023);
    assert_eq!(max.resource(), Some(ok.as_str()));
}

// RFC 7622 §3.3 and §3.4: the limit applies after mapping, so input that shrinks is accepted.
#[test]
fn rfc7622_3_length_limit_is_after_normalization() {
    // FULLWIDTH LATIN CAPITAL LETTER A: 3 octets, width-mapped and case-mapped to "a".
    let local = "\u{FF21}".repeat(400);
    assert!(local.len() > 1023);
    assert_eq!(
        Jid::new(&format!("{local}@example.com"))
            .unwrap()
            .local()
            .unwrap()
            .len(),
        400
    );
    // IDEOGRAPHIC SPACE: 3 octets, mapped to U+0020 by OpaqueString (RFC 8265 §4.2.2).
    let resource = format!("a{}b", "\u{3000}".repeat(400));
    assert!(resource.len() > 1023);
    assert_eq!(normalize_resourcepart(&resource).unwrap().len(), 402);
}

// RFC 7622 §3.2: the final dot is stripped before anything else.
#[test]
fn rfc7622_3_2_trailing_dot() {
    assert_eq!(
        Jid::new("juliet@example.com./x").unwrap().as_str(),
        "juliet@example.com/x"
    );
    assert_eq!(Jid::new("example.com."), Jid::new("example.com"));
    assert_eq!(normalize_domainpart("Example.NET.").unwrap(), "example.net");
    // Only one dot is stripped; the remaining empty label is invalid.
    assert_eq!(Jid::new("example.com.."), Err(JidError::InvalidDomainpart));
    assert_eq!(Jid::new("a..b"), Err(JidError::InvalidDomainpart));
}

// RFC 7622 §3.2 (IP-literal and IPv4address of RFC 3986): IP addresses are domainparts.
#[test]
fn rfc7622_3_2_ip_literals() {
    assert_eq!(
        parts("juliet@[::1]/r"),
        p(Some("juliet"), "[::1]", Some("r"))
    );
    // Equal addresses get one text form (RFC 5952).
    assert_eq!(
        normalize_domainpart("[2001:DB8:0:0:0:0:0:1]").unwrap(),
        "[2001:db8::1]"
    );
    assert_eq!(parts("192.0.2.1"), p(None, "192.0.2.1", None));
    assert_eq!(normalize_domainpart("[::1].").unwrap(), "[::1]");
    // Unbracketed IPv6, IPv4 in brackets, zone identifiers and garbage are rejected.
    for bad in ["::1", "[192.0.2.1]", "[fe80::1%25eth0]", "[::1", "[x]"] {
        assert_eq!(
            normalize_domainpart(bad),
            Err(JidError::InvalidDomainpart),
            "{bad}"
        );
    }
}

// RFC 7622 §3.2.1 and §3.2.2: IDNA2008 domainparts, A-labels converted to U-labels.
#[test]
fn rfc7622_3_2_idna() {
    assert_eq!(
        normalize_domainpart("B\u{DC}cher.Example").unwrap(),
        "b\u{FC}cher.example"
    );
    assert_eq!(
        normalize_domainpart("xn--bcher-kva.example").unwrap(),
        "b\u{FC}cher.example"
    );
    assert_eq!(
        Jid::new("xn--bcher-kva.example"),
        Jid::new("b\u{FC}cher.example")
    );
    // IDNA2008 keeps sharp s (no transitional mapping to "ss").
    assert_eq!(normalize_domainpart("fu\u{DF}.de").unwrap(), "fu\u{DF}.de");
    // Width mapping (RFC 5892 via UTS 46).
    assert_eq!(
        normalize_domainpart("\u{FF45}xample.com").unwrap(),
        "example.com"
    );
    for bad in [
        "exa mple.com",
        "a_b.com",
        "-a.com",
        "a-.com",
        "a@b",
        "a/b",
        &"x".repeat(64),
    ] {
        assert_eq!(
            normalize_domainpart(bad),
            Err(JidError::InvalidDomainpart),
            "{bad}"
        );
    }
    assert_eq!(Jid::new("juliet@a@b"), Err(JidError::InvalidDomainpart));
    assert!(normalize_domainpart("localhost").is_ok());
}

#[test]
fn accessors_and_derived_jids() {
    let full = Jid::new("juliet@example.com/balcony").unwrap();
    assert!(!full.is_bare());
    assert!(full.is_full());
    assert_eq!(full.bare().as_str(), "juliet@example.com");
    assert!(full.bare().is_bare());
    assert_eq!(full.bare().local(), Some("juliet"));
    assert_eq!(full.domain_jid().as_str(), "example.com");
    assert_eq!(full.domain_jid().local(), None);
    let other = full.with_resource("Orchard\u{3000}X").unwrap();
    assert_eq!(other.as_str(), "juliet@example.com/Orchard X");
    assert_eq!(full.with_resource(""), Err(JidError::EmptyResourcepart));
    let domain = Jid::new("example.com/r").unwrap();
    assert_eq!(domain.local(), None);
    assert_eq!(domain.resource(), Some("r"));
    assert_eq!(domain.domain_jid().as_str(), "example.com");
    assert_eq!(
        Jid::from_parts(Some("Romeo"), "Example.net", Some("Hall"))
            .unwrap()
            .as_str(),
        "romeo@example.net/Hall"
    );
    assert_eq!(
        "Romeo@example.net".parse::<Jid>().unwrap().as_str(),
        "romeo@example.net"
    );
    assert_eq!(format!("{full:?}"), "Jid(\"juliet@example.com/balcony\")");
}

#[test]
fn equality_hash_and_order_follow_the_normalized_string() {
    let mut map = HashMap::new();
    map.insert(Jid::new("Juliet@Example.com").unwrap(), 1);
    assert_eq!(map.get("juliet@example.com"), Some(&1));
    assert_eq!(map.get(&Jid::new("JULIET@example.COM.").unwrap()), Some(&1));
    let mut v = [
        Jid::new("b@x").unwrap(),
        Jid::new("a@x/r").unwrap(),
        Jid::new("a@x").unwrap(),
    ];
    v.sort();
    let sorted: Vec<&str> = v.iter().map(Jid::as_str).collect();
    assert_eq!(sorted, ["a@x", "a@x/r", "b@x"]);
}

// JIDs live in routing tables: keep them one pointer-sized string plus two offsets.
#[cfg(target_pointer_width = "64")]
#[test]
fn jid_size_is_pinned() {
    assert_eq!(size_of::<Jid>(), 24);
    assert_eq!(size_of::<Option<Jid>>(), 24);
}

#[test]
fn error_messages_cite_the_rfc() {
    assert_eq!(
        JidError::DomainpartTooLong(1024).to_string(),
        "domainpart is 1024 octets long after normalization, the limit is 1023 (RFC 7622 §3.2)"
    );
}
