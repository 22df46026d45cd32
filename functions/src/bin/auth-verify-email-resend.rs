//! Lambda `auth-verify-email-resend`: POST /auth/verify-email/resend.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("auth-verify-email-resend").await
}
