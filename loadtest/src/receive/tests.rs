use super::*;

/// A presence as Starling forwards it: the stamp child unchanged (RFC 6120 §8.4).
const PRESENCE: &str = "<presence from='user7@localhost/load' to='user3@localhost/load'>\
    <ts xmlns='urn:starling:loadtest' seq='42'>1700000000123456</ts></presence>";

fn received(text: &str) -> Received {
    Received::new(text.as_bytes().to_vec())
}

/// Receives `bytes`, as a read from the transport would.
fn push(r: &mut Received, bytes: &[u8]) {
    r.spare(bytes.len()).extend_from_slice(bytes);
}

/// Everything readable from `r` now, up to the first `NeedMore`.
fn drain(r: &mut Received) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        match r.next_item() {
            Ok(Item::Stanza(s)) => out.push(format!(
                "{} type={:?} from={:?} id={:?} stamp={:?} ping={}",
                s.name,
                s.kind,
                s.from,
                s.id,
                s.stamp.map(|t| (t.seq, t.sent_us)),
                s.ping
            )),
            Ok(Item::Close) => out.push("close".into()),
            Ok(Item::NeedMore) => return out,
            Err(e) => {
                out.push(format!("{e:?}"));
                return out;
            }
        }
    }
}

#[test]
fn a_stamped_presence_gives_its_sender_and_stamp() {
    let mut r = received(PRESENCE);
    assert_eq!(
        drain(&mut r),
        [
            "presence type=None from=Some(\"user7@localhost/load\") id=None \
          stamp=Some((42, 1700000000123456)) ping=false"
        ]
    );
}

/// The same stanza split at every byte arrives whole, once, whatever the split (TCP and TLS
/// records cut anywhere), keepalive whitespace in between.
#[test]
fn an_element_split_anywhere_is_read_once_when_complete() {
    let stream = format!(" {PRESENCE}\n{PRESENCE}");
    for cut in 0..=stream.len() {
        let mut r = Received::default();
        let mut seen = Vec::new();
        for part in [&stream.as_bytes()[..cut], &stream.as_bytes()[cut..]] {
            push(&mut r, part);
            seen.extend(drain(&mut r));
        }
        assert_eq!(seen.len(), 2, "cut at {cut}: {seen:?}");
        assert!(
            seen.iter().all(|s| s.contains("stamp=Some((42,")),
            "{seen:?}"
        );
    }
}

/// A character cut between two reads (here the second byte of 'é') waits for its rest.
#[test]
fn a_character_split_between_reads_waits_for_its_rest() {
    let stanza = "<message from='user1@localhost/load'><body>caf\u{e9}</body></message>";
    let bytes = stanza.as_bytes();
    let cut = stanza.find('\u{e9}').unwrap() + 1;
    let mut r = Received::default();
    push(&mut r, &bytes[..cut]);
    assert!(drain(&mut r).is_empty());
    push(&mut r, &bytes[cut..]);
    assert_eq!(drain(&mut r).len(), 1);
}

/// XEP-0199 §4.2: a server's ping is recognised with its id, so it can be answered.
#[test]
fn a_server_ping_is_recognised() {
    let mut r = received(
        "<iq from='localhost' to='user1@localhost/load' id='s2c1' type='get'>\
         <ping xmlns='urn:xmpp:ping'/></iq>",
    );
    assert_eq!(
        drain(&mut r),
        ["iq type=Some(\"get\") from=Some(\"localhost\") id=Some(\"s2c1\") stamp=None ping=true"]
    );
    let mut r = received("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'></ping></iq>");
    assert!(drain(&mut r)[0].ends_with("ping=true"));
    // The same local name in another namespace is not a ping.
    let mut r = received("<iq type='get' id='x'><ping xmlns='urn:example:other'/></iq>");
    assert!(drain(&mut r)[0].ends_with("ping=false"));
}

/// A stamp is recognised by its namespace, declared on itself with or without a prefix;
/// one in another namespace, or without its sequence number, is no stamp (its delivery
/// then counts as missing).
#[test]
fn a_stamp_is_recognised_by_its_namespace() {
    let cases = [
        (
            "<ts xmlns='urn:starling:loadtest' seq='1'> 5 </ts>",
            "Some((1, 5))",
        ),
        (
            "<lt:ts xmlns:lt='urn:starling:loadtest' seq='2'>6</lt:ts>",
            "Some((2, 6))",
        ),
        (
            "<ts xmlns=\"urn:starling:loadtest\" seq=\"3\">7</ts>",
            "Some((3, 7))",
        ),
        ("<ts xmlns='urn:example:other' seq='4'>8</ts>", "None"),
        (
            "<lt:ts xmlns='urn:starling:loadtest' seq='6'>8</lt:ts>",
            "None",
        ),
        (
            "<ts xmlns:lt='urn:starling:loadtest' seq='7'>8</ts>",
            "None",
        ),
        ("<ts xmlns='urn:starling:loadtest'>9</ts>", "None"),
        (
            "<x><ts xmlns='urn:starling:loadtest' seq='5'>9</ts></x>",
            "None",
        ),
    ];
    for (child, stamp) in cases {
        let mut r = received(&format!("<presence>{child}</presence>"));
        let seen = drain(&mut r);
        assert!(
            seen[0].contains(&format!("stamp={stamp}")),
            "{child}: {seen:?}"
        );
    }
}

