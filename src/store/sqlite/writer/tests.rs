use super::*;

fn writer() -> (tempfile::TempDir, SqliteWriter) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let writer = SqliteWriter::open(&dir.path().join("w.db"), Duration::from_secs(1), Arc::default()).unwrap();
    writer
        .state()
        .connection
        .execute_batch(
            "CREATE TABLE t (id integer NOT NULL PRIMARY KEY, flag boolean NOT NULL, name varchar NOT NULL,
                             note text NULL, n integer NULL)",
        )
        .unwrap();
    (dir, writer)
}

fn insert(id: i64) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "INSERT INTO t (id, flag, name, note, n) VALUES (?, ?, ?, ?, ?)",
        [Value::BigInt(Some(id)), Value::Bool(Some(true)), "x".into(), Value::String(None), Value::BigInt(None)],
    )
}

fn count(writer: &SqliteWriter) -> i64 {
    writer.state().connection.query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0)).unwrap()
}

#[test]
fn rows_come_back_typed_by_their_declared_columns() {
    let (_dir, mut writer) = writer();
    let inserted = writer.execute(0, insert(7)).unwrap();
    assert_eq!((inserted.last_insert_id(), inserted.rows_affected()), (7, 1));
    let select = Statement::from_string(DbBackend::Sqlite, "SELECT id, flag, name, note, n FROM t");
    let rows = writer.query(0, select).unwrap();
    let row = &rows[0];
    assert_eq!(row.try_get::<i64>("", "id").unwrap(), 7);
    assert!(row.try_get::<bool>("", "flag").unwrap());
    assert_eq!(row.try_get::<String>("", "name").unwrap(), "x");
    assert_eq!(row.try_get::<Option<String>>("", "note").unwrap(), None);
    assert_eq!(row.try_get::<Option<i64>>("", "n").unwrap(), None);
}

#[test]
fn a_statement_with_a_bound_limit_is_prepared_once() {
    let (_dir, mut writer) = writer();
    writer.execute(0, insert(1)).unwrap();
    let sql = "SELECT id FROM t WHERE id = ? LIMIT ?";
    for limit in [1, 2, 1] {
        let one = Statement::from_sql_and_values(DbBackend::Sqlite, sql, [1i64.into(), Value::BigInt(Some(limit))]);
        assert_eq!(writer.query(0, one).unwrap().len(), 1);
    }
    let state = writer.state();
    let prepared = state.connection.prepare_cached(sql).unwrap();
    assert_eq!(prepared.get_status(rusqlite::StatementStatus::RePrepare), 0, "planned anew for a LIMIT value");
}

#[test]
fn savepoint_journals_are_kept_in_memory() {
    let (_dir, writer) = writer();
    let temp_store: i64 = writer.state().connection.query_row("PRAGMA temp_store", [], |row| row.get(0)).unwrap();
    // 0, SQLite's default, spills a savepoint's journal past 64 kB to a file.
    assert_eq!(temp_store, 2);
}

/// A batch with row 1 written, and a savepoint opened in it.
fn batch_in_savepoint() -> (tempfile::TempDir, SqliteWriter) {
    let (dir, mut writer) = writer();
    writer.begin_batch().unwrap();
    writer.execute(0, insert(1)).unwrap();
    MockDatabaseTrait::begin(&mut writer);
    (dir, writer)
}

#[test]
fn a_savepoint_rolled_back_takes_only_its_own_writes() {
    let (_dir, mut writer) = batch_in_savepoint();
    writer.execute(0, insert(2)).unwrap();
    MockDatabaseTrait::rollback(&mut writer);
    MockDatabaseTrait::begin(&mut writer);
    writer.execute(0, insert(3)).unwrap();
    MockDatabaseTrait::commit(&mut writer);
    writer.commit_batch().unwrap();
    assert_eq!(count(&writer), 2);
}

#[test]
fn a_failed_savepoint_statement_rolls_the_whole_batch_back() {
    let (_dir, mut writer) = batch_in_savepoint();
    // RELEASE of a savepoint that does not exist fails, as one can.
    writer.state().depth = 5;
    MockDatabaseTrait::commit(&mut writer);
    assert!(writer.failed());
    assert!(writer.execute(0, insert(2)).is_err(), "nothing runs after a failed savepoint statement");
    assert!(writer.commit_batch().is_err());
    assert_eq!(count(&writer), 0, "none of the batch is committed");
    writer.begin_batch().unwrap();
    writer.execute(0, insert(3)).unwrap();
    writer.commit_batch().unwrap();
    assert_eq!(count(&writer), 1, "the next batch runs as usual");
}

#[test]
fn transaction_statements_are_prepared_once_and_counted() {
    let (_dir, mut writer) = writer();
    let before = writer.statements.load(Ordering::Relaxed);
    for id in [1, 2] {
        writer.begin_batch().unwrap();
        MockDatabaseTrait::begin(&mut writer);
        writer.execute(0, insert(id)).unwrap();
        MockDatabaseTrait::commit(&mut writer);
        writer.commit_batch().unwrap();
    }
    assert_eq!(count(&writer), 2);
    // SAVEPOINT, the insert and RELEASE, twice (BEGIN and COMMIT of the
    // batch are the group commit's, not the account transactions').
    assert_eq!(writer.statements.load(Ordering::Relaxed) - before, 6);
    let state = writer.state();
    for sql in ["BEGIN IMMEDIATE", "SAVEPOINT sp2", "RELEASE sp2", "COMMIT"] {
        let kept = state.connection.prepare_cached(sql).unwrap();
        assert_eq!(kept.get_status(rusqlite::StatementStatus::Run), 2, "{sql} was not kept prepared");
    }
}
