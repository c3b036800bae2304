import Foundation

/// A time zone in which analytics counts calendar days: UTC, or the configured reporting zone (an IANA id).
///
/// Day numbers are days since 1970-01-01 *in that zone* (local midnight to local midnight, so a DST day
/// lasts 23 or 25 hours); week numbers count Monday-start weeks of those days; hour numbers are UTC hours
/// since the epoch, shared by every zone.
public struct ReportingZone: Sendable, Hashable {
    public let identifier: String
    let timeZone: TimeZone

    public static let utc = ReportingZone(validated: "UTC", TimeZone(identifier: "UTC")!)

    private init(validated identifier: String, _ timeZone: TimeZone) {
        self.identifier = identifier
        self.timeZone = timeZone
    }

    /// The zone an IANA identifier names (`Asia/Shanghai`, `UTC`), or nil when it names none.
    public init?(identifier: String) {
        guard !identifier.isEmpty, identifier.count <= 64, let zone = TimeZone(identifier: identifier) else { return nil }
        self.init(validated: identifier == "GMT" || identifier == "Etc/UTC" ? "UTC" : identifier, zone)
    }

    public static func == (lhs: ReportingZone, rhs: ReportingZone) -> Bool { lhs.identifier == rhs.identifier }
    public func hash(into hasher: inout Hasher) { hasher.combine(identifier) }

    /// The local day of an instant (Unix milliseconds).
    public func day(ofMilliseconds ms: Int64) -> Int64 {
        let offset = Int64(timeZone.secondsFromGMT(for: Date(unixMilliseconds: ms)))
        return Self.floorDiv(Self.floorDiv(ms, 1000) + offset, 86_400)
    }

    /// The instant (Unix milliseconds) at which local day `day` begins.
    public func start(ofDay day: Int64) -> Int64 {
        // Guess with the offset at UTC midnight, then correct once with the offset at the guess.
        let utcMidnight = day * 86_400
        var guess = utcMidnight - Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(utcMidnight))))
        guess = utcMidnight - Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(guess))))
        return guess * 1000
    }

    /// The Monday-start week of a local day.
    public static func week(ofDay day: Int64) -> Int64 { floorDiv(day + 3, 7) }
    /// The first (Monday) local day of a week.
    public static func firstDay(ofWeek week: Int64) -> Int64 { week * 7 - 3 }
    /// The UTC hour of an instant.
    public static func hour(ofMilliseconds ms: Int64) -> Int64 { floorDiv(ms, 3_600_000) }

    static func floorDiv(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
