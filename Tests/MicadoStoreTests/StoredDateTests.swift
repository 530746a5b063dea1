import Foundation
import GRDB
import Testing

@testable import MicadoStore

/// The store's dates are written without GRDB's DateFormatter (ICU) but in its very format,
/// so a store written by an earlier micado reads the same.
struct StoredDateTests {
    @Test(arguments: [0, 1_796_170_080.1239, 1_796_170_080.999_9, 951_782_400.5, 4_102_444_799.001])
    func writesWhatGRDBWrites(_ seconds: Double) throws {
        let date = Date(timeIntervalSince1970: seconds)
        let grdb = try #require(String.fromDatabaseValue(date.databaseValue))
        #expect(StoredDate.text(date) == grdb)
        let read = try #require(StoredDate.date(grdb.databaseValue))
        #expect(abs(read.timeIntervalSince1970 - seconds) <= 0.000_5)
    }

    @Test func readsOtherShapesAsGRDBDoes() throws {
        #expect(StoredDate.date(1_796_170_080.databaseValue)?.timeIntervalSince1970 == 1_796_170_080)
        #expect(StoredDate.date("2026-12-02".databaseValue) == Date.fromDatabaseValue("2026-12-02".databaseValue))
        #expect(StoredDate.date("not a date".databaseValue) == nil)
        #expect(StoredDate.date(DatabaseValue.null) == nil)
    }
}
