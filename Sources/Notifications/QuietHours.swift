import Foundation
import ParleyCore

/// A daily do-not-disturb period in the user's local time, e.g. 22:00 to 07:00 (it may cross midnight).
///
/// Times are wall-clock minutes in the user's IANA time zone, so the period follows the user through
/// daylight-saving changes: on the night clocks move, 22:00–07:00 lasts 8 or 10 hours of real time.
public struct QuietHours: Sendable, Equatable {
    /// Minutes after local midnight, 0..<1440.
    public var start: Int
    public var end: Int

    public init(start: Int, end: Int) throws(ParleyError) {
        guard (0..<1440).contains(start) else { throw ParleyError.invalidField("quiet_hours.start", "HH:MM between 00:00 and 23:59") }
        guard (0..<1440).contains(end) else { throw ParleyError.invalidField("quiet_hours.end", "HH:MM between 00:00 and 23:59") }
        guard start != end else { throw ParleyError.invalidField("quiet_hours", "start and end must differ") }
        self.start = start
        self.end = end
    }

    /// Parses `HH:MM` (24-hour clock).
    public static func minutes(_ text: String, field: String) throws(ParleyError) -> Int {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]),
              (0..<24).contains(hour), (0..<60).contains(minute) else {
            throw ParleyError.invalidField(field, "HH:MM between 00:00 and 23:59")
        }
        return hour * 60 + minute
    }

    public static func format(_ minutes: Int) -> String {
        let hour = minutes / 60, minute = minutes % 60
        return (hour < 10 ? "0" : "") + "\(hour):" + (minute < 10 ? "0" : "") + "\(minute)"
    }

    /// Whether `minute` (minutes after local midnight) falls in the period; the end is exclusive.
    public func contains(minute: Int) -> Bool {
        start < end ? (minute >= start && minute < end) : (minute >= start || minute < end)
    }

    /// When the quiet period around `date` ends in `timeZone`, or nil when `date` is outside it.
    ///
    /// The end is the next local `end` time after `date`; when that wall-clock time does not exist that day
    /// (the clocks jump over it), it is the first instant after the jump.
    public func endOfQuietPeriod(containing date: Date, in timeZone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let local = calendar.dateComponents([.hour, .minute], from: date)
        guard let hour = local.hour, let minute = local.minute, contains(minute: hour * 60 + minute) else { return nil }
        return calendar.nextDate(after: date, matching: DateComponents(hour: end / 60, minute: end % 60, second: 0),
                                 matchingPolicy: .nextTime, repeatedTimePolicy: .first, direction: .forward)
    }
}
