//! Lambda `auth-csrf`: GET /auth/csrf.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("auth-csrf").await
}
