import GRDB

/// Append-only, named migrations: never edit a shipped one, add the next.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: containers, instances, images, events") { db in
            try db.create(table: "containers") { t in
                t.primaryKey("name", .text)
                t.column("client", .text).notNull()
                t.column("image", .text).notNull()
                t.column("desired", .text).notNull()
                t.column("serviceID", .text).unique()
                t.column("location", .text)
                t.column("script", .text)
                t.column("domain", .text)
                t.column("arguments", .text).notNull()
                t.column("environment", .text).notNull()
                t.column("portPublished", .integer)
                t.column("portTarget", .integer)
                t.column("memoryMiB", .integer).notNull()
                t.column("lastState", .text).notNull()
                t.column("lastReason", .text)
                t.column("createdAt", .datetime).notNull()
                t.column("updatedAt", .datetime).notNull()
            }
            try db.create(table: "instances") { t in
                t.primaryKey("id", .text)
                t.column("hostname", .text).notNull()
                t.column("cloud", .text).notNull()
                t.column("location", .text)
                t.column("role", .text).notNull()
                t.column("state", .text).notNull()
                t.column("address", .text)
                t.column("createdAt", .datetime).notNull()
                t.column("updatedAt", .datetime).notNull()
            }
            try db.create(table: "images") { t in
                t.primaryKey("name", .text)
                t.column("imageID", .text)
                t.column("sizeBytes", .integer)
                t.column("criticalMemoryMiB", .integer)
                t.column("createdAt", .datetime).notNull()
            }
            try db.create(table: "settings") { t in
                t.primaryKey("key", .text)
                t.column("value", .text).notNull()
            }
            try db.create(table: "events") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("time", .datetime).notNull().indexed()
                t.column("kind", .text).notNull()
                t.column("subject", .text).notNull().indexed()
                t.column("message", .text).notNull()
            }
        }
        m.registerMigration("v2: instances from clouds") { db in
            try db.alter(table: "instances") { t in
                t.add(column: "flavour", .text)
                t.add(column: "memoryMiB", .integer).notNull().defaults(to: 0)
                t.add(column: "pricePerHour", .double).notNull().defaults(to: 0)
                t.add(column: "tag", .text)
                t.add(column: "purpose", .text).notNull().defaults(to: "application")
                t.add(column: "first", .boolean).notNull().defaults(to: false)
                t.add(column: "token", .text)
                t.add(column: "nodeID", .text)
                t.add(column: "reason", .text)
                t.add(column: "stateSince", .datetime)
                t.add(column: "idleSince", .datetime)
            }
        }
        m.registerMigration("v3: usage samples") { db in
            try db.create(table: "usage") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("container", .text).notNull()
                t.column("image", .text).notNull().indexed()
                t.column("time", .datetime).notNull()
                t.column("cpuPercent", .double).notNull()
                t.column("memoryMiB", .double).notNull()
            }
            try db.create(index: "usage_by_container", on: "usage", columns: ["container", "id"])
        }
        m.registerMigration("v4: images in the registry") { db in
            try db.alter(table: "images") { t in
                t.add(column: "reference", .text)
                t.add(column: "digest", .text)
            }
        }
        m.registerMigration("v5: HTTPS domains") { db in
            try db.alter(table: "containers") { t in t.add(column: "tls", .boolean).notNull().defaults(to: false) }
        }
        m.registerMigration("v6: attached exec sessions") { db in
            try db.create(table: "execSessions") { t in
                t.primaryKey("session", .text)
                t.column("container", .text).notNull()
                t.column("containerID", .text).notNull()
                t.column("command", .text).notNull()
                t.column("startedAt", .datetime).notNull()
            }
        }
        m.registerMigration("v7: tombstones") { db in
            // What this store removed: only these may be cleaned up as orphans. A service or
            // an instance of ours that the store neither knows nor removed (an older store
            // restored from a backup) is refused at start, never deleted.
            try db.create(table: "tombstones") { t in
                t.column("kind", .text).notNull()
                t.column("id", .text).notNull()
                t.column("removedAt", .datetime).notNull()
                t.primaryKey(["kind", "id"])
            }
        }
        m.registerMigration("v8: newest usage per container") { db in
            // list -c shows each container's newest sample: one row each, instead of the
            // newest of up to historyPerContainer rows per container found at every call.
            try db.create(table: "usageLatest") { t in
                t.primaryKey("container", .text)
                t.column("image", .text).notNull()
                t.column("time", .datetime).notNull()
                t.column("cpuPercent", .double).notNull()
                t.column("memoryMiB", .double).notNull()
            }
            try db.execute(
                sql: """
                    INSERT INTO usageLatest (container, image, time, cpuPercent, memoryMiB)
                    SELECT container, image, time, cpuPercent, memoryMiB FROM usage WHERE id IN (SELECT MAX(id) FROM usage GROUP BY container)
                    """
            )
        }
        m.registerMigration("v9: the cloud's own instance ID and engine endpoint") { db in
            // Records made before clouds had IDs of their own: the record's ID was the cloud's.
            try db.alter(table: "instances") { t in
                t.add(column: "cloudID", .text)
                t.add(column: "engineEndpoint", .text)
                t.add(column: "machineImage", .text)
            }
            try db.execute(
                sql: """
                    UPDATE instances SET cloudID = id, engineEndpoint = 'tcp://' || address || ':2376'
                    WHERE role = 'worker' AND address IS NOT NULL
                    """
            )
        }
        m.registerMigration("v10: applications") { db in
            try db.create(table: "applications") { t in
                t.primaryKey("name", .text)
                t.column("file", .text).notNull()
                t.column("fileName", .text).notNull()
                t.column("revision", .integer).notNull()
                t.column("createdAt", .datetime).notNull()
                t.column("updatedAt", .datetime).notNull()
            }
            try db.alter(table: "containers") { t in
                t.add(column: "application", .text)
                t.add(column: "replicas", .integer).notNull().defaults(to: 1)
                t.add(column: "settings", .text)
            }
        }
        m.registerMigration("v11: named volumes") { db in
            try db.create(table: "volumes") { t in
                t.primaryKey("name", .text)
                t.column("application", .text).notNull().indexed()
                t.column("volume", .text).notNull()
                t.column("labels", .text).notNull()
                t.column("nodeID", .text)
                t.column("removing", .boolean).notNull().defaults(to: false)
                t.column("createdAt", .datetime).notNull()
            }
        }
        return m
    }
}
