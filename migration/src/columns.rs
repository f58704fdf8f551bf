//! What the migrations' tables share: the id column and named indexes.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// A 64-bit id the database assigns.
pub fn id() -> ColumnDef {
    big_integer("id").auto_increment().primary_key().take()
}

pub fn index(table: &'static str, name: &'static str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table).if_not_exists();
    for column in columns {
        index.col(*column);
    }
    index.take()
}
