//! What the migrations' tables share: the id column, named indexes, added columns.
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

/// Adds `columns` (name, SQL definition) to `table`, one statement each (SQLite adds one at a time).
pub async fn add_columns(manager: &SchemaManager<'_>, table: &str, columns: &[(&str, &str)]) -> Result<(), DbErr> {
    for (column, definition) in columns {
        manager
            .get_connection()
            .execute_unprepared(&format!("ALTER TABLE {table} ADD COLUMN {column} {definition}"))
            .await?;
    }
    Ok(())
}

pub async fn drop_columns(manager: &SchemaManager<'_>, table: &str, columns: &[(&str, &str)]) -> Result<(), DbErr> {
    for (column, _) in columns {
        manager.get_connection().execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN {column}")).await?;
    }
    Ok(())
}
