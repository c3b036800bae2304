import Foundation
import Notifications
import ParleyCore
import Testing

@Suite struct TemplateRendererTests {
    @Test func theLocaleFallbackGoesFromMostSpecificToTheDefault() {
        #expect(TemplateRenderer.fallbackChain(for: "zh-Hant-TW", defaultLocale: "en") == ["zh-hant-tw", "zh-hant", "zh", "en"])
        #expect(TemplateRenderer.fallbackChain(for: "pt_BR", defaultLocale: "en") == ["pt-br", "pt", "en"])
        #expect(TemplateRenderer.fallbackChain(for: nil, defaultLocale: "en") == ["en"])
        #expect(TemplateRenderer.fallbackChain(for: "en-GB", defaultLocale: "en") == ["en-gb", "en"])
    }

    @Test func aTemplateUsingPartialsOrAnUnclosedSectionIsRefused() {
        #expect(throws: ParleyError.self) { try TemplateRenderer.validate("Hi {{> header}}", field: "body") }
        #expect(throws: ParleyError.self) { try TemplateRenderer.validate("{{#items}}x", field: "body") }
        #expect(throws: ParleyError.self) { try TemplateRenderer.validate("{{name", field: "body") }
        #expect(throws: Never.self) { try TemplateRenderer.validate("{{#items}}{{name}}{{/items}} {{{raw}}} {{! note }}", field: "body") }
    }
}

@Suite struct QuietHoursTests {
    static func date(_ text: String) -> Date { Timestamp.parse(text)! }

    @Test func aPeriodAcrossMidnightEndsTheNextMorningInTheUsersZone() throws {
        let quiet = try QuietHours(start: 22 * 60, end: 7 * 60)
        let paris = TimeZone(identifier: "Europe/Paris")!
        // 23:30 in Paris (UTC+1 in January) is 22:30Z: quiet until 07:00 Paris = 06:00Z.
        #expect(quiet.endOfQuietPeriod(containing: Self.date("2026-01-10T22:30:00Z"), in: paris) == Self.date("2026-01-11T06:00:00Z"))
        // 03:00 Paris: same night, same end.
        #expect(quiet.endOfQuietPeriod(containing: Self.date("2026-01-11T02:00:00Z"), in: paris) == Self.date("2026-01-11T06:00:00Z"))
        // 07:00 sharp is outside (the end is exclusive); noon is outside.
        #expect(quiet.endOfQuietPeriod(containing: Self.date("2026-01-11T06:00:00Z"), in: paris) == nil)
        #expect(quiet.endOfQuietPeriod(containing: Self.date("2026-01-11T11:00:00Z"), in: paris) == nil)
    }

    @Test func theEndFollowsDaylightSavingTime() throws {
        let newYork = TimeZone(identifier: "America/New_York")!
        let quiet = try QuietHours(start: 22 * 60, end: 7 * 60)
        // Clocks go forward on 2026-03-08 at 02:00 EST. 23:30 EST on the 7th = 04:30Z; 07:00 EDT on the 8th = 11:00Z (6.5 h later).
        #expect(quiet.endOfQuietPeriod(containing: Self.date("2026-03-08T04:30:00Z"), in: newYork) == Self.date("2026-03-08T11:00:00Z"))
        // Clocks go back on 2026-11-01 at 02:00 EDT. 23:30 EDT on Oct 31 = 03:30Z; 07:00 EST on Nov 1 = 12:00Z (9.5 h later).
        #expect(quiet.endOfQuietPeriod(containing: Self.date("2026-11-01T03:30:00Z"), in: newYork) == Self.date("2026-11-01T12:00:00Z"))
        // A period ending at 02:30, a time that does not exist on 2026-03-08: it ends when the clocks jump, 03:00 EDT = 07:00Z.
        let early = try QuietHours(start: 23 * 60, end: 2 * 60 + 30)
        #expect(early.endOfQuietPeriod(containing: Self.date("2026-03-08T05:30:00Z"), in: newYork) == Self.date("2026-03-08T07:00:00Z"))
    }

    @Test func aPeriodWithinOneDayAndBadTimesAreHandled() throws {
        let quiet = try QuietHours(start: 13 * 60, end: 14 * 60)
        #expect(quiet.contains(minute: 13 * 60 + 30))
        #expect(!quiet.contains(minute: 14 * 60))
        #expect(throws: ParleyError.self) { try QuietHours(start: 60, end: 60) }
        #expect(throws: ParleyError.self) { try QuietHours.minutes("25:00", field: "start") }
        #expect(throws: ParleyError.self) { try QuietHours.minutes("7:00", field: "start") }
        #expect(try QuietHours.minutes("07:05", field: "start") == 425)
    }
}
