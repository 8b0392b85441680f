//! RFC 6120 §4.3 stream negotiation up to a bound resource: header checks, features,
//! STARTTLS (§5), SASL (§6, in [`super::sasl`]) or SASL2 with Bind 2 (XEP-0388, XEP-0386, in
//! [`super::sasl2`]), and resource binding (§7, in [`super::bind`]).

use std::sync::Arc;

use xmpp_core::sasl::{SaslFailure, SaslProfile};
use xmpp_core::{Element, Jid, StreamErrorCondition, ns, roster, subscription};
use xmpp_stream::{StreamEvent, StreamHeader};

use super::bind::{BindOutcome, bind_resource};
use super::sasl::{Auth, authenticate, offered_mechanisms};
use super::sasl2::{self, Completed};
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
    /// Bound inline by Bind 2: the features of the bound stream follow SASL2's success
    /// (XEP-0388 §2.6.1).
    Bound,
}

/// Negotiates the stream until a resource is bound, and returns what binding produced.
pub(crate) async fn negotiate(
    server: &Arc<C2sServer>,
    stream: &mut Stream,
) -> Result<BindOutcome, End> {
    let mut account: Option<Jid> = None;
    let mut auth_failures = 0u32;
    let mut bind_failures = 0u32;
    loop {
        open_stream(server, stream).await?;
        let mut stage = match &account {
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
                (Stage::Tls, "auth", ns::SASL)
                | (Stage::Tls | Stage::Auth, "authenticate", ns::SASL2)
                    if !stream.tls =>
                {
                    // §5.3.1: TLS is mandatory-to-negotiate here and the client tried to skip
                    // it; SASL2 is never used without TLS (XEP-0388 §3).
                    let profile = profile_of(&element);
                    stream
                        .send(&profile.failure(SaslFailure::EncryptionRequired))
                        .await?;
                    auth_failures += 1;
                    check_attempts(
                        auth_failures,
                        server.config.limits.max_auth_attempts,
                        "authentication",
                    )?;
                }
                (Stage::Auth, "auth", ns::SASL) | (Stage::Auth, "authenticate", ns::SASL2) => {
                    let profile = profile_of(&element);
                    let completed = match authenticate(server, stream, &element, profile).await? {
                        Auth::Success { jid, additional } if profile == SaslProfile::Rfc6120 => {
                            stream.send(&rfc6120_success(additional)).await?;
                            account = Some(jid);
                            stream.restart();
                            break;
                        }
                        Auth::Success { jid, additional } => {
                            let completed =
                                sasl2::complete(server, stream, &element, jid.clone(), additional)
                                    .await?;
                            if let Completed::Authenticated = completed {
                                account = Some(jid);
                            }
                            completed
                        }
                        Auth::Failed => Completed::Failed,
                    };
                    match completed {
                        Completed::Bound(outcome) => {
                            // XEP-0388 §2.6.1: features follow the success, in the same write.
                            if let Err(end) =
                                stream.send(&features(server, stream, Stage::Bound)).await
                            {
                                outcome.release().await;
                                return Err(end);
                            }
                            return Ok(outcome);
                        }
                        Completed::Authenticated => {
                            // No restart: the client binds on this stream.
                            stage = Stage::Bind;
                            stream.send(&features(server, stream, stage)).await?;
                        }
                        Completed::Failed => {
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
                    // §7.1: no stanzas before a resource is bound; XEP-0388 §4.8: a second
                    // <authenticate/> after success is a stream error too.
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

/// The SASL profile a request element belongs to.
fn profile_of(request: &Element) -> SaslProfile {
    if request.ns() == ns::SASL2 {
        SaslProfile::Sasl2
    } else {
        SaslProfile::Rfc6120
    }
}

/// RFC 6120 §6.4.6: `<success/>` with the mechanism's additional data, if any.
fn rfc6120_success(additional: Option<Vec<u8>>) -> Element {
    SaslProfile::Rfc6120.data("success", additional.as_deref().unwrap_or_default())
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
    stream.client_from.clone_from(&header.from);
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
            let offered = offered_mechanisms(server, stream);
            let mut mechanisms = Element::new("mechanisms", ns::SASL);
            for m in &offered {
                mechanisms.push_child(Element::new("mechanism", ns::SASL).with_text(m.as_str()));
            }
            f.push_child(mechanisms);
            if let Some(sasl2) = sasl2::feature(stream, &offered) {
                f.push_child(sasl2);
            }
            if offered.iter().any(|m| m.is_plus()) {
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
        Stage::Bound => {
            // What still applies once bound: the informational RFC 6121 features.
            f.push_child(roster::ver_feature());
            f.push_child(subscription::pre_approval_feature());
        }
    }
    f
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
