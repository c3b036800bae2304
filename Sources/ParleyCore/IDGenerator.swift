import Foundation
import Synchronization

/// The seam through which every context makes new ids.
///
/// Ids are opaque to clients. The default generator makes them sortable by creation time (48 bits of
/// milliseconds, then 80 random bits, Crockford base32, like a ULID) with a short type prefix such as
/// `c_` or `m_`, so logs show what an id names.
public protocol IDGenerator: Sendable {
    func next(prefix: String) -> String
}

public final class SortableIDGenerator: IDGenerator {
    private static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz".utf8)
    private let clock: any WallClock
    /// Keeps ids from one process strictly increasing even within one millisecond.
    private let last: Mutex<(millis: UInt64, random: (UInt64, UInt16))>

    public init(clock: any WallClock = SystemWallClock()) {
        self.clock = clock
        last = Mutex((0, (0, 0)))
    }

    public func next(prefix: String) -> String {
        let now = UInt64(max(0, clock.now().unixMilliseconds))
        let (millis, random) = last.withLock { state -> (UInt64, (UInt64, UInt16)) in
            if now <= state.millis {
                // Same (or earlier) millisecond: increment the random part instead of drawing anew.
                var (high, low) = state.random
                if low == UInt16.max { high &+= 1; low = 0 } else { low += 1 }
                state.random = (high, low)
            } else {
                // Leave headroom in the high part so increments within a millisecond never wrap.
                state = (now, (UInt64.random(in: 0...(UInt64.max >> 1)), UInt16.random(in: 0...UInt16.max)))
            }
            return (state.millis, state.random)
        }
        var out = [UInt8](prefix.utf8)
        out.reserveCapacity(prefix.utf8.count + 26)
        // 48-bit time as 10 base32 digits, then the 80 random bits (high 64, low 16) as 16 digits, most significant first.
        for shift in stride(from: 45, through: 0, by: -5) {
            out.append(Self.alphabet[Int((millis >> UInt64(shift)) & 31)])
        }
        for bit in stride(from: 75, through: 0, by: -5) {
            // Five bits starting at `bit` of the 80-bit number high·2^16 + low.
            let value: UInt64
            if bit >= 16 {
                value = (random.0 >> UInt64(bit - 16)) & 31
            } else if bit + 5 > 16 {
                value = ((random.0 << UInt64(16 - bit)) | (UInt64(random.1) >> UInt64(bit))) & 31
            } else {
                value = (UInt64(random.1) >> UInt64(bit)) & 31
            }
            out.append(Self.alphabet[Int(value)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
