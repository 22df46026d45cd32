//! Lambda `org-update`: PATCH /org.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("org-update").await
}
