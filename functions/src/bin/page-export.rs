//! Lambda `page-export`: GET /app/exports/{id}: an export's progress page.
#[tokio::main]
async fn main() -> Result<(), konnecs::lambda::Error> {
    konnecs::lambda::run("page-export").await
}
