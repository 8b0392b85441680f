//! One SASL exchange on the wire, in either profile (RFC 6120 §6 or XEP-0388), driving the
//! I/O-free mechanisms of `xmpp_core::sasl` and looking credentials up in the account store.

use storage::AccountName;
use xmpp_core::sasl::{
    ChannelBinding, DEFAULT_DECOY_ITERATIONS, Mechanism, SaslFailure, SaslProfile, ScramServer,
    parse_plain, verify_plain,
};
use xmpp_core::{Element, Jid};

use super::stream::{End, Stream};
use crate::server::C2sServer;

/// The result of one `<auth/>` or `<authenticate/>` exchange.
#[derive(Debug)]
pub(crate) enum Auth {
    /// Authenticated as this bare JID; the mechanism's additional data for the client, if
    /// any. The caller sends the profile's `<success/>`.
    Success {
        jid: Jid,
        additional: Option<Vec<u8>>,
    },
    /// A `<failure/>` was sent; the client may retry.
    Failed,
}

/// Mechanisms offered on `stream`, strongest first. PLAIN only under TLS (RFC 6120 §13.8);
/// -PLUS only with tls-exporter data (TLS 1.3, RFC 9266).
pub(crate) fn offered_mechanisms(server: &C2sServer, stream: &Stream) -> Vec<Mechanism> {
    server
        .config
        .sasl_mechanisms
        .iter()
        .filter_map(|name| Mechanism::from_name(name))
        .filter(|m| match m {
            Mechanism::Plain => stream.tls,
            m if m.is_plus() => stream.tls_exporter.is_some(),
            _ => true,
        })
        .collect()
}

/// Runs the exchange that `request` starts (RFC 6120 §6.4.2 – §6.4.6, XEP-0388 §2.3 –
/// §2.6), up to but not including the `<success/>`.
pub(crate) async fn authenticate(
    server: &C2sServer,
    stream: &mut Stream,
    request: &Element,
    profile: SaslProfile,
) -> Result<Auth, End> {
    let offered = offered_mechanisms(server, stream);
    let mechanism = request.attr("mechanism").and_then(Mechanism::from_name);
    let Some(mechanism) = mechanism.filter(|m| offered.contains(m)) else {
        return fail(stream, profile, SaslFailure::InvalidMechanism).await;
    };
    let initial = match profile.initial_response(request) {
        Ok(Some(data)) => data,
        Ok(None) => {
            // Both PLAIN and SCRAM are client-first: ask for the initial response.
            stream.send(&profile.data("challenge", &[])).await?;
            match read_response(stream, profile).await? {
                Ok(data) => data,
                Err(failure) => return fail(stream, profile, failure).await,
            }
        }
        Err(failure) => return fail(stream, profile, failure).await,
    };
    let result = if mechanism == Mechanism::Plain {
        plain(server, stream, profile, &initial).await
    } else {
        scram(server, stream, profile, mechanism, &initial).await?
    };
    match result {
        Ok((jid, additional)) => {
            tracing::info!(%jid, mechanism = mechanism.as_str(), "authenticated");
            Ok(Auth::Success { jid, additional })
        }
        Err(failure) => fail(stream, profile, failure).await,
    }
}

type Outcome = Result<(Jid, Option<Vec<u8>>), SaslFailure>;

/// RFC 4616 PLAIN, verified against the stored SCRAM keys (the password is never stored).
async fn plain(
    server: &C2sServer,
    stream: &Stream,
    profile: SaslProfile,
    message: &[u8],
) -> Outcome {
    let request = parse_plain(message)?;
    let (name, jid) = account(server, &request.username)?;
    check_authzid(request.authzid.as_deref(), &jid, stream, profile)?;
    for hash in xmpp_core::sasl::ScramHash::ALL {
        match server.accounts.credentials(&name, hash).await {
            Ok(Some(creds)) => {
                return if verify_plain(&request, &creds) {
                    Ok((jid, None))
                } else {
                    Err(SaslFailure::NotAuthorized)
                };
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "account store unavailable during authentication");
                return Err(SaslFailure::TemporaryAuthFailure);
            }
        }
    }
    Err(SaslFailure::NotAuthorized)
}

