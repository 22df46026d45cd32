//! Lambda `page-deal-create`: POST /app/contacts/{id}/deals: the record's new-deal form.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-deal-create").await
}
