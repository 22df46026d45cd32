//! Lambda `page-sign-out-everywhere`: POST /app/profile/sign-out-everywhere: the sign-out-everywhere button.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-sign-out-everywhere").await
}