/// SCRAM (RFC 5802 / RFC 7677), with channel binding for the -PLUS variants.
async fn scram(
    server: &C2sServer,
    stream: &mut Stream,
    profile: SaslProfile,
    mechanism: Mechanism,
    first: &[u8],
) -> Result<Outcome, End> {
    let cb = match &stream.tls_exporter {
        Some(data) => ChannelBinding::TlsExporter {
            data: data.clone(),
            advertised_plus: offered_mechanisms(server, stream)
                .iter()
                .any(|m| m.is_plus()),
        },
        None => ChannelBinding::Unsupported,
    };
    let mut scram = ScramServer::new(mechanism, cb)
        .with_decoy(&server.scram_decoy_secret, DEFAULT_DECOY_ITERATIONS);
    let client_first = match scram.handle_client_first(first) {
        Ok(c) => c,
        Err(f) => return Ok(Err(f)),
    };
    let (name, jid) = match account(server, &client_first.username) {
        Ok(v) => v,
        Err(f) => return Ok(Err(f)),
    };
    if let Err(f) = check_authzid(client_first.authzid.as_deref(), &jid, stream, profile) {
        return Ok(Err(f));
    }
    let Some(hash) = mechanism.hash() else {
        return Ok(Err(SaslFailure::InvalidMechanism));
    };
    let creds = match server.accounts.credentials(&name, hash).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "account store unavailable during authentication");
            return Ok(Err(SaslFailure::TemporaryAuthFailure));
        }
    };
    let challenge = scram.server_first(creds);
    stream.send(&profile.data("challenge", &challenge)).await?;
    let client_final = match read_response(stream, profile).await? {
        Ok(data) => data,
        Err(f) => return Ok(Err(f)),
    };
    Ok(scram
        .handle_client_final(&client_final)
        .map(|server_final| (jid, Some(server_final))))
}

/// Reads a `<response/>` (or `<abort/>`, RFC 6120 §6.4.4, XEP-0388 §4.5). Anything else
/// ends the stream (XEP-0388 §2.4: "Servers MUST disconnect Clients immediately if any other
/// traffic is received").
async fn read_response(
    stream: &mut Stream,
    profile: SaslProfile,
) -> Result<Result<Vec<u8>, SaslFailure>, End> {
    let e = stream.next_element().await?;
    if e.is("abort", profile.ns()) {
        return Ok(Err(SaslFailure::Aborted));
    }
    if !e.is("response", profile.ns()) {
        return Err(End::error(
            xmpp_core::StreamErrorCondition::NotAuthorized,
            "expected a SASL response",
        ));
    }
    Ok(xmpp_core::sasl::decode_data(&e.text()))
}

/// The account a SASL username names on this server.
fn account(server: &C2sServer, username: &str) -> Result<(AccountName, Jid), SaslFailure> {
    let jid = Jid::from_parts(Some(username), &server.config.domain, None)
        .map_err(|_| SaslFailure::NotAuthorized)?;
    let name = AccountName {
        localpart: jid.local().unwrap_or_default().to_owned(),
        domain: jid.domain().to_owned(),
    };
    Ok((name, jid))
}

/// RFC 6120 §6.4.6: we do not support acting on behalf of another identity, so an authzid
/// must name the authenticated account itself. XEP-0388 §2.3 and §4.4 add that in SASL2 a non-empty
/// one must also match the stream header's 'from', if there was one.
fn check_authzid(
    authzid: Option<&str>,
    jid: &Jid,
    stream: &Stream,
    profile: SaslProfile,
) -> Result<(), SaslFailure> {
    let Some(authzid) = authzid.filter(|a| !a.is_empty()) else {
        return Ok(());
    };
    let authzid = Jid::new(authzid).map_err(|_| SaslFailure::InvalidAuthzid)?;
    if &authzid != jid {
        return Err(SaslFailure::InvalidAuthzid);
    }
    match (profile, &stream.client_from) {
        (SaslProfile::Sasl2, Some(from)) if Jid::new(from).ok() != Some(authzid) => {
            Err(SaslFailure::InvalidAuthzid)
        }
        _ => Ok(()),
    }
}

async fn fail(
    stream: &mut Stream,
    profile: SaslProfile,
    failure: SaslFailure,
) -> Result<Auth, End> {
    tracing::debug!(condition = failure.as_str(), "authentication failed");
    stream.send(&profile.failure(failure)).await?;
    Ok(Auth::Failed)
}
