//! Lambda `auth-logout-all`: POST /auth/logout-all.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("auth-logout-all").await
}
