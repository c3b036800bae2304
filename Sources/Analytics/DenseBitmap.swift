import Foundation

/// An exact set of 32-bit integers (dense user or conversation numbers), stored roaring-style: values are
/// split by their high 16 bits into containers of at most 65,536 values; a container holds a sorted array
/// of low halves while it has at most 4,096 values, and a 1,024-word bitset after that.
///
/// The serialised form (`encoded()`, stored as a BLOB/BYTEA) is little-endian:
/// `"PB"`, version `1`, container count (UInt32), then per container its key (UInt16), its type (0 array,
/// 1 bitset), and either a count (UInt16, count − 1) and that many UInt16 values, or 1,024 UInt64 words.
/// A full day of 1,000,000 users costs at most 16 bitset containers, about 128 KB.
public struct DenseBitmap: Sendable, Equatable {
    enum Container: Sendable, Equatable {
        case array([UInt16])
        case bitset([UInt64])

        var cardinality: Int {
            switch self {
            case .array(let values): return values.count
            case .bitset(let words):
                return words.withUnsafeBufferPointer { buffer in
                    var total = 0
                    for word in buffer { total &+= word.nonzeroBitCount }
                    return total
                }
            }
        }
    }

    static let arrayLimit = 4096
    static let wordCount = 1024

    /// Container keys, ascending, and their containers at the same index.
    private(set) var keys: [UInt16] = []
    private(set) var containers: [Container] = []

    public init() {}

    public init(_ values: some Sequence<UInt32>) {
        for value in values { insert(value) }
    }

    public var isEmpty: Bool { containers.isEmpty }

    /// How many values the set holds.
    public var count: Int {
        var total = 0
        for container in containers { total += container.cardinality }
        return total
    }

    public func contains(_ value: UInt32) -> Bool {
        guard let index = index(of: UInt16(truncatingIfNeeded: value >> 16)) else { return false }
        let low = UInt16(truncatingIfNeeded: value)
        switch containers[index] {
        case .array(let values): return Self.search(values, low).found
        case .bitset(let words): return words[Int(low >> 6)] & (1 << UInt64(low & 63)) != 0
        }
    }

    /// Adds `value`; returns whether it was new.
    @discardableResult
    public mutating func insert(_ value: UInt32) -> Bool {
        let key = UInt16(truncatingIfNeeded: value >> 16)
        let low = UInt16(truncatingIfNeeded: value)
        let position = Self.search(keys, key)
        if !position.found {
            keys.insert(key, at: position.index)
            containers.insert(.array([low]), at: position.index)
            return true
        }
        switch containers[position.index] {
        case .array(var values):
            let slot = Self.search(values, low)
            if slot.found { return false }
            containers[position.index] = .array([])  // release the reference so the insert below does not copy
            if values.count < Self.arrayLimit {
                values.insert(low, at: slot.index)
                containers[position.index] = .array(values)
            } else {
                var words = Self.words(from: values)
                words[Int(low >> 6)] |= 1 << UInt64(low & 63)
                containers[position.index] = .bitset(words)
            }
            return true
        case .bitset(var words):
            let bit: UInt64 = 1 << UInt64(low & 63)
            if words[Int(low >> 6)] & bit != 0 { return false }
            containers[position.index] = .array([])
            words[Int(low >> 6)] |= bit
            containers[position.index] = .bitset(words)
            return true
        }
    }

    /// Adds every value of `other` (set union, in place). Bitset containers are OR-ed word by word without copying.
    public mutating func formUnion(_ other: DenseBitmap) {
        for (key, container) in zip(other.keys, other.containers) {
            let position = Self.search(keys, key)
            if position.found {
                Self.unionInPlace(&containers[position.index], container)
            } else {
                keys.insert(key, at: position.index)
                containers.insert(container, at: position.index)
            }
        }
    }

    public func union(_ other: DenseBitmap) -> DenseBitmap {
        var copy = self
        copy.formUnion(other)
        return copy
    }

    /// The values, ascending.
    public var values: [UInt32] {
        var result: [UInt32] = []
        for (key, container) in zip(keys, containers) {
            let high = UInt32(key) << 16
            switch container {
            case .array(let lows): result += lows.map { high | UInt32($0) }
            case .bitset(let words):
                for (index, word) in words.enumerated() where word != 0 {
                    var rest = word
                    while rest != 0 {
                        result.append(high | UInt32(index * 64 + rest.trailingZeroBitCount))
                        rest &= rest - 1
                    }
                }
            }
        }
        return result
    }

    // MARK: Serialisation

    static let magic: [UInt8] = [0x50, 0x42, 1]

