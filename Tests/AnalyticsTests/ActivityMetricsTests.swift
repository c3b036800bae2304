import Analytics
import Events
import Foundation
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// Active users, new versus returning, WAU/MAU and stickiness, in UTC and in the reporting zone (Asia/Shanghai,
/// UTC+8), with late events and replays of the whole log.
@Suite struct ActivityMetricsTests {
    /// Alice sends at 23:30 UTC on Jan 1 (Jan 2 in Shanghai), Bob reads on Jan 1, Carol connects on Jan 2.
    static let firstDays: [NewEvent] = [
        Ev.conversation("c_d", type: "direct", members: ["alice", "bob"], "2026-01-01T09:00:00Z"),
        Ev.read("c_d", by: "bob", "2026-01-01T10:00:00Z"),
        Ev.message("c_d", from: "alice", "2026-01-01T23:30:00Z"),
        Ev.connected("carol", "2026-01-02T12:00:00Z"),
    ]

    @Test(arguments: TestDatabases.engines)
    func aUserActiveAt2330UTCCountsOnTheFirstInUTCAndOnTheSecondInShanghai(engine: DatabaseEngine) async throws {
        try await AnalyticsFixture.run(engine) { fx in
            try await fx.append(Self.firstDays)
            try await fx.drain()
            let utc = try await fx.series("active_users", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z")
            #expect(utc.points.map(\.value) == [2, 1])
            #expect(utc.points.map(\.t) == [at("2026-01-01T00:00:00Z"), at("2026-01-02T00:00:00Z")])
            // Shanghai days start at 16:00 UTC the evening before.
            let shanghai = try await fx.series("active_users", "2025-12-31T16:00:00Z", "2026-01-02T16:00:00Z", tz: "Asia/Shanghai")
            #expect(shanghai.points.map(\.t) == [at("2025-12-31T16:00:00Z"), at("2026-01-01T16:00:00Z")])
            #expect(shanghai.points.map(\.value) == [1, 2])

            #expect(try await fx.value("active_users", "2026-01-01T23:00:00Z", "2026-01-02T00:00:00Z", .hour) == 1)
            #expect(try await fx.value("senders", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z") == 1)
            #expect(try await fx.value("readers", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z") == 1)
            #expect(try await fx.value("senders", "2026-01-01T16:00:00Z", "2026-01-02T16:00:00Z", tz: "Asia/Shanghai") == 1)
            #expect(try await fx.value("readers", "2026-01-01T16:00:00Z", "2026-01-02T16:00:00Z", tz: "Asia/Shanghai") == 0)
            // The week of Monday Dec 29 holds all three.
            #expect(try await fx.value("active_users", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", .week) == 3)

            #expect(try await fx.series("new_users", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z").points.map(\.value) == [2, 1])
            #expect(try await fx.series("new_users", "2025-12-31T16:00:00Z", "2026-01-02T16:00:00Z", tz: "Asia/Shanghai")
                .points.map(\.value) == [1, 2])
            #expect(try await fx.series("returning_users", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z").points.map(\.value) == [0, 0])
        }
    }

