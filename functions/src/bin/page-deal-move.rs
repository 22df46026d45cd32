//! Lambda `page-deal-move`: POST /app/deals/{id}/move: a board card's Move-to form.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-deal-move").await
}
