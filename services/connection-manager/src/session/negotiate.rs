//! RFC 6120 §4.3 stream negotiation up to a bound resource: header checks, features,
//! STARTTLS (§5), SASL (§6, in [`super::sasl`]) and resource binding (§7, in [`super::bind`]).

use xmpp_core::{Element, Jid, StreamErrorCondition, ns, roster, subscription};
use xmpp_stream::{StreamEvent, StreamHeader};

use super::bind::{BindOutcome, bind_resource};
use super::sasl::{Auth, authenticate, offered_mechanisms};
use super::stream::{End, Stream, random_id, response_header};
use crate::server::C2sServer;

/// Which feature negotiation needs next on the current stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// TLS is required and not yet negotiated: only STARTTLS is offered (§5.3.1).
    Tls,
    /// Authentication next.
    Auth,
    /// Authenticated: resource binding next.
    Bind,
}

/// Negotiates the stream until a resource is bound, and returns what binding produced.
pub(crate) async fn negotiate(server: &C2sServer, stream: &mut Stream) -> Result<BindOutcome, End> {
    let mut account: Option<Jid> = None;
    let mut auth_failures = 0u32;
    let mut bind_failures = 0u32;
    loop {
        open_stream(server, stream).await?;
        let stage = match &account {
            Some(_) => Stage::Bind,
            None if !stream.tls && server.config.tls.required => Stage::Tls,
            None => Stage::Auth,
        };
        stream.send(&features(server, stream, stage)).await?;
        // Read elements until a stream restart or binding.
        loop {
            let element = stream.next_element().await?;
            match (stage, element.name(), element.ns()) {
                (Stage::Tls | Stage::Auth, "starttls", ns::TLS) if !stream.tls => {
                    stream.send(&Element::new("proceed", ns::TLS)).await?;
                    stream.upgrade_tls(&server.tls_acceptor).await?;
                    break;
                }
                (Stage::Tls, "auth", ns::SASL) => {
                    // §5.3.1: TLS is mandatory-to-negotiate here and the client tried to skip it.
                    stream.send(&sasl_failure("encryption-required")).await?;
                    auth_failures += 1;
                    check_attempts(
                        auth_failures,
                        server.config.limits.max_auth_attempts,
                        "authentication",
                    )?;
                }
                (Stage::Auth, "auth", ns::SASL) => {
                    match authenticate(server, stream, &element).await? {
                        Auth::Success(jid) => {
                            account = Some(jid);
                            stream.restart();
                            break;
                        }
                        Auth::Failed => {
                            auth_failures += 1;
                            check_attempts(
                                auth_failures,
                                server.config.limits.max_auth_attempts,
                                "authentication",
                            )?;
                        }
                    }
                }
                (Stage::Bind, "iq", ns::JABBER_CLIENT) => {
                    let Some(account) = &account else {
                        return Err(End::Gone);
                    };
                    match bind_resource(server, stream, account, element).await? {
                        Some(outcome) => return Ok(outcome),
                        None => {
                            bind_failures += 1;
                            check_attempts(
                                bind_failures,
                                server.config.limits.max_bind_attempts,
                                "resource binding",
                            )?;
                        }
                    }
                }
                (Stage::Bind, _, _) => {
                    // §7.1: no stanzas before a resource is bound.
                    return Err(End::error(
                        StreamErrorCondition::NotAuthorized,
                        "bind a resource first",
                    ));
                }
                _ => {
                    // §4.9.3.12: stanzas or unknown nonzas before authentication.
                    return Err(End::error(
                        StreamErrorCondition::NotAuthorized,
                        "authenticate first",
                    ));
                }
            }
        }
    }
}

