import Foundation
import MicadoCore
import Testing

/// Timestamps on the API, from the Engine and from clouds, read and written without ICU.
struct RFC3339Tests {
    @Test func writesUTCWithMilliseconds() {
        #expect(RFC3339.string(Date(timeIntervalSince1970: 1_796_170_080.1234)) == "2026-12-02T00:08:00.123Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: 1_796_170_080.9996)) == "2026-12-02T00:08:01.000Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: 4_102_444_799.001)) == "2099-12-31T23:59:59.001Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
    }

    @Test(arguments: [
        ("2026-12-02T00:08:00.123Z", 1_796_170_080.123),
        ("2026-12-02T00:08:00Z", 1_796_170_080),
        ("2026-12-02T00:08:00.123456789Z", 1_796_170_080.123457),  // the Engine's nanoseconds
        ("2026-12-02T01:08:00.5+01:00", 1_796_170_080.5),
        ("2015-11-09T01:42:57.527363Z", 1_447_033_377.527363),  // Keystone's microseconds
        ("2024-02-29t23:59:59z", 1_709_251_199.0),
        ("1969-12-31T23:59:59.500-00:30", 1_799.5),
        ("2000-03-01 00:00:00Z", 951_868_800.0),
    ])
    func readsWhatTheEngineAndCloudsSend(_ pair: (String, Double)) throws {
        let date = try #require(RFC3339.date(pair.0))
        #expect(abs(date.timeIntervalSince1970 - pair.1) < 0.000_01)
    }

    @Test(arguments: [
        "", "garbage", "2026-13-02T00:08:00Z", "2026-12-32T00:08:00Z", "2026-02-29T00:08:00Z", "2026-12-02T25:08:00Z",
        "2026-12-02T00:60:00Z",
        "2026-12-02T00:08:00", "2026-12-02T00:08:00.Z", "2026-12-02T00:08:00+1:00", "2026-12-02T00:08:00Zjunk", "2026-12-02X00:08:00Z",
        "２026-12-02T00:08:00Z", "0001-01-01T00:00:00." + String(repeating: "0", count: 100) + "Z",
    ])
    func refusesWhatIsNotATimestamp(_ text: String) {
        #expect(RFC3339.date(text) == nil)
    }

    /// Every day of sixteen centuries around the epoch, both ways; since 1600 also against FoundationEssentials.
    @Test func everyDayRoundTrips() throws {
        for day in stride(from: -146_097 * 2, to: 146_097 * 2, by: 1) {
            let date = Date(timeIntervalSince1970: Double(day) * 86_400 + 45_296.789)
            let text = RFC3339.string(date)
            let read = try #require(RFC3339.date(text))
            #expect(abs(read.timeIntervalSince1970 - date.timeIntervalSince1970) < 0.000_5, "\(text)")
            if day % 997 == 0, day >= -135_000 {  // after 1600: Foundation is Julian before 1582
                // To the second: Foundation truncates the binary fraction (.789 becomes .788 far from 1970).
                #expect(text.prefix(19) == date.formatted(Date.ISO8601FormatStyle()).prefix(19), "\(text)")
            }
        }
    }

    @Test func roundTripsThroughTheWireFormat() throws {
        struct Stamp: Codable, Equatable { var time: Date }
        let stamp = Stamp(time: Date(timeIntervalSince1970: 1_796_170_080.25))
        let data = try WireFormat.encoder().encode(stamp)
        #expect(String(decoding: data, as: UTF8.self) == #"{"time":"2026-12-02T00:08:00.250Z"}"#)
        #expect(try WireFormat.decoder().decode(Stamp.self, from: data) == stamp)
    }
}

extension RFC3339Tests {
    /// Dates outside what four digits of year can say are written as the nearest end of them.
    @Test func outOfRangeDatesAreClamped() {
        #expect(RFC3339.string(Date(timeIntervalSince1970: -62_167_219_201)) == "0000-01-01T00:00:00.000Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: 253_402_300_799.9996)) == "9999-12-31T23:59:59.999Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: .nan)) == "0000-01-01T00:00:00.000Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: 1e300)) == "9999-12-31T23:59:59.999Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: -.infinity)) == "0000-01-01T00:00:00.000Z")
    }
}
