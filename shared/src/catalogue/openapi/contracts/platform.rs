//! The operations of the platform area's HTTP entries.

use super::super::{Operation, Schemas};

pub(in crate::catalogue::openapi) fn operation(name: &str, schemas: &mut Schemas) -> Option<Operation> {
    let _ = schemas;
    match name {
        _ => None,
    }
}