/// RFC 6120 §4.4 and §4.9: the server's closing tag ends the stream; a stream error is an
/// element like any other, named as written.
#[test]
fn stream_end_and_errors() {
    let mut r = received(
        "<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
         </stream:error></stream:stream>",
    );
    assert_eq!(
        drain(&mut r),
        [
            "stream:error type=None from=None id=None stamp=None ping=false",
            "close"
        ]
    );
}

#[test]
fn an_error_stanza_gives_its_type() {
    let mut r = received("<presence type='error' from='user2@localhost'/>");
    assert!(drain(&mut r)[0].starts_with("presence type=Some(\"error\")"));
}

/// Bounded: an element that never ends stops the session once it passes MAX_ELEMENT, and
/// text between stanzas or bytes that are not UTF-8 stop it at once.
#[test]
fn what_cannot_be_read_ends_the_session() {
    let mut r = received(&format!("<message><body>{}", "a".repeat(MAX_ELEMENT)));
    assert_eq!(drain(&mut r), ["TooLong"]);
    let mut r = received("<message>a</message>stray");
    assert_eq!(drain(&mut r)[1], "Text");
    let mut r = Received::new(b"<message>\xff</message>".to_vec());
    assert_eq!(drain(&mut r), ["NotUtf8"]);
}

/// Bytes already read are dropped when room is made, so the buffer does not grow with
/// the stream.
#[test]
fn read_bytes_are_dropped_when_room_is_made() {
    let mut r = Received::default();
    for _ in 0..100 {
        push(&mut r, PRESENCE.as_bytes());
        assert_eq!(drain(&mut r).len(), 1);
    }
    assert!(r.spare(0).is_empty());
}

/// XML §3.1: `>` and `/` may stand in attribute values; a tag ends at the first `>` outside
/// them. Nested children, comments and CDATA sections do not end the element early.
#[test]
fn tags_end_outside_attribute_values_and_nesting_is_followed() {
    let mut r = received(
        "<message from='user1@localhost/a>b' id=\"x/>y\" type='chat'>\
         <body>a &lt; b</body><x><y><z/></y></x><!-- </message> -->\
         <![CDATA[</message>]]>\
         <ts xmlns='urn:starling:loadtest' seq='9'>10</ts></message>\
         <presence from='user2@localhost/load' type='unavailable'/>",
    );
    assert_eq!(
        drain(&mut r),
        [
            "message type=Some(\"chat\") from=Some(\"user1@localhost/a>b\") id=Some(\"x/>y\") \
             stamp=Some((9, 10)) ping=false",
            "presence type=Some(\"unavailable\") from=Some(\"user2@localhost/load\") id=None \
             stamp=None ping=false"
        ]
    );
}

/// XML §3.1: whitespace may stand around an attribute's `=`, values may be in either quote;
/// reading a tag's attributes stops at the first that is not `key='value'`.
#[test]
fn attributes_are_read_as_xml_writes_them() {
    let mut r = received(
        "<presence\n from = \"user1@localhost/load\"\ttype= 'error' id ='a\"b'/>\
         <presence id='c' stray from='user2@localhost/load'/>",
    );
    assert_eq!(
        drain(&mut r),
        [
            "presence type=Some(\"error\") from=Some(\"user1@localhost/load\") \
             id=Some(\"a\\\"b\") stamp=None ping=false",
            "presence type=None from=None id=Some(\"c\") stamp=None ping=false"
        ]
    );
}

proptest::proptest! {
    /// Whatever the server sends, reading it ends in an item or an error, never a panic:
    /// strings of the characters markup is made of, and bytes that are not UTF-8.
    #[test]
    fn any_bytes_are_read_without_panicking(
        bytes in proptest::collection::vec(
            proptest::sample::select(b"<>/'\"= \n:!-[]?xmlns\xc3\xa9\xff".to_vec()),
            0..64,
        )
    ) {
        let mut r = Received::new(bytes);
        for _ in 0..64 {
            if !matches!(r.next_item(), Ok(Item::Stanza(_))) {
                break;
            }
        }
    }
}