/// Reads the client's stream header, checks it and answers with ours.
async fn open_stream(server: &C2sServer, stream: &mut Stream) -> Result<(), End> {
    let header = match stream.next_event().await? {
        StreamEvent::Open(h) => h,
        StreamEvent::Keepalive => return Box::pin(open_stream(server, stream)).await,
        _ => {
            return Err(End::error(
                StreamErrorCondition::NotWellFormed,
                "expected a stream header",
            ));
        }
    };
    let id = random_id();
    // Answer first: a stream error must follow our own header (§4.9.1.2), and the header
    // carries the stream id the client may need for logging.
    stream
        .send_header(&response_header(
            &server.config.domain,
            header.from.clone(),
            Some(id),
        ))
        .await?;
    check_header(server, &header)
}

/// RFC 6120 §4.7 and §4.9.3: the checks on a client's stream header.
fn check_header(server: &C2sServer, header: &StreamHeader) -> Result<(), End> {
    header.check_version().map_err(End::Error)?;
    if header.content_ns != ns::JABBER_CLIENT {
        return Err(End::error(
            StreamErrorCondition::InvalidNamespace,
            "client streams use the jabber:client namespace",
        ));
    }
    let Some(to) = &header.to else {
        // §4.7.2 says a client SHOULD address its stream; like the major servers we need it to
        // know which domain is meant.
        return Err(End::error(
            StreamErrorCondition::HostUnknown,
            "the stream header needs a 'to' address",
        ));
    };
    let served = xmpp_core::jid::normalize_domainpart(to).is_ok_and(|d| d == server.config.domain);
    if !served {
        return Err(End::error(
            StreamErrorCondition::HostUnknown,
            format!("this server does not serve {to}"),
        ));
    }
    Ok(())
}

/// The `<stream:features/>` of a stage (§4.3.2).
fn features(server: &C2sServer, stream: &Stream, stage: Stage) -> Element {
    let mut f = Element::new("features", ns::STREAM);
    match stage {
        Stage::Tls => {
            f.push_child(
                Element::new("starttls", ns::TLS).with_child(Element::new("required", ns::TLS)),
            );
        }
        Stage::Auth => {
            if !stream.tls {
                f.push_child(Element::new("starttls", ns::TLS));
            }
            let mut mechanisms = Element::new("mechanisms", ns::SASL);
            for m in offered_mechanisms(server, stream) {
                mechanisms.push_child(Element::new("mechanism", ns::SASL).with_text(m.as_str()));
            }
            f.push_child(mechanisms);
            if offered_mechanisms(server, stream)
                .iter()
                .any(|m| m.is_plus())
            {
                // XEP-0440: tell the client which channel-binding type the -PLUS mechanisms use.
                f.push_child(
                    Element::new("sasl-channel-binding", ns::SASL_CB).with_child(
                        Element::new("channel-binding", ns::SASL_CB)
                            .with_attr("type", "tls-exporter"),
                    ),
                );
            }
        }
        Stage::Bind => {
            f.push_child(Element::new("bind", ns::BIND));
            // RFC 6121 §2.6.1 roster versioning and §3.4 subscription pre-approval.
            f.push_child(roster::ver_feature());
            f.push_child(subscription::pre_approval_feature());
            // RFC 6121 predecessor's session establishment, optional since RFC 6120; advertised
            // so that old clients do not fail, marked optional so that new ones skip it.
            f.push_child(
                Element::new("session", ns::SESSION)
                    .with_child(Element::new("optional", ns::SESSION)),
            );
        }
    }
    f
}

/// `<failure xmlns='…sasl'><condition/></failure>` (§6.5).
pub(crate) fn sasl_failure(condition: &str) -> Element {
    Element::new("failure", ns::SASL).with_child(Element::new(condition, ns::SASL))
}

/// Closes the stream with `<policy-violation/>` once a retry budget is spent (§6.4.5, §7.7.3).
fn check_attempts(failures: u32, max: u32, what: &str) -> Result<(), End> {
    if failures >= max {
        return Err(End::error(
            StreamErrorCondition::PolicyViolation,
            format!("too many failed {what} attempts"),
        ));
    }
    Ok(())
}
