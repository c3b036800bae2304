#ifndef PARLEY_SQLITE_H
#define PARLEY_SQLITE_H

/// Turns on SQLite's query planner stability guarantee (SQLITE_DBCONFIG_ENABLE_QPSG) for one connection.
/// Swift cannot call the variadic sqlite3_db_config, hence this shim. `db` is the connection handle of the
/// SQLite library SQLiteNIO vendors (its symbols carry the sqlite_nio_ prefix). Returns SQLite's result code.
int parley_sqlite_enable_qpsg(void *db);

#endif
