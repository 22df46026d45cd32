//! Lambda `auth-verify-email`: POST /auth/verify-email.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("auth-verify-email").await
}
