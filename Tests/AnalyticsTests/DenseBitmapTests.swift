import Analytics
import Foundation
import Testing

/// The bitmap behind exact distinct counts: membership, union, and the stored form, across the switch from
/// sorted arrays to bitsets.
@Suite struct DenseBitmapTests {
    @Test func insertingCountsEachValueOnceAcrossContainers() {
        var bitmap = DenseBitmap()
        let inserted = [bitmap.insert(5), bitmap.insert(5), bitmap.insert(70_000), bitmap.insert(UInt32.max)]
        #expect(inserted == [true, false, true, true])
        #expect(bitmap.count == 3)
        #expect(bitmap.contains(70_000) && !bitmap.contains(70_001))
        #expect(bitmap.values == [5, 70_000, UInt32.max])
    }

    @Test func aContainerBecomesABitsetPastFourThousandValuesAndKeepsEveryValue() throws {
        var bitmap = DenseBitmap()
        for value in stride(from: UInt32(0), to: 20_000, by: 3) { bitmap.insert(value) }
        #expect(bitmap.count == 6_667)
        let decoded = try DenseBitmap(encoded: bitmap.encoded())
        #expect(decoded == bitmap)
        #expect(decoded.values == Array(stride(from: UInt32(0), to: 20_000, by: 3)))
    }

    @Test func unionIsExactForEveryMixOfArraysAndBitsets() throws {
        let a = DenseBitmap(stride(from: UInt32(0), to: 30_000, by: 2))  // bitset
        let b = DenseBitmap([1, 3, 5, 200_000])  // arrays
        let c = DenseBitmap(stride(from: UInt32(1), to: 30_000, by: 2))  // bitset
        let union = a.union(b).union(c)
        #expect(union.count == 30_001)
        #expect(Set(union.values) == Set(a.values).union(b.values).union(c.values))
        var arrays = DenseBitmap(0..<3_000)
        arrays.formUnion(DenseBitmap(2_000..<5_000))
        #expect(arrays.count == 5_000)
        #expect(try DenseBitmap(encoded: arrays.encoded()).count == 5_000)
    }

    @Test func aCorruptBlobIsRefused() throws {
        #expect(throws: DenseBitmap.Corrupt.self) { try DenseBitmap(encoded: Data([1, 2, 3])) }
        var bytes = [UInt8](DenseBitmap([1, 2, 3]).encoded())
        bytes.removeLast()
        #expect(throws: DenseBitmap.Corrupt.self) { try DenseBitmap(encoded: Data(bytes)) }
        #expect(try DenseBitmap(encoded: DenseBitmap().encoded()).isEmpty)
    }

    @Test func localDaysFollowTheZoneIncludingDaylightSavingChanges() throws {
        let shanghai = try #require(ReportingZone(identifier: "Asia/Shanghai"))
        let instant = Date(timeIntervalSince1970: 1_767_310_200)  // 2026-01-01T23:30:00Z
        let utcDay = ReportingZone.utc.day(ofMilliseconds: instant.unixMilliseconds)
        #expect(shanghai.day(ofMilliseconds: instant.unixMilliseconds) == utcDay + 1)
        #expect(shanghai.start(ofDay: utcDay + 1) == (utcDay + 1) * 86_400_000 - 8 * 3_600_000)
        // New York's 2026-03-08 lasts 23 hours.
        let newYork = try #require(ReportingZone(identifier: "America/New_York"))
        let march8 = newYork.day(ofMilliseconds: 1_772_971_200_000)  // 2026-03-08T12:00:00Z
        #expect(newYork.start(ofDay: march8 + 1) - newYork.start(ofDay: march8) == 23 * 3_600_000)
        #expect(newYork.start(ofDay: march8) == 1_772_946_000_000)  // 05:00Z
        #expect(ReportingZone(identifier: "Not/AZone") == nil)
    }
}
