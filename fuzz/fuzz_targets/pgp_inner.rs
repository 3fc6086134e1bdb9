//! The bytes are the *inside* of an encrypted message: they are encrypted
//! (SEIPDv1, as any sender can do with the published team key) as the raw
//! packet stream to a team key generated once per process, then handed to
//! `Keyring::decrypt`. This reaches what `pgp_decrypt` cannot: the
//! compressed / literal / one-pass-signature / signature packets an
//! attacker puts behind a valid encryption layer (compression bombs,
//! nesting, partial body lengths, bogus signatures).
#![no_main]

use std::io::Write;
use std::sync::OnceLock;

use embargo_pgp::{Cert, Keyring, generate_team_key};
use libfuzzer_sys::fuzz_target;
use sequoia_openpgp::policy::StandardPolicy;
use sequoia_openpgp::serialize::stream::{Encryptor, Message};

const MAX_PLAINTEXT: usize = 1 << 20;
static POLICY: StandardPolicy<'static> = StandardPolicy::new();

struct Fixture {
    keyring: Keyring,
    public: Cert,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = generate_team_key("Embargo Fuzz <security@fuzz.example>")
            .unwrap_or_else(|e| panic!("generate_team_key: {e}"));
        let keyring = Keyring::new(vec![key]).unwrap_or_else(|e| panic!("Keyring::new: {e}"));
        let public = keyring.public_cert();
        Fixture { keyring, public }
    })
}

fn encrypt_raw(public: &Cert, inner: &[u8]) -> Option<Vec<u8>> {
    let vc = public.with_policy(&POLICY, None).ok()?;
    let recipients = vc
        .keys()
        .supported()
        .alive()
        .revoked(false)
        .for_transport_encryption();
    let mut sink = Vec::new();
    let message = Message::new(&mut sink);
    let mut message = Encryptor::for_recipients(message, recipients)
        .build()
        .ok()?;
    message.write_all(inner).ok()?;
    message.finalize().ok()?;
    Some(sink)
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some(message) = encrypt_raw(&f.public, data) else {
        panic!("encrypting {} bytes to the team key failed", data.len());
    };
    // The team key itself is a known sender, so signature checks run.
    let senders = [f.public.clone()];
    if let Ok(decrypted) = f.keyring.decrypt(&message, &senders, MAX_PLAINTEXT) {
        assert!(decrypted.plaintext.len() <= MAX_PLAINTEXT);
        assert_eq!(decrypted.decrypted_with, f.keyring.fingerprint());
    }
});
