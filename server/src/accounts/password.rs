//! Password hashing: Argon2id in PHC strings, off the async runtime, a few at a time.
//!
//! A hash costs [`ARGON2_MEMORY_KIB`] of memory and tens of milliseconds of a core, on purpose.
//! So it runs on the blocking pool, never on a runtime worker, and at most
//! [`MAX_CONCURRENT_HASHES`] at once: a burst of logins waits its turn rather than taking all
//! the memory or every core.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use protocol::{ErrorCode, Password, RequestError};
use tokio::sync::Semaphore;

use crate::limits::{ARGON2_ITERATIONS, ARGON2_MEMORY_KIB, MAX_CONCURRENT_HASHES};

static HASHING: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(MAX_CONCURRENT_HASHES));

/// Argon2id with OWASP's first recommended setting (19 MiB, 2 passes, 1 lane).
fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, 1, None)
        .unwrap_or_else(|_| Params::default());
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of `password` with a fresh random salt.
pub async fn hash(password: &Password) -> Result<String, RequestError> {
    let password = password.clone();
    blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| {
                tracing::error!(error = %e, "hashing a password failed");
                failed()
            })
    })
    .await
}

/// Whether `password` matches the PHC string `stored`. The comparison is the argon2 crate's,
/// in constant time. A stored string that does not parse matches nothing (and is logged).
pub async fn verify(password: &Password, stored: &str) -> Result<bool, RequestError> {
    let (password, stored) = (password.clone(), stored.to_owned());
    blocking(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            tracing::error!("an account's stored password hash is unreadable");
            return Ok(false);
        };
        // Verified with the parameters the hash was made with (they may be older ones).
        Ok(Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok())
    })
    .await
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RequestError> + Send + 'static,
) -> Result<T, RequestError> {
    let _turn = HASHING.acquire().await.map_err(|_| failed())?;
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|_| Err(failed()))
}

fn failed() -> RequestError {
    RequestError::new(ErrorCode::ServerBusy, "the server could not check the password; try again")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_argon2id_phc_and_verifies_only_its_password() {
        let password = Password::parse("correct horse").unwrap();
        let stored = hash(&password).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(!stored.contains("correct"));
        assert!(verify(&password, &stored).await.unwrap());
        assert!(!verify(&Password::parse("correct horsE").unwrap(), &stored).await.unwrap());
        assert!(!verify(&password, "not a hash").await.unwrap());
        let again = hash(&password).await.unwrap();
        assert_ne!(stored, again, "each hash has its own salt");
    }
}
