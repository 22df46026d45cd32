//! Lambda `page-sign-out`: POST /sign-out: the sign-out button's post.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-sign-out").await
}
