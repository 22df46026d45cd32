//! Lambda `auth-signup`: POST /auth/signup.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("auth-signup").await
}
