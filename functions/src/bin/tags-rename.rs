//! Lambda `tags-rename`: PATCH /tags/{tag}.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("tags-rename").await
}
