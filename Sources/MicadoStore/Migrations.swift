import GRDB

/// The SQLite store's migrations: `Schema`'s list, run by GRDB's migrator under the same
/// names (a store made by an earlier micado has run the first ones already and skips them).
enum Migrations {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        for migration in Schema.migrations {
            let statements = Schema.statements(migration, in: .sqlite)
            m.registerMigration(migration.name) { db in
                for statement in statements { try db.execute(sql: statement) }
            }
        }
        return m
    }
}
