import Foundation
import ParleyCore
import Testing

@Suite struct TimestampTests {
    @Test func formatsTheEpochAndALeapDayInUTCWithMilliseconds() {
        #expect(Timestamp.format(unixMilliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.format(unixMilliseconds: 951_782_400_123) == "2000-02-29T00:00:00.123Z")
        #expect(Timestamp.format(unixMilliseconds: -1) == "1969-12-31T23:59:59.999Z")
    }

    /// The byte-writing path against Foundation's formatter, from 1600 (Foundation switches to the Julian calendar
    /// before 1582; RFC 3339 is proleptic Gregorian) to 9999.
    @Test func formatsLikeFoundationAcrossTheYears() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var generator = SystemRandomNumberGenerator()
        let samples: [Int64] = [0, -1, 253_402_300_799_999, -11_676_096_000_000, 1_764_000_000_000]
            + (0..<2_000).map { _ in Int64.random(in: -11_676_096_000_000...253_402_300_799_999, using: &generator) }
        for millis in samples {
            let date = Date(timeIntervalSince1970: Double(millis) / 1000)
            #expect(Timestamp.format(unixMilliseconds: millis) == formatter.string(from: date), "\(millis)")
        }
    }

    @Test func parsesWhatItFormatsAndNumericOffsets() throws {
        for millis: Int64 in [0, 1, 999, 1_767_225_600_000, 4_102_444_799_999, -86_400_001] {
            let text = Timestamp.format(unixMilliseconds: millis)
            #expect(Timestamp.parse(text)?.unixMilliseconds == millis, "\(text)")
        }
        #expect(Timestamp.parse("2026-01-01T08:00:00+08:00")?.unixMilliseconds == 1_767_225_600_000)
        #expect(Timestamp.parse("2026-01-01T00:00:00.5Z")?.unixMilliseconds == 1_767_225_600_500)
    }

    @Test(arguments: ["", "2026-01-01", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "2026-01-01T25:00:00Z", "2026-01-01T00:00:00.Z",
                      "2026-01-01T00:00:00Zjunk"])
    func refusesTextThatIsNotRFC3339(_ text: String) {
        #expect(Timestamp.parse(text) == nil)
    }
}

@Suite struct UserIDTests {
    @Test(arguments: ["a", "alice", "u_123", "alice@example.com", "tenant:42", "A-B.c", String(repeating: "x", count: 128)])
    func acceptsPlatformStyleIDs(_ raw: String) throws {
        #expect(try UserID(validating: raw).rawValue == raw)
    }

    @Test(arguments: ["", "has space", "slash/inside", "emoji😀", String(repeating: "x", count: 129), "quote\"", "percent%20"])
    func refusesIDsOutsideTheAlphabetOrLength(_ raw: String) {
        #expect(throws: ParleyError.self) { try UserID(validating: raw) }
        do {
            _ = try UserID(validating: raw)
        } catch {
            #expect(error.code == "identity.invalid_user_id")
        }
    }

    @Test func decodingAnInvalidIDFromJSONThrowsTheIdentityError() {
        let data = Data(#"["bad id"]"#.utf8)
        do {
            _ = try JSONDecoder().decode([UserID].self, from: data)
            Issue.record("decoding should fail")
        } catch let error as ParleyError {
            #expect(error.code == "identity.invalid_user_id")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}

@Suite struct CursorAndPageTests {
    @Test func cursorsRoundTripAndRejectForgeries() throws {
        let cursor = Cursor.encode("alice@example.com")
        #expect(try Cursor.decode(cursor) == "alice@example.com")
        #expect(throws: ParleyError.self) { try Cursor.decode("!!not base64!!") }
    }

    @Test func pageLimitsAreBounded() throws {
        #expect(try PageRequest(limit: 1).limit == 1)
        #expect(try PageRequest(limit: 200).limit == 200)
        #expect(throws: ParleyError.self) { try PageRequest(limit: 0) }
        #expect(throws: ParleyError.self) { try PageRequest(limit: 201) }
    }

    @Test func base64URLRoundTripsEveryByteLength() {
        for length in 0..<40 {
            let data = Data((0..<length).map { UInt8(($0 * 37 + 11) % 256) })
            let text = data.base64URLEncodedString()
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(Data(base64URLEncoded: text) == data)
        }
    }
}

@Suite struct IDGeneratorTests {
    @Test func idsAreUniqueAndSortInCreationOrderEvenWithinOneMillisecond() {
        let clock = ManualWallClock()
        let generator = SortableIDGenerator(clock: clock)
        var ids: [String] = []
        for round in 0..<3000 {
            if round % 1000 == 0 { clock.advance(by: 0.001) }
            ids.append(generator.next(prefix: "m_"))
        }
        #expect(Set(ids).count == ids.count)
        #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 })
        #expect(ids.allSatisfy { $0.hasPrefix("m_") && $0.count == 28 })
    }
}

@Suite struct JSONValueTests {
    @Test func roundTripsNestedValuesKeepingIntegersExact() throws {
        let value: JSONValue = .object([
            "n": .int(9_007_199_254_740_993), "d": .double(1.5), "s": "x", "b": true, "z": .null,
            "a": .array([.int(1), .object(["k": "v"])]),
        ])
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == value)
    }
}