    @Test(arguments: TestDatabases.engines)
    func wauMauAndStickinessAreExactDistinctCountsOverRollingDays(engine: DatabaseEngine) async throws {
        try await AnalyticsFixture.run(engine) { fx in
            try await fx.append(Self.firstDays + [
                Ev.message("c_d", from: "alice", "2026-01-03T10:00:00Z"),
                Ev.connected("alice", "2026-01-03T11:00:00Z"),
                Ev.connected("dave", "2026-01-09T08:00:00Z"),
                Ev.connected("erin", "2026-02-05T08:00:00Z"),
            ])
            try await fx.drain()
            #expect(try await fx.value("returning_users", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z") == 1)
            #expect(try await fx.value("new_users", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z") == 0)
            #expect(try await fx.value("active_users", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z") == 1)
            // Jan 3: the 7 days Dec 28 – Jan 3 hold alice, bob, carol.
            #expect(try await fx.value("wau", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z") == 3)
            // Jan 9: Jan 3 – Jan 9 hold alice and dave; Jan 8: Jan 2 – Jan 8 hold alice and carol.
            #expect(try await fx.value("wau", "2026-01-09T00:00:00Z", "2026-01-10T00:00:00Z") == 2)
            #expect(try await fx.value("wau", "2026-01-08T00:00:00Z", "2026-01-09T00:00:00Z") == 2)
            #expect(try await fx.value("mau", "2026-01-09T00:00:00Z", "2026-01-10T00:00:00Z") == 4)
            #expect(try await fx.value("stickiness", "2026-01-09T00:00:00Z", "2026-01-10T00:00:00Z") == 0.25)
            // Feb 5: the 30 days Jan 7 – Feb 5 hold dave and erin.
            #expect(try await fx.value("mau", "2026-02-05T00:00:00Z", "2026-02-06T00:00:00Z") == 2)
            #expect(try await fx.value("stickiness", "2026-02-05T00:00:00Z", "2026-02-06T00:00:00Z") == 0.5)
            #expect(try await fx.value("stickiness", "2026-03-20T00:00:00Z", "2026-03-21T00:00:00Z") == nil)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aLateEventCountsOnTheDayItHappenedAndMakesTheUserNewThere(engine: DatabaseEngine) async throws {
        try await AnalyticsFixture.run(engine) { fx in
            try await fx.append([Ev.connected("dave", "2026-01-05T08:00:00Z")])
            try await fx.drain()
            #expect(try await fx.value("new_users", "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z") == 1)
            // An event from Jan 2 arrives after Jan 5's.
            try await fx.append([Ev.conversation("c_g", type: "group", members: ["dave", "erin"], "2026-01-01T00:00:00Z"),
                                 Ev.message("c_g", from: "dave", "2026-01-02T08:00:00Z")])
            try await fx.drain()
            #expect(try await fx.value("active_users", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z") == 1)
            #expect(try await fx.value("messages", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z") == 1)
            #expect(try await fx.value("new_users", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z") == 1)
            #expect(try await fx.value("new_users", "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z") == 0)
            #expect(try await fx.value("returning_users", "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z") == 1)
        }
    }

    static let everyMetric = MetricCatalog.all.map(\.name)

    /// Every metric's daily series over January, in both zones.
    static func snapshot(_ fx: AnalyticsFixture) async throws -> [String: [MetricSeries.Point]] {
        var result: [String: [MetricSeries.Point]] = [:]
        for metric in everyMetric {
            for tz in ["UTC", "Asia/Shanghai"] {
                let granularity: Granularity = .day
                let series = try await fx.series(metric, "2025-12-31T00:00:00Z", "2026-02-01T00:00:00Z", granularity, tz: tz)
                result["\(metric)/\(tz)"] = series.points
                if let breakdown = MetricCatalog.byName[metric]?.breakdowns.first {
                    result["\(metric)/\(tz)/\(breakdown)"] = try await fx.series(
                        metric, "2025-12-31T00:00:00Z", "2026-02-01T00:00:00Z", granularity, tz: tz, breakdown: breakdown
                    ).points
                }
            }
            if MetricCatalog.byName[metric]?.granularities.contains(.week) == true {
                result["\(metric)/week"] = try await fx.series(metric, "2025-12-29T00:00:00Z", "2026-02-02T00:00:00Z", .week).points
            }
        }
        return result
    }

    @Test(arguments: TestDatabases.engines)
    func replayingTheWholeLogGivesIdenticalNumbers(engine: DatabaseEngine) async throws {
        try await AnalyticsFixture.run(engine) { fx in
            try await fx.append(Self.firstDays + MessageMetricsTests.sequence + ResponseMetricsTests.sequence)
            try await fx.drain()
            let before = try await Self.snapshot(fx)
            #expect(before["active_users/UTC"]?.contains { ($0.value ?? 0) > 0 } == true)

            // Replay over the existing rollups (the cursor moved back without clearing anything).
            try await fx.database.transaction { sql in try await fx.log.resetCursor(of: "analytics", at: fx.clock.now(), on: sql) }
            try await fx.drain()
            #expect(try await Self.snapshot(fx) == before)

            // A full rebuild: clear and replay.
            try await fx.service.rebuild()
            #expect(try await fx.log.cursor(of: "analytics") == 0)
            #expect(try await fx.value("active_users", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z") == 0)
            try await fx.drain()
            #expect(try await Self.snapshot(fx) == before)
        }
    }
}