    /// The stored form (see the type's documentation).
    public func encoded() -> Data {
        var bytes: [UInt8] = Self.magic
        var size = 7
        for container in containers {
            switch container {
            case .array(let values): size += 5 + values.count * 2
            case .bitset: size += 3 + Self.wordCount * 8
            }
        }
        bytes.reserveCapacity(size)
        Self.append(UInt32(containers.count), to: &bytes)
        for (key, container) in zip(keys, containers) {
            Self.append(key, to: &bytes)
            switch container {
            case .array(let values):
                bytes.append(0)
                Self.append(UInt16(values.count - 1), to: &bytes)
                for value in values { Self.append(value, to: &bytes) }
            case .bitset(let words):
                bytes.append(1)
                for word in words { Self.append(word, to: &bytes) }
            }
        }
        return Data(bytes)
    }

    /// Reads the stored form; throws `DenseBitmap.Corrupt` on anything else.
    public init(encoded data: Data) throws {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var offset = 0
            func need(_ count: Int) throws {
                guard offset + count <= raw.count else { throw Corrupt() }
            }
            func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
                try need(MemoryLayout<T>.size)
                var value = T.zero
                withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + MemoryLayout<T>.size])) }
                offset += MemoryLayout<T>.size
                return T(littleEndian: value)
            }
            try need(3)
            guard raw[0] == Self.magic[0], raw[1] == Self.magic[1], raw[2] == Self.magic[2] else { throw Corrupt() }
            offset = 3
            let count = Int(try read(UInt32.self))
            guard count <= 65_536 else { throw Corrupt() }
            keys.reserveCapacity(count)
            containers.reserveCapacity(count)
            var previous: Int = -1
            for _ in 0..<count {
                let key = try read(UInt16.self)
                guard Int(key) > previous else { throw Corrupt() }
                previous = Int(key)
                try need(1)
                let type = raw[offset]
                offset += 1
                switch type {
                case 0:
                    let values = Int(try read(UInt16.self)) + 1
                    try need(values * 2)
                    var lows = [UInt16](repeating: 0, count: values)
                    lows.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + values * 2])) }
                    offset += values * 2
                    if UInt16(littleEndian: 1) != 1 { lows = lows.map { UInt16(littleEndian: $0) } }
                    containers.append(.array(lows))
                case 1:
                    try need(Self.wordCount * 8)
                    var words = [UInt64](repeating: 0, count: Self.wordCount)
                    words.withUnsafeMutableBytes {
                        $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + Self.wordCount * 8]))
                    }
                    offset += Self.wordCount * 8
                    if UInt64(littleEndian: 1) != 1 { words = words.map { UInt64(littleEndian: $0) } }
                    containers.append(.bitset(words))
                default:
                    throw Corrupt()
                }
                keys.append(key)
            }
            guard offset == raw.count else { throw Corrupt() }
        }
    }

    public struct Corrupt: Error, CustomStringConvertible {
        public var description: String { "a stored bitmap is not in the expected format" }
    }

    // MARK: Helpers

    private func index(of key: UInt16) -> Int? {
        let position = Self.search(keys, key)
        return position.found ? position.index : nil
    }

    /// Binary search: where `value` is, or where it would be inserted.
    static func search(_ values: [UInt16], _ value: UInt16) -> (found: Bool, index: Int) {
        var low = 0
        var high = values.count
        while low < high {
            let middle = (low + high) / 2
            if values[middle] < value { low = middle + 1 } else { high = middle }
        }
        return (low < values.count && values[low] == value, low)
    }

    static func words(from values: [UInt16]) -> [UInt64] {
        var words = [UInt64](repeating: 0, count: wordCount)
        for value in values { words[Int(value >> 6)] |= 1 << UInt64(value & 63) }
        return words
    }

    static func unionInPlace(_ left: inout Container, _ right: Container) {
        var taken = left
        left = .array([])
        switch (taken, right) {
        case (.bitset(var words), .bitset(let other)):
            taken = .array([])  // `words` is now the only reference: OR in place
            words.withUnsafeMutableBufferPointer { target in
                other.withUnsafeBufferPointer { source in
                    for index in 0..<wordCount { target[index] |= source[index] }
                }
            }
            left = .bitset(words)
        case (.bitset(var words), .array(let values)):
            taken = .array([])
            for value in values { words[Int(value >> 6)] |= 1 << UInt64(value & 63) }
            left = .bitset(words)
        case (.array(let values), .bitset(var words)):
            for value in values { words[Int(value >> 6)] |= 1 << UInt64(value & 63) }
            left = .bitset(words)
        case (.array(let a), .array(let b)):
            var merged: [UInt16] = []
            merged.reserveCapacity(a.count + b.count)
            var i = 0
            var j = 0
            while i < a.count || j < b.count {
                if j == b.count || (i < a.count && a[i] < b[j]) {
                    merged.append(a[i]); i += 1
                } else if i == a.count || b[j] < a[i] {
                    merged.append(b[j]); j += 1
                } else {
                    merged.append(a[i]); i += 1; j += 1
                }
            }
            left = merged.count <= arrayLimit ? .array(merged) : .bitset(words(from: merged))
        }
    }

    static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}
