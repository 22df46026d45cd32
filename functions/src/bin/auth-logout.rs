//! Lambda `auth-logout`: POST /auth/logout.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("auth-logout").await
}
