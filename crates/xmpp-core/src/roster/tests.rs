use quick_xml::NsReader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use super::*;
use crate::stanza_error::ErrorType;

/// Parses one XML document (the RFC examples, as printed) into an element tree, dropping the
/// whitespace-only text that only indents the examples.
fn parse(xml: &str) -> Element {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    loop {
        let (resolved, event) = reader.read_resolved_event().expect("well-formed example");
        let ns = match resolved {
            ResolveResult::Bound(ns) => ns.0.to_owned(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(p) => panic!("unbound prefix {p}"),
        };
        match event {
            Event::Start(start) => stack.push(open(&start, ns)),
            Event::Empty(start) => {
                let e = open(&start, ns);
                match stack.last_mut() {
                    Some(parent) => parent.push_child(e),
                    None => return e,
                }
            }
            Event::End(_) => {
                let e = stack.pop().expect("balanced");
                match stack.last_mut() {
                    Some(parent) => parent.push_child(e),
                    None => return e,
                }
            }
            Event::Text(text) => {
                let text = text.xml10_content();
                if !text.trim().is_empty() {
                    stack
                        .last_mut()
                        .expect("text inside an element")
                        .push_text(text);
                }
            }
            Event::GeneralRef(reference) => {
                let name: &str = &reference;
                let text = quick_xml::escape::resolve_predefined_entity(name)
                    .unwrap_or_else(|| panic!("unknown entity {name}"));
                stack.last_mut().expect("inside an element").push_text(text);
            }
            Event::Eof => panic!("no root element"),
            other => panic!("unexpected event {other:?}"),
        }
    }
}

fn open(start: &BytesStart<'_>, ns: String) -> Element {
    let mut e = Element::new(start.local_name().as_ref(), ns);
    for attr in start.attributes() {
        let attr = attr.expect("valid attribute");
        if attr.key.as_namespace_binding().is_some() {
            continue;
        }
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .expect("valid value");
        e.set_attr(attr.key.0, value.into_owned());
    }
    e
}

/// The element with its attributes sorted, recursively: the RFC's examples list attributes
/// in no fixed order, and attribute order carries no meaning in XML.
fn canonical(e: &Element) -> Element {
    let mut attrs = e.attrs().to_vec();
    attrs.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Element::new(e.name(), e.ns());
    for a in attrs {
        out.set_attr(a.name, a.value);
    }
    for node in e.nodes() {
        match node {
            crate::Node::Element(child) => out.push_child(canonical(child)),
            crate::Node::Text(t) => out.push_text(t.clone()),
        }
    }
    out
}

#[track_caller]
fn assert_same_xml(actual: &Element, expected: &str) {
    assert_eq!(canonical(actual), canonical(&parse(expected)), "{actual}");
}

/// The `<query/>` of an `<iq/>` example.
fn query_of(iq: &str) -> Element {
    parse(iq)
        .children()
        .next()
        .expect("iq has a payload")
        .clone()
}

fn set(iq: &str) -> Result<RosterSet, StanzaError> {
    parse_roster_set(&query_of(iq), &RosterLimits::default())
}

#[track_caller]
fn assert_error(result: Result<RosterSet, StanzaError>, condition: StanzaErrorCondition) {
    let err = result.expect_err("the roster set is refused");
    assert_eq!(err.condition, condition, "{err}");
    // Every error example of §2.3.3 has type='modify'.
    assert_eq!(err.error_type, ErrorType::Modify, "{err}");
}

fn jid(s: &str) -> Jid {
    Jid::new(s).unwrap()
}

fn update(j: &str, name: Option<&str>, groups: &[&str]) -> RosterSet {
    RosterSet::Update {
        jid: jid(j),
        name: name.map(str::to_owned),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
    }
}

#[test]
fn subscription_values_of_section_2_1_2_5_round_trip() {
    for s in [
        Subscription::None,
        Subscription::To,
        Subscription::From,
        Subscription::Both,
        Subscription::Remove,
    ] {
        assert_eq!(Subscription::from_wire(s.as_str()), Some(s));
    }
    assert_eq!(Subscription::from_wire("Both"), None);
    assert_eq!(Subscription::from_wire("pending"), None);
    assert_eq!(Subscription::default(), Subscription::None);
}

#[test]
fn roster_get_of_section_2_1_3_has_no_version() {
    let get = parse_roster_get(&query_of(
        "<iq from='juliet@example.com/balcony' id='bv1bs71f' type='get'>
           <query xmlns='jabber:iq:roster'/>
         </iq>",
    ))
    .unwrap();
    assert_eq!(get.ver, None);
}

#[test]
fn versioned_roster_get_of_section_2_6_2_keeps_the_version() {
    let get = parse_roster_get(&query_of(
        "<iq from='romeo@example.net/home' id='r1h3vzp7' to='romeo@example.net' type='get'>
           <query xmlns='jabber:iq:roster' ver='ver14'/>
         </iq>",
    ))
    .unwrap();
    assert_eq!(get.ver.as_deref(), Some("ver14"));
}

#[test]
fn empty_ver_bootstraps_versioning_section_2_6_2() {
    let get = parse_roster_get(&parse("<query xmlns='jabber:iq:roster' ver=''/>")).unwrap();
    assert_eq!(get.ver.as_deref(), Some(""));
}

#[test]
fn roster_get_with_an_item_is_a_bad_request_section_2_1_3() {
    let err = parse_roster_get(&parse(
        "<query xmlns='jabber:iq:roster'><item jid='nurse@example.com'/></query>",
    ))
    .unwrap_err();
    assert_eq!(err.condition, StanzaErrorCondition::BadRequest);
}

#[test]
fn roster_get_in_another_namespace_is_a_bad_request() {
    let err = parse_roster_get(&parse("<query xmlns='jabber:iq:version'/>")).unwrap_err();
    assert_eq!(err.condition, StanzaErrorCondition::BadRequest);
}

#[test]
fn roster_set_of_section_2_1_5() {
    let got = set("<iq from='juliet@example.com/balcony' id='rs1' type='set'>
           <query xmlns='jabber:iq:roster'>
             <item jid='nurse@example.com'/>
           </query>
         </iq>");
    assert_eq!(got, Ok(update("nurse@example.com", None, &[])));
}

#[test]
fn adding_an_item_section_2_3_1() {
    let got = set(
        "<iq from='juliet@example.com/balcony' id='ph1xaz53' type='set'>
           <query xmlns='jabber:iq:roster'>
             <item jid='nurse@example.com' name='Nurse'>
               <group>Servants</group>
             </item>
           </query>
         </iq>",
    );
    assert_eq!(
        got,
        Ok(update("nurse@example.com", Some("Nurse"), &["Servants"]))
    );
}

#[test]
fn more_than_one_item_is_a_bad_request_section_2_3_3() {
    let got = set(
        "<iq from='juliet@example.com/balcony' id='nw83vcj4' type='set'>
           <query xmlns='jabber:iq:roster'>
             <item jid='nurse@example.com' name='Nurse'>
               <group>Servants</group>
             </item>
             <item jid='mother@example.com' name='Mom'>
               <group>Family</group>
             </item>
           </query>
         </iq>",
    );
    assert_error(got, StanzaErrorCondition::BadRequest);
}

#[test]
fn no_item_is_a_bad_request_section_2_1_5() {
    let got = set("<iq from='juliet@example.com/balcony' id='x' type='set'>
           <query xmlns='jabber:iq:roster'/>
         </iq>");
    assert_error(got, StanzaErrorCondition::BadRequest);
}

#[test]
fn an_item_in_another_namespace_is_not_a_roster_item_section_2_1_5() {
    let query = parse(
        "<query xmlns='jabber:iq:roster'>
           <item xmlns='urn:example:other' jid='mother@example.com'/>
           <item jid='nurse@example.com'/>
         </query>",
    );
    assert_eq!(
        parse_roster_set(&query, &RosterLimits::default()),
        Ok(update("nurse@example.com", None, &[]))
    );
    let only_foreign = parse(
        "<query xmlns='jabber:iq:roster'>
           <item xmlns='urn:example:other' jid='mother@example.com'/>
         </query>",
    );
    assert_error(
        parse_roster_set(&only_foreign, &RosterLimits::default()),
        StanzaErrorCondition::BadRequest,
    );
}

#[test]
fn a_set_outside_the_roster_namespace_is_a_bad_request() {
    let query = parse("<query xmlns='jabber:iq:private'><item jid='nurse@example.com'/></query>");
    assert_error(
        parse_roster_set(&query, &RosterLimits::default()),
        StanzaErrorCondition::BadRequest,
    );
}

#[test]
fn oversized_handle_is_not_acceptable_section_2_3_3() {
    let limits = RosterLimits::default();
    let long = "h".repeat(limits.max_name_len + 1);
    let got = set(&format!(
        "<iq from='juliet@example.com/balcony' id='yl491b3d' type='set'>
           <query xmlns='jabber:iq:roster'>
             <item jid='nurse@example.com' name='{long}'>
               <group>Servants</group>
             </item>
           </query>
         </iq>"
    ));
    assert_error(got, StanzaErrorCondition::NotAcceptable);
}

#[test]
fn handle_at_the_limit_is_accepted_and_limits_count_octets() {
    let limits = RosterLimits {
        max_name_len: 4,
        max_group_len: 4,
    };
    let at = parse("<query xmlns='jabber:iq:roster'><item jid='a@b' name='abcd'/></query>");
    assert_eq!(
        parse_roster_set(&at, &limits),
        Ok(update("a@b", Some("abcd"), &[]))
    );
    // Three characters, six octets of UTF-8.
    let over = parse("<query xmlns='jabber:iq:roster'><item jid='a@b' name='ééé'/></query>");
    assert_error(
        parse_roster_set(&over, &limits),
        StanzaErrorCondition::NotAcceptable,
    );
}

#[test]
fn duplicate_groups_are_a_bad_request_section_2_3_3() {
    let got = set(
        "<iq from='juliet@example.com/balcony' id='tk3va749' type='set'>
           <query xmlns='jabber:iq:roster'>
             <item jid='nurse@example.com' name='Nurse'>
               <group>Servants</group>
               <group>Servants</group>
             </item>
           </query>
         </iq>",
    );
    assert_error(got, StanzaErrorCondition::BadRequest);
}

#[test]
fn groups_are_compared_as_resourceparts_section_2_3_3() {
    // U+00E9 and "e" + U+0301 are the same string after OpaqueString's NFC.
    let query = Element::new("query", ns::ROSTER).with_child(
        Element::new("item", ns::ROSTER)
            .with_attr("jid", "nurse@example.com")
            .with_child(Element::new("group", ns::ROSTER).with_text("Caf\u{e9}"))
            .with_child(Element::new("group", ns::ROSTER).with_text("Cafe\u{301}")),
    );
    assert_error(
        parse_roster_set(&query, &RosterLimits::default()),
        StanzaErrorCondition::BadRequest,
    );
    // OpaqueString keeps case, so these are two groups; both are kept as written.
    let got = set("<iq type='set' id='g'><query xmlns='jabber:iq:roster'>
             <item jid='nurse@example.com'><group>Friends</group><group>friends</group></item>
           </query></iq>");
    assert_eq!(
        got,
        Ok(update("nurse@example.com", None, &["Friends", "friends"]))
    );
}

#[test]
fn a_group_opaquestring_refuses_is_still_accepted_section_2_1_6() {
    // U+0007 is disallowed by OpaqueString, but groups are opaque to the server.
    let query = Element::new("query", ns::ROSTER).with_child(
        Element::new("item", ns::ROSTER)
            .with_attr("jid", "nurse@example.com")
            .with_child(Element::new("group", ns::ROSTER).with_text("bell\u{7}"))
            .with_child(Element::new("group", ns::ROSTER).with_text("bell")),
    );
    assert_eq!(
        parse_roster_set(&query, &RosterLimits::default()),
        Ok(update("nurse@example.com", None, &["bell\u{7}", "bell"]))
    );
}

#[test]
fn empty_group_is_not_acceptable_section_2_3_3() {
    let got = set(
        "<iq from='juliet@example.com/balcony' id='fl3b486u' type='set'>
           <query xmlns='jabber:iq:roster'>
             <item jid='nurse@example.com' name='Nurse'>
               <group></group>
             </item>
           </query>
         </iq>",
    );
    assert_error(got, StanzaErrorCondition::NotAcceptable);
}

#[test]
fn whitespace_group_has_nonzero_length_section_2_3_3() {
    let query = Element::new("query", ns::ROSTER).with_child(
        Element::new("item", ns::ROSTER)
            .with_attr("jid", "nurse@example.com")
            .with_child(Element::new("group", ns::ROSTER).with_text(" ")),
    );
    assert_eq!(
        parse_roster_set(&query, &RosterLimits::default()),
        Ok(update("nurse@example.com", None, &[" "]))
    );
}

#[test]
fn oversized_group_name_is_not_acceptable_section_2_3_3() {
    let long = "g".repeat(RosterLimits::DEFAULT_MAX_LEN + 1);
    let got = set(&format!(
        "<iq from='juliet@example.com/balcony' id='qh3b4v19' type='set'>
           <query xmlns='jabber:iq:roster'>
             <item jid='nurse@example.com' name='Nurse'>
               <group>{long}</group>
             </item>
           </query>
         </iq>"
    ));
    assert_error(got, StanzaErrorCondition::NotAcceptable);
}

#[test]
fn missing_jid_is_a_bad_request_section_2_1_2_3() {
    let query = parse("<query xmlns='jabber:iq:roster'><item name='Nurse'/></query>");
    assert_error(
        parse_roster_set(&query, &RosterLimits::default()),
        StanzaErrorCondition::BadRequest,
    );
}

#[test]
fn invalid_jid_is_jid_malformed() {
    for bad in ["", "@example.com", "nurse@", "a b@example.com"] {
        let query = Element::new("query", ns::ROSTER)
            .with_child(Element::new("item", ns::ROSTER).with_attr("jid", bad));
        assert_error(
            parse_roster_set(&query, &RosterLimits::default()),
            StanzaErrorCondition::JidMalformed,
        );
    }
}

#[test]
fn full_jid_is_a_bad_request_section_3_1_1() {
    let query = parse("<query xmlns='jabber:iq:roster'><item jid='nurse@example.com/x'/></query>");
    assert_error(
        parse_roster_set(&query, &RosterLimits::default()),
        StanzaErrorCondition::BadRequest,
    );
}

#[test]
fn jid_is_normalized_and_a_domain_is_a_valid_contact() {
    let query = parse("<query xmlns='jabber:iq:roster'><item jid='Nurse@Example.COM'/></query>");
    assert_eq!(
        parse_roster_set(&query, &RosterLimits::default()),
        Ok(update("nurse@example.com", None, &[]))
    );
    let query = parse("<query xmlns='jabber:iq:roster'><item jid='icq.example.com'/></query>");
    assert_eq!(
        parse_roster_set(&query, &RosterLimits::default()),
        Ok(update("icq.example.com", None, &[]))
    );
}

#[test]
fn updating_an_item_section_2_4_1() {
    let cases = [
        (
            "<iq from='juliet@example.com/balcony' id='di43b2x9' type='set'>
               <query xmlns='jabber:iq:roster'>
                 <item jid='romeo@example.net' name='Romeo'>
                   <group>Friends</group>
                   <group>Lovers</group>
                 </item>
               </query>
             </iq>",
            update("romeo@example.net", Some("Romeo"), &["Friends", "Lovers"]),
        ),
        (
            "<iq from='juliet@example.com/balcony' id='lf72v157' type='set'>
               <query xmlns='jabber:iq:roster'>
                 <item jid='romeo@example.net' name='Romeo'>
                   <group>Lovers</group>
                 </item>
               </query>
             </iq>",
            update("romeo@example.net", Some("Romeo"), &["Lovers"]),
        ),
        (
            "<iq from='juliet@example.com/balcony' id='ju4b62a5' type='set'>
               <query xmlns='jabber:iq:roster'>
                 <item jid='romeo@example.net'/>
               </query>
             </iq>",
            update("romeo@example.net", None, &[]),
        ),
        (
            "<iq from='juliet@example.com/balcony' id='gb3sv487' type='set'>
               <query xmlns='jabber:iq:roster'>
                 <item jid='romeo@example.net' name='MyRomeo'/>
               </query>
             </iq>",
            update("romeo@example.net", Some("MyRomeo"), &[]),
        ),
        // §2.4.1 implementation note: an empty name is no name.
        (
            "<iq from='juliet@example.com/balcony' id='o3bx66s5' type='set'>
               <query xmlns='jabber:iq:roster'>
                 <item jid='romeo@example.net' name=''/>
               </query>
             </iq>",
            update("romeo@example.net", None, &[]),
        ),
    ];
    for (iq, expected) in cases {
        assert_eq!(set(iq), Ok(expected), "{iq}");
    }
}

#[test]
fn deleting_an_item_section_2_5_1() {
    let got = set(
        "<iq from='juliet@example.com/balcony' id='hm4hs97y' type='set'>
           <query xmlns='jabber:iq:roster'>
             <item jid='nurse@example.com' subscription='remove'/>
           </query>
         </iq>",
    );
    assert_eq!(
        got,
        Ok(RosterSet::Remove {
            jid: jid("nurse@example.com")
        })
    );
}

#[test]
fn a_removal_ignores_the_data_it_carries_section_2_5_1() {
    let query = Element::new("query", ns::ROSTER).with_child(
        Element::new("item", ns::ROSTER)
            .with_attr("jid", "nurse@example.com")
            .with_attr("subscription", "remove")
            .with_attr("name", "n".repeat(RosterLimits::DEFAULT_MAX_LEN + 1))
            .with_child(Element::new("group", ns::ROSTER))
            .with_child(Element::new("group", ns::ROSTER).with_text("A"))
            .with_child(Element::new("group", ns::ROSTER).with_text("A")),
    );
    assert_eq!(
        parse_roster_set(&query, &RosterLimits::default()),
        Ok(RosterSet::Remove {
            jid: jid("nurse@example.com")
        })
    );
}

#[test]
fn a_removal_still_needs_a_valid_jid_section_2_1_2_3() {
    let query = parse("<query xmlns='jabber:iq:roster'><item subscription='remove'/></query>");
    assert_error(
        parse_roster_set(&query, &RosterLimits::default()),
        StanzaErrorCondition::BadRequest,
    );
}

#[test]
fn subscription_other_than_remove_ask_and_approved_are_ignored_section_2_1_2_5() {
    for sub in ["none", "to", "from", "both", "bogus", "REMOVE"] {
        let got = set(&format!(
            "<iq type='set' id='s1'><query xmlns='jabber:iq:roster'>
               <item jid='nurse@example.com' name='Nurse' subscription='{sub}'
                     ask='subscribe' approved='true'>
                 <group>Servants</group>
               </item>
             </query></iq>"
        ));
        assert_eq!(
            got,
            Ok(update("nurse@example.com", Some("Nurse"), &["Servants"])),
            "subscription='{sub}'"
        );
    }
}

#[test]
fn roster_result_of_section_2_2() {
    let mut romeo = RosterItem::new(jid("romeo@example.net"));
    romeo.name = Some("Romeo".into());
    romeo.subscription = Subscription::Both;
    romeo.groups = vec!["Friends".into()];
    let mut mercutio = RosterItem::new(jid("mercutio@example.com"));
    mercutio.name = Some("Mercutio".into());
    mercutio.subscription = Subscription::From;
    let mut benvolio = RosterItem::new(jid("benvolio@example.net"));
    benvolio.name = Some("Benvolio".into());
    benvolio.subscription = Subscription::Both;

    let result = roster_result(&[romeo, mercutio, benvolio], Some("ver11"));
    assert_same_xml(
        &result,
        "<query xmlns='jabber:iq:roster' ver='ver11'>
           <item jid='romeo@example.net'
                 name='Romeo'
                 subscription='both'>
             <group>Friends</group>
           </item>
           <item jid='mercutio@example.com'
                 name='Mercutio'
                 subscription='from'/>
           <item jid='benvolio@example.net'
                 name='Benvolio'
                 subscription='both'/>
         </query>",
    );
}

#[test]
fn empty_roster_result_section_2_1_4() {
    assert_eq!(
        roster_result(&[], Some("ver9")).to_xml(),
        "<query xmlns='jabber:iq:roster' ver='ver9'/>"
    );
    assert_eq!(
        roster_result(&[], None).to_xml(),
        "<query xmlns='jabber:iq:roster'/>"
    );
}

#[test]
fn roster_push_of_section_2_3_2() {
    let mut nurse = RosterItem::new(jid("nurse@example.com"));
    nurse.name = Some("Nurse".into());
    nurse.groups = vec!["Servants".into()];
    let push = roster_push(&nurse, Some("ver13"));
    assert_same_xml(
        &push,
        "<query xmlns='jabber:iq:roster' ver='ver13'>
           <item jid='nurse@example.com'
                 name='Nurse'
                 subscription='none'>
             <group>Servants</group>
           </item>
         </query>",
    );
    // The exact serialization, namespace declared once and inherited by the children.
    assert_eq!(
        push.to_xml(),
        "<query xmlns='jabber:iq:roster' ver='ver13'><item jid='nurse@example.com' \
         name='Nurse' subscription='none'><group>Servants</group></item></query>"
    );
}

#[test]
fn interim_roster_pushes_of_section_2_6_3() {
    assert_same_xml(
        &roster_push(
            &RosterItem::removed(jid("tybalt@example.org")),
            Some("ver34"),
        ),
        "<query xmlns='jabber:iq:roster' ver='ver34'>
           <item jid='tybalt@example.org' subscription='remove'/>
         </query>",
    );
    let mut bill = RosterItem::new(jid("bill@example.org"));
    bill.subscription = Subscription::Both;
    assert_same_xml(
        &roster_push(&bill, Some("ver42")),
        "<query xmlns='jabber:iq:roster' ver='ver42'>
           <item jid='bill@example.org' subscription='both'/>
         </query>",
    );
    let mut nurse = RosterItem::new(jid("nurse@example.org"));
    nurse.name = Some("Nurse".into());
    nurse.subscription = Subscription::To;
    nurse.groups = vec!["Servants".into()];
    assert_same_xml(
        &roster_push(&nurse, Some("ver72")),
        "<query xmlns='jabber:iq:roster' ver='ver72'>
           <item jid='nurse@example.org'
                 name='Nurse'
                 subscription='to'>
             <group>Servants</group>
           </item>
         </query>",
    );
}

#[test]
fn a_removal_push_carries_only_jid_and_subscription_section_2_5_2() {
    let mut gone = RosterItem::new(jid("tybalt@example.org"));
    gone.name = Some("Tybalt".into());
    gone.groups = vec!["Foes".into()];
    gone.ask = true;
    gone.approved = true;
    gone.subscription = Subscription::Remove;
    assert_eq!(
        gone.to_element().to_xml(),
        "<item xmlns='jabber:iq:roster' jid='tybalt@example.org' subscription='remove'/>"
    );
}

#[test]
fn pending_out_push_of_section_3_1_2_shows_ask() {
    let mut juliet = RosterItem::new(jid("juliet@example.com"));
    juliet.ask = true;
    assert_same_xml(
        &roster_push(&juliet, None),
        "<query xmlns='jabber:iq:roster'>
           <item ask='subscribe'
                 jid='juliet@example.com'
                 subscription='none'/>
         </query>",
    );
}

#[test]
fn pre_approval_push_of_section_3_4_2_shows_approved() {
    let mut juliet = RosterItem::new(jid("juliet@example.com"));
    juliet.approved = true;
    assert_same_xml(
        &roster_push(&juliet, None),
        "<query xmlns='jabber:iq:roster'>
           <item approved='true'
                 jid='juliet@example.com'
                 subscription='none'/>
         </query>",
    );
}

#[test]
fn an_empty_name_is_not_written_section_2_4_1() {
    let mut item = RosterItem::new(jid("romeo@example.net"));
    item.name = Some(String::new());
    assert_eq!(item.to_element().attr("name"), None);
}

#[test]
fn group_text_is_escaped_and_survives_a_round_trip() {
    let mut item = RosterItem::new(jid("romeo@example.net"));
    item.name = Some("R&J's <3".into());
    item.groups = vec!["Montague & Capulet <families>".into()];
    let xml = roster_push(&item, Some("v1")).to_xml();
    let back = parse_roster_set(&parse(&xml), &RosterLimits::default());
    assert_eq!(
        back,
        Ok(update(
            "romeo@example.net",
            Some("R&J's <3"),
            &["Montague & Capulet <families>"]
        ))
    );
}

#[test]
fn ver_stream_feature_of_section_2_6_1() {
    assert_eq!(
        ver_feature().to_xml(),
        "<ver xmlns='urn:xmpp:features:rosterver'/>"
    );
}
