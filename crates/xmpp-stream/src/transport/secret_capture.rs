//! Capturing a TLS 1.3 handshake's application traffic secrets, which rustls's exported
//! keys leave out and a key change (RFC 8446 §7.2) derives from.
//!
//! rustls hands secrets out only through its key log, one log for every connection of a
//! configuration. The log installed here keeps nothing of its own: it writes into a slot
//! of the calling thread, which [`capturing`] opens around one call into rustls and closes
//! before that call returns. rustls derives and logs the secrets synchronously inside
//! `process_new_packets`, so what the slot holds afterwards is that connection's, whatever
//! other handshakes the thread or the process runs at other times. Outside a capture the
//! log only passes secrets on to the key log the operator configured (none by default).

use std::cell::RefCell;
use std::sync::Arc;

use rustls::KeyLog;
use zeroize::Zeroizing;

const CLIENT_TRAFFIC_SECRET_0: &str = "CLIENT_TRAFFIC_SECRET_0";
const SERVER_TRAFFIC_SECRET_0: &str = "SERVER_TRAFFIC_SECRET_0";

/// The first application traffic secrets of one TLS 1.3 handshake, as far as captured.
#[derive(Default)]
pub(super) struct Captured {
    pub(super) client: Option<Zeroizing<Vec<u8>>>,
    pub(super) server: Option<Zeroizing<Vec<u8>>>,
}

thread_local! {
    static SLOT: RefCell<Option<Captured>> = const { RefCell::new(None) };
}

/// The key log of configurations whose connections end in compact sessions.
#[derive(Debug)]
pub(super) struct SecretCapture {
    /// The configuration's own key log, still given every secret.
    inner: Arc<dyn KeyLog>,
}

impl SecretCapture {
    pub(super) fn new(inner: Arc<dyn KeyLog>) -> Self {
        Self { inner }
    }
}

impl KeyLog for SecretCapture {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        SLOT.with(|slot| {
            if let Some(captured) = slot.borrow_mut().as_mut() {
                let secret = Some(Zeroizing::new(secret.to_vec()));
                match label {
                    CLIENT_TRAFFIC_SECRET_0 => captured.client = secret,
                    SERVER_TRAFFIC_SECRET_0 => captured.server = secret,
                    _ => {}
                }
            }
        });
        if self.inner.will_log(label) {
            self.inner.log(label, client_random, secret);
        }
    }

    fn will_log(&self, label: &str) -> bool {
        matches!(label, CLIENT_TRAFFIC_SECRET_0 | SERVER_TRAFFIC_SECRET_0)
            || self.inner.will_log(label)
    }
}

/// Runs `f` (one call into rustls) with this thread's slot open, and adds what was logged
/// meanwhile to `into`. The slot is closed even if `f` panics.
pub(super) fn capturing<R>(into: &mut Captured, f: impl FnOnce() -> R) -> R {
    struct Close;
    impl Drop for Close {
        fn drop(&mut self) {
            SLOT.with(|slot| slot.borrow_mut().take());
        }
    }
    SLOT.with(|slot| *slot.borrow_mut() = Some(Captured::default()));
    let close = Close;
    let result = f();
    if let Some(got) = SLOT.with(|slot| slot.borrow_mut().take()) {
        into.client = got.client.or(into.client.take());
        into.server = got.server.or(into.server.take());
    }
    drop(close);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Recorded(std::sync::Mutex<Vec<String>>);

    impl KeyLog for Recorded {
        fn log(&self, label: &str, _: &[u8], _: &[u8]) {
            self.0.lock().unwrap().push(label.to_owned());
        }
    }

    #[test]
    fn only_what_is_logged_inside_a_capture_is_kept_and_the_inner_log_sees_everything() {
        let inner = Arc::new(Recorded::default());
        let log = SecretCapture::new(inner.clone());
        log.log(CLIENT_TRAFFIC_SECRET_0, &[0; 32], b"outside");
        let mut captured = Captured::default();
        capturing(&mut captured, || {
            log.log("CLIENT_HANDSHAKE_TRAFFIC_SECRET", &[0; 32], b"handshake");
            log.log(SERVER_TRAFFIC_SECRET_0, &[0; 32], b"server");
        });
        capturing(&mut captured, || {
            log.log(CLIENT_TRAFFIC_SECRET_0, &[0; 32], b"client");
        });
        log.log(SERVER_TRAFFIC_SECRET_0, &[0; 32], b"after");
        assert_eq!(
            captured.server.as_deref().map(Vec::as_slice),
            Some(&b"server"[..])
        );
        assert_eq!(
            captured.client.as_deref().map(Vec::as_slice),
            Some(&b"client"[..])
        );
        assert_eq!(inner.0.lock().unwrap().len(), 5);
    }

    #[test]
    fn a_panic_inside_a_capture_closes_the_slot() {
        let log = SecretCapture::new(Arc::new(rustls::NoKeyLog));
        let mut captured = Captured::default();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            capturing(&mut captured, || panic!("inside rustls"))
        }));
        assert!(panicked.is_err());
        log.log(CLIENT_TRAFFIC_SECRET_0, &[0; 32], b"later");
        assert!(SLOT.with(|slot| slot.borrow().is_none()));
        assert!(captured.client.is_none());
    }
}
