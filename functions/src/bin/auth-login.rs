//! Lambda `auth-login`: POST /auth/login.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("auth-login").await
}
