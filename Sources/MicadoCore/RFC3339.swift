import FoundationEssentials

/// RFC 3339 timestamps (`2026-12-02T00:08:00.123Z`), written and read by hand. Foundation's
/// formatters (`ISO8601DateFormatter`, `DateFormatter`, even the ISO 8601 style's time zone) go
/// through ICU, whose data then stays resident in a manager that never needs a locale; a fixed
/// format of digits needs none of it. Also strict: a timestamp from outside is either exactly
/// one or refused (a leap second, `:60`, is read as the next second).
public enum RFC3339 {
    /// UTC, rounded to the millisecond: events of one launch fall within the same second.
    public static func string(_ date: Date) -> String {
        text(date, separator: "T") + "Z"
    }

    /// `YYYY-MM-DDTHH:MM:SS`, an optional fraction of any length (the Engine sends nanoseconds),
    /// then `Z` or an offset `±HH:MM`. `t`, `z` and a space in place of the `T` are accepted.
    public static func date(_ text: some StringProtocol) -> Date? {
        guard text.utf8.count <= 64 else { return nil }
        return parse(Array(text.utf8), zoneRequired: true)
    }

    /// `YYYY-MM-DD<separator>HH:MM:SS.mmm`, in UTC, without a zone; a date outside the years
    /// 0000 to 9999 (or not a number) as the nearest end of them.
    public static func text(_ date: Date, separator: Character) -> String {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
        let total = milliseconds.isNaN ? firstMillisecond : Int64(min(max(milliseconds, Double(firstMillisecond)), Double(lastMillisecond)))
        let seconds = total >= 0 ? total / 1000 : (total - 999) / 1000
        let (days, secondOfDay) = (seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400, ((seconds % 86_400) + 86_400) % 86_400)
        let (year, month, day) = civil(days: days)
        func digits(_ n: Int64, _ width: Int) -> String {
            let text = String(n)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(digits(year, 4))-\(digits(month, 2))-\(digits(day, 2))\(separator)"
            + "\(digits(secondOfDay / 3600, 2)):\(digits(secondOfDay / 60 % 60, 2)):\(digits(secondOfDay % 60, 2)).\(digits(total - seconds * 1000, 3))"
    }

    /// A timestamp as `text` writes it or as `date` reads it; without a zone it is UTC.
    public static func parse(_ bytes: [UInt8], zoneRequired: Bool) -> Date? {
        guard bytes.count >= 19, bytes.count <= 64 else { return nil }
        func digits(_ at: Int, _ count: Int) -> Int64? {
            var n: Int64 = 0
            for i in at..<at + count {
                guard bytes[i] >= 0x30, bytes[i] <= 0x39 else { return nil }
                n = n * 10 + Int64(bytes[i] - 0x30)
            }
            return n
        }
        guard let year = digits(0, 4), bytes[4] == 0x2D, let month = digits(5, 2), bytes[7] == 0x2D, let day = digits(8, 2),
            [0x54, 0x74, 0x20].contains(bytes[10]),
            let hour = digits(11, 2), bytes[13] == 0x3A, let minute = digits(14, 2), bytes[16] == 0x3A, let second = digits(17, 2),
            (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour <= 23, minute <= 59, second <= 60
        else { return nil }
        var at = 19
        var fraction = 0.0
        if at < bytes.count, bytes[at] == 0x2E {
            at += 1
            var scale = 0.1
            let start = at
            while at < bytes.count, bytes[at] >= 0x30, bytes[at] <= 0x39 {
                fraction += Double(bytes[at] - 0x30) * scale
                scale /= 10
                at += 1
            }
            guard at > start else { return nil }
        }
        var offset: Int64 = 0
        if at == bytes.count {
            guard !zoneRequired else { return nil }
        } else if bytes[at] == 0x5A || bytes[at] == 0x7A {
            at += 1
        } else if bytes[at] == 0x2B || bytes[at] == 0x2D {
            guard bytes.count - at == 6, let h = digits(at + 1, 2), bytes[at + 3] == 0x3A, let m = digits(at + 4, 2), h <= 23, m <= 59
            else { return nil }
            offset = (h * 60 + m) * 60 * (bytes[at] == 0x2D ? -1 : 1)
            at += 6
        }
        guard at == bytes.count else { return nil }
        let seconds = days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z, in milliseconds since 1970.
    static let firstMillisecond: Int64 = -62_167_219_200_000
    static let lastMillisecond: Int64 = 253_402_300_799_999

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a day since 1970-01-01 (`civil_from_days`).
    static func civil(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
