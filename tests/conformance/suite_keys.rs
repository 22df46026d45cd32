//! `KeyVault` conformance cases: one envelope format, AES-256-GCM, context as AAD.

use konnecs::adapters::envelope;
use konnecs::ports::{EncryptionContext, KeyError, KeyVault};

fn context() -> EncryptionContext {
    EncryptionContext::new().with("org", "org-1").with("user", "user-1")
}

pub async fn encryption_round_trips(vault: &dyn KeyVault) {
    vault.ping().await.unwrap();
    let sealed = vault.encrypt(b"1//refresh-token", &context()).await.unwrap();
    assert!(
        !sealed.windows(16).any(|w| w == b"1//refresh-token"),
        "plaintext visible in the envelope"
    );
    for plaintext in [&b"1//refresh-token"[..], b"", &[0xff; 4096][..]] {
        let sealed = vault.encrypt(plaintext, &context()).await.unwrap();
        assert_eq!(vault.decrypt(&sealed, &context()).await.unwrap(), plaintext);
    }
    // An empty context is a context too.
    let sealed = vault.encrypt(b"x", &EncryptionContext::new()).await.unwrap();
    assert_eq!(vault.decrypt(&sealed, &EncryptionContext::new()).await.unwrap(), b"x");
}

pub async fn wrong_context_is_undecryptable(vault: &dyn KeyVault) {
    let sealed = vault.encrypt(b"token", &context()).await.unwrap();
    let others = [
        EncryptionContext::new().with("org", "org-2").with("user", "user-1"),
        EncryptionContext::new().with("org", "org-1"),
        context().with("extra", "x"),
        EncryptionContext::new(),
    ];
    for other in others {
        let result = vault.decrypt(&sealed, &other).await;
        assert!(matches!(result, Err(KeyError::Undecryptable)), "{other:?}: {result:?}");
    }
}

pub async fn tampered_ciphertext_is_undecryptable(vault: &dyn KeyVault) {
    let sealed = vault.encrypt(b"token", &context()).await.unwrap();
    // Flip a bit of the GCM tag, then of the ciphertext body.
    for position in [sealed.len() - 1, sealed.len() - 17] {
        let mut tampered = sealed.clone();
        tampered[position] ^= 0x01;
        let result = vault.decrypt(&tampered, &context()).await;
        assert!(
            matches!(result, Err(KeyError::Undecryptable)),
            "byte {position}: {result:?}"
        );
    }
    // A tampered wrapped data key fails too (how the backend words it may differ).
    let mut tampered = sealed.clone();
    tampered[7] ^= 0x01;
    assert!(vault.decrypt(&tampered, &context()).await.is_err());
    // Truncated or foreign bytes are malformed, not a panic.
    assert!(matches!(
        vault.decrypt(&sealed[..10], &context()).await,
        Err(KeyError::Malformed)
    ));
    assert!(matches!(
        vault.decrypt(b"not an envelope", &context()).await,
        Err(KeyError::Malformed)
    ));
}

pub async fn two_encryptions_of_the_same_plaintext_differ(vault: &dyn KeyVault) {
    let a = vault.encrypt(b"same", &context()).await.unwrap();
    let b = vault.encrypt(b"same", &context()).await.unwrap();
    assert_ne!(a, b);
    let nonce_a = envelope::parse(&a).unwrap().nonce;
    let nonce_b = envelope::parse(&b).unwrap().nonce;
    assert_ne!(nonce_a, nonce_b, "a fresh nonce per encryption");
}

pub async fn envelope_parses_with_a_12_byte_nonce(vault: &dyn KeyVault) {
    let plaintext = b"refresh-token-value";
    let sealed = vault.encrypt(plaintext, &context()).await.unwrap();
    let parts = envelope::parse(&sealed).unwrap();
    assert!(!parts.wrapped.is_empty());
    assert_eq!(parts.nonce.len(), 12);
    assert_eq!(
        parts.ciphertext.len(),
        plaintext.len() + 16,
        "AES-GCM: ciphertext plus 16-byte tag"
    );
    assert!(sealed.starts_with(b"KNX1"));
}
