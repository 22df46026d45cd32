//! Lambda `auth-password-reset`: POST /auth/password/reset.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("auth-password-reset").await
}
