use super::*;
use crate::jid::Jid;
use crate::roster::roster_push;

/// One row of an Appendix A table, copied as printed: EXISTING STATE, ROUTE? (or DELIVER?),
/// NEW STATE, footnote markers included.
type Row = (&'static str, &'static str, &'static str);

/// Appendix A.2.1, Table 2: processing of outbound "subscribe" stanzas.
const TABLE_2: [Row; 9] = [
    ("None", "MUST [1]", "None + Pending Out"),
    ("None + Pending Out", "MUST", "no state change"),
    ("None + Pending In", "MUST [1]", "None + Pending Out+In"),
    ("None + Pending Out+In", "MUST", "no state change"),
    ("To", "MUST", "no state change"),
    ("To + Pending In", "MUST", "no state change"),
    ("From", "MUST [1]", "From + Pending Out"),
    ("From + Pending Out", "MUST", "no state change"),
    ("Both", "MUST", "no state change"),
];

/// Appendix A.2.2, Table 3: processing of outbound "unsubscribe" stanzas.
const TABLE_3: [Row; 9] = [
    ("None", "MUST", "no state change"),
    ("None + Pending Out", "MUST", "None"),
    ("None + Pending In", "MUST", "no state change"),
    ("None + Pending Out+In", "MUST", "None + Pending In"),
    ("To", "MUST", "None"),
    ("To + Pending In", "MUST", "None + Pending In"),
    ("From", "MUST", "no state change"),
    ("From + Pending Out", "MUST", "From"),
    ("Both", "MUST", "From"),
];

/// Appendix A.2.3, Table 4: processing of outbound "subscribed" stanzas.
const TABLE_4: [Row; 9] = [
    ("None", "M.N.", "pre-approval [1]"),
    ("None + Pending Out", "M.N.", "pre-approval [1]"),
    ("None + Pending In", "MUST", "From"),
    ("None + Pending Out+In", "MUST", "From + Pending Out"),
    ("To", "M.N.", "pre-approval [1]"),
    ("To + Pending In", "MUST", "Both"),
    ("From", "M.N.", "no state change"),
    ("From + Pending Out", "M.N.", "no state change"),
    ("Both", "M.N.", "no state change"),
];

/// Appendix A.2.4, Table 5: processing of outbound "unsubscribed" stanzas.
const TABLE_5: [Row; 9] = [
    ("None", "S.N.", "no state change [1]"),
    ("None + Pending Out", "S.N.", "no state change [1]"),
    ("None + Pending In", "MUST", "None"),
    ("None + Pending Out+In", "MUST", "None + Pending Out"),
    ("To", "S.N.", "no state change [1]"),
    ("To + Pending In", "MUST", "To"),
    ("From", "MUST", "None"),
    ("From + Pending Out", "MUST", "None + Pending Out"),
    ("Both", "MUST", "To"),
];

/// Appendix A.3.1, Table 6: processing of inbound "subscribe" stanzas.
const TABLE_6: [Row; 9] = [
    ("None", "MUST [1]", "None + Pending In"),
    ("None + Pending Out", "MUST", "None + Pending Out+In"),
    ("None + Pending In", "S.N.", "no state change"),
    ("None + Pending Out+In", "S.N.", "no state change"),
    ("To", "MUST", "To + Pending In"),
    ("To + Pending In", "S.N.", "no state change"),
    ("From", "S.N. [2]", "no state change"),
    ("From + Pending Out", "S.N. [2]", "no state change"),
    ("Both", "S.N. [2]", "no state change"),
];

/// Appendix A.3.2, Table 7: processing of inbound "unsubscribe" stanzas.
const TABLE_7: [Row; 9] = [
    ("None", "S.N.", "no state change"),
    ("None + Pending Out", "S.N.", "no state change"),
    ("None + Pending In", "MUST [1]", "None"),
    ("None + Pending Out+In", "MUST [1]", "None + Pending Out"),
    ("To", "S.N.", "no state change"),
    ("To + Pending In", "MUST [1]", "To"),
    ("From", "MUST [1]", "None"),
    ("From + Pending Out", "MUST [1]", "None + Pending Out"),
    ("Both", "MUST [1]", "To"),
];

/// Appendix A.3.3, Table 8: processing of inbound "subscribed" stanzas.
const TABLE_8: [Row; 9] = [
    ("None", "S.N.", "no state change"),
    ("None + Pending Out", "MUST", "To"),
    ("None + Pending In", "S.N.", "no state change"),
    ("None + Pending Out+In", "MUST", "To + Pending In"),
    ("To", "S.N.", "no state change"),
    ("To + Pending In", "S.N.", "no state change"),
    ("From", "S.N.", "no state change"),
    ("From + Pending Out", "MUST", "Both"),
    ("Both", "S.N.", "no state change"),
];

/// Appendix A.3.4, Table 9: processing of inbound "unsubscribed" stanzas.
const TABLE_9: [Row; 9] = [
    ("None", "S.N.", "no state change"),
    ("None + Pending Out", "MUST", "None"),
    ("None + Pending In", "S.N.", "no state change"),
    ("None + Pending Out+In", "MUST", "None + Pending In"),
    ("To", "MUST", "None"),
    ("To + Pending In", "MUST", "None + Pending In"),
    ("From", "S.N.", "no state change"),
    ("From + Pending Out", "MUST", "From"),
    ("Both", "MUST", "From"),
];

const TABLES: [(&str, SubEvent, &[Row; 9]); 8] = [
    ("A.2.1", SubEvent::OutboundSubscribe, &TABLE_2),
    ("A.2.2", SubEvent::OutboundUnsubscribe, &TABLE_3),
    ("A.2.3", SubEvent::OutboundSubscribed, &TABLE_4),
    ("A.2.4", SubEvent::OutboundUnsubscribed, &TABLE_5),
    ("A.3.1", SubEvent::InboundSubscribe, &TABLE_6),
    ("A.3.2", SubEvent::InboundUnsubscribe, &TABLE_7),
    ("A.3.3", SubEvent::InboundSubscribed, &TABLE_8),
    ("A.3.4", SubEvent::InboundUnsubscribed, &TABLE_9),
];

/// Appendix A.1: how each state is "reflected in the user's roster", as
/// (label, subscription attribute, ask='subscribe'). States 3 and 6 show no pending request.
const ROSTER_VIEW: [(&str, &str, bool); 9] = [
    ("None", "none", false),
    ("None + Pending Out", "none", true),
    ("None + Pending In", "none", false),
    ("None + Pending Out+In", "none", true),
    ("To", "to", false),
    ("To + Pending In", "to", false),
    ("From", "from", false),
    ("From + Pending Out", "from", true),
    ("Both", "both", false),
];

fn state(label: &str) -> SubState {
    SubState::from_name(label).unwrap_or_else(|| panic!("no state {label:?}"))
}

fn roster_view(label: &str) -> (&'static str, bool) {
    let (_, sub, ask) = ROSTER_VIEW
        .iter()
        .find(|(l, _, _)| *l == label)
        .unwrap_or_else(|| panic!("no state {label:?}"));
    (sub, *ask)
}

#[test]
fn every_row_of_every_appendix_a_table() {
    let mut rows = 0;
    for (section, event, table) in TABLES {
        // The tables list the nine states of A.1, in order.
        let labels: Vec<&str> = table.iter().map(|r| r.0).collect();
        let names: Vec<&str> = SubState::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(labels, names, "{section}");

        for &(existing, route, new) in table {
            let from = state(existing);
            let t = transition(from, event);
            let ctx = format!("{section} {event:?} in {existing:?}");

            let must = route.starts_with("MUST");
            assert!(
                must || route.starts_with("M.N.") || route.starts_with("S.N."),
                "{ctx}: unreadable row"
            );
            assert_eq!(t.route, must, "{ctx}: route");

            let expected = if new.starts_with("no state change") {
                from
            } else if new.starts_with("pre-approval") {
                from.with_pre_approval()
            } else {
                state(new)
            };
            assert_eq!(t.new_state, expected, "{ctx}: new state");
            assert_eq!(t.new_state.name(), expected.name(), "{ctx}: label");

            // A push is due when the roster's view of the item changes (A.1, §2.6.3).
            let before = roster_view(existing);
            let after = roster_view(t.new_state.name());
            let expected_push = before != after || new.starts_with("pre-approval");
            assert_eq!(t.push, expected_push, "{ctx}: push");

            // Footnote [2] of A.3.1 and [1] of A.3.2 call for an automatic reply; no other
            // row of these tables does (pre-approval is tested separately).
            let expected_reply = match (section, route) {
                ("A.3.1", "S.N. [2]") => Some(AutoReply::Subscribed),
                ("A.3.2", "MUST [1]") => Some(AutoReply::Unsubscribed),
                _ => None,
            };
            assert_eq!(t.auto_reply, expected_reply, "{ctx}: auto-reply");
            rows += 1;
        }
    }
    assert_eq!(rows, 72);
}

#[test]
fn the_nine_states_of_appendix_a_1_have_distinct_labels() {
    for (i, s) in SubState::ALL.iter().enumerate() {
        assert_eq!(SubState::from_name(s.name()), Some(*s));
        for other in &SubState::ALL[i + 1..] {
            assert_ne!(s.name(), other.name());
        }
        assert_eq!(s.normalized(), *s);
    }
    assert_eq!(SubState::from_name("Both + Pending Out"), None);
    assert_eq!(SubState::default(), SubState::NONE);
}

#[test]
fn contradictory_flags_are_dropped_before_a_transition_appendix_a_1() {
    let odd = SubState {
        to: true,
        from: true,
        pending_out: true,
        pending_in: true,
        pre_approved: true,
    };
    assert_eq!(odd.normalized(), SubState::BOTH);
    assert_eq!(odd.name(), "Both");
    assert!(!odd.ask());
    let t = transition(odd, SubEvent::InboundSubscribed);
    assert!(!t.route);
    assert_eq!(t.new_state, SubState::BOTH);
    assert!(!t.push);
}

#[test]
fn pre_approval_is_recorded_not_routed_section_3_4_2_rule_3() {
    for s in [SubState::NONE, SubState::NONE_PENDING_OUT, SubState::TO] {
        let t = transition(s, SubEvent::OutboundSubscribed);
        assert!(!t.route, "{}", s.name());
        assert!(t.new_state.pre_approved, "{}", s.name());
        assert!(t.push, "{}: the approved flag is pushed", s.name());
        assert_eq!(t.auto_reply, None);
        assert_eq!(t.presence, None);
        // A second pre-approval changes nothing and pushes nothing.
        let again = transition(t.new_state, SubEvent::OutboundSubscribed);
        assert_eq!(again.new_state, t.new_state);
        assert!(!again.push && !again.route);
    }
}

#[test]
fn pre_approval_push_matches_section_3_4_2_example() {
    let t = transition(SubState::NONE, SubEvent::OutboundSubscribed);
    let mut item = RosterItem::new(Jid::new("juliet@example.com").unwrap());
    t.new_state.apply_to(&mut item);
    assert_eq!(
        roster_push(&item, None).to_xml(),
        "<query xmlns='jabber:iq:roster'><item jid='juliet@example.com' \
         subscription='none' approved='true'/></query>"
    );
}

#[test]
fn without_pre_approval_support_an_early_subscribed_is_ignored_section_3_4() {
    for s in [SubState::NONE, SubState::NONE_PENDING_OUT, SubState::TO] {
        let t = transition_with(s, SubEvent::OutboundSubscribed, PreApproval::Unsupported);
        assert_eq!(t.new_state, s);
        assert!(!t.route && !t.push);
    }
    // Approving a pending request does not depend on pre-approval support.
    let t = transition_with(
        SubState::NONE_PENDING_IN,
        SubEvent::OutboundSubscribed,
        PreApproval::Unsupported,
    );
    assert_eq!(t.new_state, SubState::FROM);
    assert!(t.route);
}

#[test]
fn pre_approved_subscribe_is_answered_for_the_user_section_3_4() {
    let cases = [
        (SubState::NONE, SubState::FROM),
        (SubState::NONE_PENDING_OUT, SubState::FROM_PENDING_OUT),
        (SubState::TO, SubState::BOTH),
    ];
    for (before, after) in cases {
        let t = transition(before.with_pre_approval(), SubEvent::InboundSubscribe);
        let ctx = before.name();
        assert!(!t.route, "{ctx}: MUST NOT deliver");
        assert_eq!(t.auto_reply, Some(AutoReply::Subscribed), "{ctx}");
        assert_eq!(t.new_state, after, "{ctx}: the pre-approval is consumed");
        assert!(t.push, "{ctx}");
        assert_eq!(t.presence, Some(PresenceEffect::SendCurrent), "{ctx}");
    }
}

#[test]
fn a_stored_pre_approval_is_honoured_without_support_section_3_4() {
    let t = transition_with(
        SubState::NONE.with_pre_approval(),
        SubEvent::InboundSubscribe,
        PreApproval::Unsupported,
    );
    assert_eq!(t.new_state, SubState::FROM);
    assert_eq!(t.auto_reply, Some(AutoReply::Subscribed));
}

#[test]
fn unsubscribed_cancels_a_pre_approval_section_3_2_2_rule_2() {
    for s in [SubState::NONE, SubState::NONE_PENDING_OUT, SubState::TO] {
        let t = transition(s.with_pre_approval(), SubEvent::OutboundUnsubscribed);
        assert_eq!(t.new_state, s, "{}", s.name());
        assert!(!t.route, "{}: MUST NOT route", s.name());
        assert!(t.push, "{}: the approved attribute is removed", s.name());
    }
}

#[test]
fn other_stanzas_keep_a_pre_approval_section_3_4() {
    let pre = SubState::NONE.with_pre_approval();
    let t = transition(pre, SubEvent::OutboundSubscribe);
    assert_eq!(t.new_state, SubState::NONE_PENDING_OUT.with_pre_approval());
    let t = transition(t.new_state, SubEvent::InboundSubscribed);
    assert_eq!(t.new_state, SubState::TO.with_pre_approval());
    let t = transition(t.new_state, SubEvent::InboundUnsubscribed);
    assert_eq!(t.new_state, pre);
}

#[test]
fn already_subscribed_contact_gets_subscribed_and_presence_section_3_1_3_rule_2() {
    for s in [SubState::FROM, SubState::FROM_PENDING_OUT, SubState::BOTH] {
        let t = transition(s, SubEvent::InboundSubscribe);
        assert_eq!(t.auto_reply, Some(AutoReply::Subscribed), "{}", s.name());
        assert_eq!(
            t.presence,
            Some(PresenceEffect::SendCurrent),
            "{}",
            s.name()
        );
        assert!(!t.route && !t.push, "{}", s.name());
    }
}

#[test]
fn inbound_subscribe_does_not_create_a_roster_item_section_3_1_3() {
    let t = transition(SubState::NONE, SubEvent::InboundSubscribe);
    assert!(t.route);
    assert_eq!(t.new_state, SubState::NONE_PENDING_IN);
    assert!(!t.push, "security warning of 3.1.3: no item until approved");
    assert_eq!(t.auto_reply, None);
}

#[test]
fn auto_replies_are_sent_only_where_appendix_a_asks() {
    for s in SubState::ALL {
        for event in [
            SubEvent::OutboundSubscribe,
            SubEvent::OutboundSubscribed,
            SubEvent::OutboundUnsubscribe,
            SubEvent::OutboundUnsubscribed,
            SubEvent::InboundSubscribed,
            SubEvent::InboundUnsubscribed,
        ] {
            assert_eq!(
                transition(s, event).auto_reply,
                None,
                "{event:?} {}",
                s.name()
            );
        }
        let unsub = transition(s, SubEvent::InboundUnsubscribe);
        assert_eq!(
            unsub.auto_reply.is_some(),
            unsub.new_state != s,
            "A.3.2: auto-reply exactly when the state changes ({})",
            s.name()
        );
    }
    assert_eq!(AutoReply::Subscribed.presence_type(), "subscribed");
    assert_eq!(AutoReply::Unsubscribed.presence_type(), "unsubscribed");
}

#[test]
fn approval_sends_current_presence_section_3_1_5() {
    let t = transition(SubState::NONE_PENDING_IN, SubEvent::OutboundSubscribed);
    assert!(t.route);
    assert_eq!(t.new_state, SubState::FROM);
    assert_eq!(t.presence, Some(PresenceEffect::SendCurrent));
    // §3.1.5 example push: subscription='from'.
    let mut item = RosterItem::new(Jid::new("romeo@example.net").unwrap());
    t.new_state.apply_to(&mut item);
    assert_eq!(
        item.to_element().to_xml(),
        "<item xmlns='jabber:iq:roster' jid='romeo@example.net' subscription='from'/>"
    );
}

#[test]
fn cancelling_a_subscription_sends_unavailable_section_3_2_2() {
    let t = transition(SubState::FROM, SubEvent::OutboundUnsubscribed);
    assert!(t.route);
    assert_eq!(t.new_state, SubState::NONE);
    assert_eq!(t.presence, Some(PresenceEffect::SendUnavailable));
    // Denying a request ends no subscription: nothing to make unavailable.
    let t = transition(SubState::NONE_PENDING_IN, SubEvent::OutboundUnsubscribed);
    assert!(t.route);
    assert_eq!(t.presence, None);
    assert!(!t.push, "the roster shows 'none' before and after");
}

#[test]
fn inbound_unsubscribe_sends_unavailable_section_3_3_3() {
    for (before, after) in [
        (SubState::FROM, SubState::NONE),
        (SubState::FROM_PENDING_OUT, SubState::NONE_PENDING_OUT),
        (SubState::BOTH, SubState::TO),
    ] {
        let t = transition(before, SubEvent::InboundUnsubscribe);
        assert_eq!(t.new_state, after);
        assert!(t.route && t.push, "{}", before.name());
        assert_eq!(t.presence, Some(PresenceEffect::SendUnavailable));
    }
    // Withdrawing a request: delivered, nothing pushed (the roster never showed it).
    let t = transition(SubState::TO_PENDING_IN, SubEvent::InboundUnsubscribe);
    assert!(t.route && !t.push);
    assert_eq!(t.presence, None);
}

#[test]
fn changes_to_the_users_own_subscription_send_no_presence() {
    for s in SubState::ALL {
        for event in [
            SubEvent::OutboundSubscribe,
            SubEvent::OutboundUnsubscribe,
            SubEvent::InboundSubscribed,
            SubEvent::InboundUnsubscribed,
        ] {
            assert_eq!(
                transition(s, event).presence,
                None,
                "{event:?} {}",
                s.name()
            );
        }
    }
}

#[test]
fn section_3_pushes_show_the_documented_subscription() {
    let cases = [
        // §3.1.2: the pending request.
        (SubState::NONE, SubEvent::OutboundSubscribe, "none", true),
        // §3.1.6: the contact approved.
        (
            SubState::NONE_PENDING_OUT,
            SubEvent::InboundSubscribed,
            "to",
            false,
        ),
        (
            SubState::FROM_PENDING_OUT,
            SubEvent::InboundSubscribed,
            "both",
            false,
        ),
        // §3.2.2: the contact's subscription was cancelled.
        (
            SubState::FROM,
            SubEvent::OutboundUnsubscribed,
            "none",
            false,
        ),
        // §3.2.3: the user's subscription was cancelled.
        (SubState::TO, SubEvent::InboundUnsubscribed, "none", false),
        (SubState::BOTH, SubEvent::InboundUnsubscribed, "from", false),
        // §3.3.2: the user unsubscribed.
        (SubState::TO, SubEvent::OutboundUnsubscribe, "none", false),
        // §3.3.3: the contact unsubscribed.
        (SubState::FROM, SubEvent::InboundUnsubscribe, "none", false),
        (SubState::BOTH, SubEvent::InboundUnsubscribe, "to", false),
    ];
    for (before, event, subscription, ask) in cases {
        let t = transition(before, event);
        assert!(t.push, "{event:?} {}", before.name());
        let mut item = RosterItem::new(Jid::new("juliet@example.com").unwrap());
        t.new_state.apply_to(&mut item);
        let e = item.to_element();
        assert_eq!(e.attr("subscription"), Some(subscription), "{event:?}");
        assert_eq!(e.attr("ask"), ask.then_some("subscribe"), "{event:?}");
    }
}

#[test]
fn roster_items_and_states_convert_both_ways_appendix_a_1() {
    for s in SubState::ALL {
        for pre in [false, true] {
            let s = if pre { s.with_pre_approval() } else { s }.normalized();
            let mut item = RosterItem::new(Jid::new("juliet@example.com").unwrap());
            s.apply_to(&mut item);
            let (sub, ask) = roster_view(s.name());
            assert_eq!(item.subscription.as_str(), sub, "{}", s.name());
            assert_eq!(item.ask, ask, "{}", s.name());
            assert_eq!(item.approved, s.pre_approved, "{}", s.name());
            assert_eq!(SubState::from_item(&item, s.pending_in), s, "{}", s.name());
        }
    }
    let removed = RosterItem::removed(Jid::new("juliet@example.com").unwrap());
    assert_eq!(SubState::from_item(&removed, false), SubState::NONE);
}

#[test]
fn removing_an_item_unsubscribes_both_ways_section_2_5_2() {
    let cases = [
        (SubState::NONE, false, false),
        (SubState::NONE.with_pre_approval(), false, false),
        (SubState::TO, true, false),
        (SubState::FROM, false, true),
        (SubState::BOTH, true, true),
        // Pending requests are withdrawn or denied as well.
        (SubState::NONE_PENDING_OUT, true, false),
        (SubState::NONE_PENDING_IN, false, true),
        (SubState::NONE_PENDING_OUT_IN, true, true),
        (SubState::TO_PENDING_IN, true, true),
        (SubState::FROM_PENDING_OUT, true, true),
    ];
    for (s, unsubscribe, unsubscribed) in cases {
        assert_eq!(
            on_roster_remove(s),
            RosterRemoval {
                unsubscribe,
                unsubscribed
            },
            "{}",
            s.name()
        );
    }
}

#[test]
fn removal_stanzas_bring_the_state_to_none_section_2_5_2() {
    for s in SubState::ALL {
        let r = on_roster_remove(s);
        let mut state = s;
        if r.unsubscribe {
            let t = transition(state, SubEvent::OutboundUnsubscribe);
            assert!(t.route);
            state = t.new_state;
        }
        if r.unsubscribed {
            let t = transition(state, SubEvent::OutboundUnsubscribed);
            assert!(t.route);
            state = t.new_state;
        }
        assert_eq!(state, SubState::NONE, "{}", s.name());
    }
}

#[test]
fn presence_types_map_to_events() {
    assert_eq!(
        SubEvent::outbound("subscribe"),
        Some(SubEvent::OutboundSubscribe)
    );
    assert_eq!(
        SubEvent::outbound("unsubscribed"),
        Some(SubEvent::OutboundUnsubscribed)
    );
    assert_eq!(
        SubEvent::inbound("subscribed"),
        Some(SubEvent::InboundSubscribed)
    );
    assert_eq!(
        SubEvent::inbound("unsubscribe"),
        Some(SubEvent::InboundUnsubscribe)
    );
    assert_eq!(SubEvent::inbound("probe"), None);
    assert_eq!(SubEvent::outbound("unavailable"), None);
    assert!(SubEvent::OutboundSubscribed.is_outbound());
    assert!(!SubEvent::InboundSubscribed.is_outbound());
}

#[test]
fn pre_approval_stream_feature_of_section_3_4() {
    assert_eq!(
        pre_approval_feature().to_xml(),
        "<sub xmlns='urn:xmpp:features:pre-approval'/>"
    );
}
