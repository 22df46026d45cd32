//! Lambda `org-get`: GET /org.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("org-get").await
}
