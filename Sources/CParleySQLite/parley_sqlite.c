#include "parley_sqlite.h"

// Declared here rather than by including SQLiteNIO's header: that C module is not a product of its
// package, so it cannot be named as a dependency. The symbol is linked into every Parley binary.
int sqlite_nio_sqlite3_db_config(void *db, int op, ...);

// From sqlite3.h: #define SQLITE_DBCONFIG_ENABLE_QPSG 1007
#define PARLEY_SQLITE_DBCONFIG_ENABLE_QPSG 1007

int parley_sqlite_enable_qpsg(void *db) {
    return sqlite_nio_sqlite3_db_config(db, PARLEY_SQLITE_DBCONFIG_ENABLE_QPSG, 1, (int *)0);
}
