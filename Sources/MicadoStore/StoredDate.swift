import FoundationEssentials
import GRDB
import MicadoCore

/// A row of micado's store: its dates are written and read by `StoredDate`.
public protocol StoreRecord: FetchableRecord, EncodableRecord {}

extension StoreRecord {
    public static func databaseDateEncodingStrategy(for column: String) -> DatabaseDateEncodingStrategy {
        .custom { StoredDate.text($0) }
    }

    public static func databaseDateDecodingStrategy(for column: String) -> DatabaseDateDecodingStrategy {
        .custom { StoredDate.date($0) }
    }
}

/// Dates in the store, in GRDB's own text format ("yyyy-MM-dd HH:mm:ss.SSS", UTC), so stores
/// written before read the same. Written and read by `RFC3339`: GRDB's `DateFormatter` and its
/// calendar's en_US_POSIX locale go through ICU.
enum StoredDate {
    static func text(_ date: Date) -> String { RFC3339.text(date, separator: " ") }

    static var now: String { text(Date()) }

    /// A date this store wrote; any other shape (a number, a date without time) as GRDB reads it.
    static func date(_ value: DatabaseValue) -> Date? {
        if let text = String.fromDatabaseValue(value), let date = RFC3339.parse(Array(text.utf8), zoneRequired: false) { return date }
        return Date.fromDatabaseValue(value)
    }
}
