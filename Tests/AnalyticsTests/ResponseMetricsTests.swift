@testable import Analytics
import Events
import Foundation
import ParleyCore
import ParleyStorage
import ParleyTestSupport
import Testing

/// Response rate and first-response time in direct conversations, with a 24-hour window: an answer exactly at
/// the window counts, one millisecond later does not, and turns whose window is still open are left out.
@Suite struct ResponseMetricsTests {
    static let sequence: [NewEvent] = [
        Ev.conversation("c_r", type: "direct", members: ["alice", "bob"], "2026-01-14T23:00:00Z"),
        Ev.conversation("c_rg", type: "group", members: ["alice", "bob", "carol"], "2026-01-14T23:00:00Z"),
        Ev.message("c_r", from: "alice", "2026-01-15T00:00:00Z"),
        Ev.message("c_r", from: "alice", "2026-01-15T00:10:00Z"),
        Ev.message("c_rg", from: "carol", "2026-01-15T01:00:00Z"),
        Ev.message("c_r", from: "bob", "2026-01-16T00:00:00Z"),
        Ev.message("c_r", from: "alice", "2026-01-16T00:30:00Z"),
        Ev.message("c_r", from: "bob", "2026-01-17T00:30:00.001Z"),
    ]

    @Test(arguments: TestDatabases.engines)
    func anAnswerExactlyAtTheWindowCountsAndOneMillisecondLaterDoesNot(engine: DatabaseEngine) async throws {
        try await AnalyticsFixture.run(engine) { fx in
            try await fx.append(Self.sequence)
            try await fx.drain()
            let rate = try await fx.series("response_rate", "2026-01-15T00:00:00Z", "2026-01-18T00:00:00Z")
            #expect(rate.points.map(\.value) == [1.0, 0.5, 0.0])
            let median = try await fx.series("first_response_time_median", "2026-01-15T00:00:00Z", "2026-01-18T00:00:00Z")
            #expect(median.points.map(\.value) == [86_400, 1_800, nil])
            let p90 = try await fx.series("first_response_time_p90", "2026-01-15T00:00:00Z", "2026-01-18T00:00:00Z")
            #expect(p90.points.map(\.value) == [86_400, 1_800, nil])
            // The week of Monday Jan 12 pools the four turns: two responded, in 1,800 s and 86,400 s.
            #expect(try await fx.value("response_rate", "2026-01-12T00:00:00Z", "2026-01-19T00:00:00Z", .week) == 0.5)
            #expect(try await fx.value("first_response_time_median", "2026-01-12T00:00:00Z", "2026-01-19T00:00:00Z", .week) == 1_800)
            #expect(try await fx.value("first_response_time_p90", "2026-01-12T00:00:00Z", "2026-01-19T00:00:00Z", .week) == 86_400)
            // An hour whose first message answers a turn from the day before: bob's turn and alice's both start in it.
            #expect(try await fx.value("response_rate", "2026-01-16T00:00:00Z", "2026-01-16T01:00:00Z", .hour) == 0.5)
        }
    }

    @Test(arguments: TestDatabases.engines)
    func aTurnWhoseWindowIsStillOpenIsLeftOutOfTheRate(engine: DatabaseEngine) async throws {
        try await AnalyticsFixture.run(engine, now: "2026-01-17T12:00:00Z") { fx in
            try await fx.append(Self.sequence)
            try await fx.drain()
            #expect(try await fx.value("response_rate", "2026-01-17T00:00:00Z", "2026-01-18T00:00:00Z") == nil)
            #expect(try await fx.value("response_rate", "2026-01-16T00:00:00Z", "2026-01-17T00:00:00Z") == 0.5)
        }
    }

    @Test func aRunContinuingFromBeforeTheRangeStartsNoTurnAndTheNextAnswerClosesIt() {
        let messages = [
            ResponseTurns.Message(conversation: "c", sender: "alice", at: 100, position: 1),
            ResponseTurns.Message(conversation: "c", sender: "bob", at: 200, position: 2),
            ResponseTurns.Message(conversation: "c", sender: "bob", at: 200, position: 3),
        ]
        #expect(ResponseTurns.turns(messages, previousSender: ["c": "alice"]) == [
            ResponseTurns.Turn(conversation: "c", start: 200, answeredAt: nil),
        ])
        #expect(ResponseTurns.turns(messages, previousSender: [:]) == [
            ResponseTurns.Turn(conversation: "c", start: 100, answeredAt: 200),
            ResponseTurns.Turn(conversation: "c", start: 200, answeredAt: nil),
        ])
    }

    @Test func percentilesUseTheNearestRank() {
        #expect(ResponseTurns.percentile([5, 1, 3, 2, 4], 0.5) == 3)
        #expect(ResponseTurns.percentile([1, 2, 3, 4], 0.5) == 2)
        #expect(ResponseTurns.percentile(Array(1...10), 0.9) == 9)
        #expect(ResponseTurns.percentile([], 0.9) == nil)
    }
}
