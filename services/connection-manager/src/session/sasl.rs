//! RFC 6120 §6: one SASL exchange on the wire, driving the I/O-free mechanisms of
//! `xmpp_core::sasl` and looking credentials up in the account store.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use storage::AccountName;
use xmpp_core::sasl::{
    ChannelBinding, DEFAULT_DECOY_ITERATIONS, Mechanism, SaslFailure, ScramServer, parse_plain,
    verify_plain,
};
use xmpp_core::{Element, Jid, ns};

use super::negotiate::sasl_failure;
use super::stream::{End, Stream};
use crate::server::C2sServer;

/// The result of one `<auth/>` exchange.
#[derive(Debug)]
pub(crate) enum Auth {
    /// Authenticated as this bare JID.
    Success(Jid),
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

/// Runs the exchange that `auth` starts (§6.4.2 – §6.4.6).
pub(crate) async fn authenticate(
    server: &C2sServer,
    stream: &mut Stream,
    auth: &Element,
) -> Result<Auth, End> {
    let offered = offered_mechanisms(server, stream);
    let mechanism = auth.attr("mechanism").and_then(Mechanism::from_name);
    let Some(mechanism) = mechanism.filter(|m| offered.contains(m)) else {
        return fail(stream, SaslFailure::InvalidMechanism).await;
    };
    // §6.4.2: "=" is an empty initial response; no text is no initial response at all.
    let initial = match auth.text().trim() {
        "" => None,
        "=" => Some(Vec::new()),
        b64 => match BASE64.decode(b64) {
            Ok(v) => Some(v),
            Err(_) => return fail(stream, SaslFailure::IncorrectEncoding).await,
        },
    };
    let initial = match initial {
        Some(data) => data,
        None => {
            // Both PLAIN and SCRAM are client-first: ask for the initial response.
            stream.send(&Element::new("challenge", ns::SASL)).await?;
            match read_response(stream).await? {
                Ok(data) => data,
                Err(failure) => return fail(stream, failure).await,
            }
        }
    };
    let result = if mechanism == Mechanism::Plain {
        plain(server, &initial).await
    } else {
        scram(server, stream, mechanism, &initial).await?
    };
    match result {
        Ok((jid, additional)) => {
            let mut success = Element::new("success", ns::SASL);
            if let Some(data) = additional {
                success.push_text(BASE64.encode(data));
            }
            stream.send(&success).await?;
            tracing::info!(%jid, mechanism = mechanism.as_str(), "authenticated");
            Ok(Auth::Success(jid))
        }
        Err(failure) => fail(stream, failure).await,
    }
}

type Outcome = Result<(Jid, Option<Vec<u8>>), SaslFailure>;

/// RFC 4616 PLAIN, verified against the stored SCRAM keys (the password is never stored).
async fn plain(server: &C2sServer, message: &[u8]) -> Outcome {
    let request = parse_plain(message)?;
    let (name, jid) = account(server, &request.username)?;
    check_authzid(request.authzid.as_deref(), &jid)?;
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
    if let Err(f) = check_authzid(client_first.authzid.as_deref(), &jid) {
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
    stream
        .send(&Element::new("challenge", ns::SASL).with_text(BASE64.encode(challenge)))
        .await?;
    let client_final = match read_response(stream).await? {
        Ok(data) => data,
        Err(f) => return Ok(Err(f)),
    };
    Ok(scram
        .handle_client_final(&client_final)
        .map(|server_final| (jid, Some(server_final))))
}

/// Reads a `<response/>` (or `<abort/>`, §6.4.4).
async fn read_response(stream: &mut Stream) -> Result<Result<Vec<u8>, SaslFailure>, End> {
    let e = stream.next_element().await?;
    if e.is("abort", ns::SASL) {
        return Ok(Err(SaslFailure::Aborted));
    }
    if !e.is("response", ns::SASL) {
        return Err(End::error(
            xmpp_core::StreamErrorCondition::NotAuthorized,
            "expected a SASL response",
        ));
    }
    let text = e.text();
    let text = text.trim();
    if text.is_empty() || text == "=" {
        return Ok(Ok(Vec::new()));
    }
    Ok(BASE64
        .decode(text)
        .map_err(|_| SaslFailure::IncorrectEncoding))
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

/// §6.4.6: we do not support acting on behalf of another identity, so an authzid must name the
/// authenticated account itself.
fn check_authzid(authzid: Option<&str>, jid: &Jid) -> Result<(), SaslFailure> {
    match authzid {
        None | Some("") => Ok(()),
        Some(a) => match Jid::new(a) {
            Ok(z) if &z == jid => Ok(()),
            _ => Err(SaslFailure::InvalidAuthzid),
        },
    }
}

async fn fail(stream: &mut Stream, failure: SaslFailure) -> Result<Auth, End> {
    tracing::debug!(condition = failure.as_str(), "authentication failed");
    stream.send(&sasl_failure(failure.as_str())).await?;
    Ok(Auth::Failed)
}
