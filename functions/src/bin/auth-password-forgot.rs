//! Lambda `auth-password-forgot`: POST /auth/password/forgot.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("auth-password-forgot").await
}
