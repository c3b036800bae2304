import Foundation

/// Static Unicode tables behind the folds. Built once per process, on first use.
enum FoldTables {
    /// Traditional → simplified (OpenCC TSCharacters, 1:1 entries only).
    static let traditionalToSimplified: [UInt32: UInt32] = {
        var table = [UInt32: UInt32](minimumCapacity: TraditionalToSimplifiedTable.pairCount)
        var iterator = TraditionalToSimplifiedTable.pairs.unicodeScalars.makeIterator()
        while let t = iterator.next(), let s = iterator.next() { table[t.value] = s.value }
        return table
    }()

    /// Latin look-alikes (a subset of the UTS #39 confusables for Cyrillic, Greek, Armenian and Latin
    /// variants). Upper-case sources map to upper-case Latin so that case folding still applies after them.
    static let homoglyphs: [UInt32: UInt32] = {
        let pairs: [(UInt32, Character)] = [
            // Cyrillic lower case
            (0x0430, "a"), (0x0435, "e"), (0x043E, "o"), (0x0440, "p"), (0x0441, "c"), (0x0443, "y"), (0x0445, "x"),
            (0x0455, "s"), (0x0456, "i"), (0x0458, "j"), (0x0501, "d"), (0x051B, "q"), (0x051D, "w"), (0x04BB, "h"),
            (0x04CF, "l"), (0x0451, "e"), (0x0457, "i"), (0x04AF, "y"), (0x043A, "k"),
            // Cyrillic upper case
            (0x0410, "A"), (0x0412, "B"), (0x0415, "E"), (0x041A, "K"), (0x041C, "M"), (0x041D, "H"), (0x041E, "O"),
            (0x0420, "P"), (0x0421, "C"), (0x0422, "T"), (0x0423, "Y"), (0x0425, "X"), (0x0405, "S"), (0x0406, "I"),
            (0x0408, "J"), (0x04AE, "Y"), (0x04BA, "H"), (0x04C0, "l"), (0x051A, "Q"), (0x051C, "W"), (0x0401, "E"),
            (0x0407, "I"), (0x0500, "D"),
            // Greek upper case
            (0x0391, "A"), (0x0392, "B"), (0x0395, "E"), (0x0396, "Z"), (0x0397, "H"), (0x0399, "I"), (0x039A, "K"),
            (0x039C, "M"), (0x039D, "N"), (0x039F, "O"), (0x03A1, "P"), (0x03A4, "T"), (0x03A5, "Y"), (0x03A7, "X"),
            // Greek lower case
            (0x03B1, "a"), (0x03B9, "i"), (0x03BA, "k"), (0x03BD, "v"), (0x03BF, "o"), (0x03C1, "p"), (0x03C5, "u"),
            (0x03C7, "x"), (0x03F2, "c"), (0x03F3, "j"),
            // Armenian
            (0x0585, "o"), (0x057D, "u"), (0x0570, "h"), (0x0578, "n"),
            // Latin variants
            (0x0131, "i"), (0x0237, "j"), (0x0261, "g"), (0x2113, "l"), (0x017F, "s"), (0x01C0, "l"),
        ]
        var table = [UInt32: UInt32]()
        for (source, target) in pairs { table[source] = target.unicodeScalars.first!.value }
        return table
    }()

    /// Letter-like symbols that fill the holes of the mathematical alphabets.
    static let letterlike: [UInt32: UInt32] = {
        let pairs: [(UInt32, Character)] = [
            (0x210E, "h"), (0x212C, "B"), (0x2130, "E"), (0x2131, "F"), (0x210B, "H"), (0x2110, "I"), (0x2112, "L"),
            (0x2133, "M"), (0x211B, "R"), (0x212F, "e"), (0x210A, "g"), (0x2134, "o"), (0x212D, "C"), (0x210C, "H"),
            (0x2111, "I"), (0x211C, "R"), (0x2128, "Z"), (0x2102, "C"), (0x210D, "H"), (0x2115, "N"), (0x2119, "P"),
            (0x211A, "Q"), (0x211D, "R"), (0x2124, "Z"), (0x1D6A4, "i"), (0x1D6A5, "j"),
        ]
        var table = [UInt32: UInt32]()
        for (source, target) in pairs { table[source] = target.unicodeScalars.first!.value }
        return table
    }()

    /// Chinese numerals (ordinary and financial forms) → digit value.
    static let chineseDigits: [UInt32: UInt32] = {
        let groups: [(String, UInt32)] = [
            ("〇零", 0), ("一壹弌", 1), ("二贰貳弍", 2), ("三叁弎", 3), ("四肆", 4), ("五伍", 5), ("六陆陸", 6),
            ("七柒", 7), ("八捌", 8), ("九玖", 9),
        ]
        var table = [UInt32: UInt32]()
        for (chars, value) in groups { for s in chars.unicodeScalars { table[s.value] = value } }
        return table
    }()

    /// Precomposed Latin letters → base letter (from the canonical decomposition), plus a few letters with
    /// strokes that do not decompose.
    static let diacriticBase: [UInt32: UInt32] = {
        var table = [UInt32: UInt32]()
        for range in [UInt32(0x00C0)...0x024F, 0x1E00...0x1EFF] {
            for v in range {
                guard let scalar = Unicode.Scalar(v) else { continue }
                let decomposed = String(Character(scalar)).decomposedStringWithCanonicalMapping.unicodeScalars
                guard let first = decomposed.first, decomposed.count > 1, first.value < 0x80,
                    first.properties.isAlphabetic
                else { continue }
                table[v] = first.value
            }
        }
        let manual: [(UInt32, Character)] = [
            (0x00F8, "o"), (0x00D8, "O"), (0x0111, "d"), (0x0110, "D"), (0x0142, "l"), (0x0141, "L"), (0x0127, "h"),
            (0x0126, "H"), (0x0167, "t"), (0x0166, "T"), (0x0180, "b"),
        ]
        for (source, target) in manual { table[source] = target.unicodeScalars.first!.value }
        return table
    }()

    @inline(__always)
    static func isZeroWidth(_ v: UInt32) -> Bool {
        switch v {
        case 0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B...0x180F, 0x200B...0x200F,
            0x202A...0x202E, 0x2060...0x206F, 0x3164, 0xFE00...0xFE0F, 0xFEFF, 0xFFA0, 0x1BCA0...0x1BCA3,
            0x1D173...0x1D17A, 0xE0000...0xE0FFF:
            return true
        default:
            return false
        }
    }

    @inline(__always)
    static func isCombiningMark(_ v: UInt32) -> Bool {
        switch v {
        case 0x0300...0x036F, 0x0483...0x0489, 0x1AB0...0x1AFF, 0x1DC0...0x1DFF, 0x20D0...0x20FF, 0xFE20...0xFE2F:
            return true
        default:
            return false
        }
    }

    /// The ASCII letter for an enclosed or styled Latin letter, or nil.
    static func styledLetter(_ v: UInt32) -> UInt32? {
        switch v {
        case 0x24B6...0x24CF: return 0x41 + (v - 0x24B6)  // Ⓐ
        case 0x24D0...0x24E9: return 0x61 + (v - 0x24D0)  // ⓐ
        case 0x249C...0x24B5: return 0x61 + (v - 0x249C)  // ⒜
        case 0x1F110...0x1F129: return 0x41 + (v - 0x1F110)  // 🄐
        case 0x1F130...0x1F149: return 0x41 + (v - 0x1F130)  // 🄰
        case 0x1F150...0x1F169: return 0x41 + (v - 0x1F150)  // 🅐
        case 0x1F170...0x1F189: return 0x41 + (v - 0x1F170)  // 🅰
        case 0x1D400...0x1D6A3:  // mathematical alphanumerics: 13 alphabets of A–Z a–z
            let offset = (v - 0x1D400) % 52
            return offset < 26 ? 0x41 + offset : 0x61 + (offset - 26)
        case 0x2100...0x214F, 0x1D6A4, 0x1D6A5:
            return letterlike[v]
        default:
            return nil
        }
    }

    /// The numeric value (0…50) of a styled digit, or nil.
    static func styledDigit(_ v: UInt32) -> UInt32? {
        switch v {
        case 0x2460...0x2473: return 1 + (v - 0x2460)  // ①
        case 0x2474...0x2487: return 1 + (v - 0x2474)  // ⑴
        case 0x2488...0x249B: return 1 + (v - 0x2488)  // ⒈
        case 0x24EA, 0x24FF: return 0  // ⓪ ⓿
        case 0x24EB...0x24F4: return 11 + (v - 0x24EB)  // ⓫
        case 0x24F5...0x24FE: return 1 + (v - 0x24F5)  // ⓵
        case 0x2776...0x277F: return 1 + (v - 0x2776)  // ❶
        case 0x2780...0x2789: return 1 + (v - 0x2780)  // ➀
        case 0x278A...0x2793: return 1 + (v - 0x278A)  // ➊
        case 0x3251...0x325F: return 21 + (v - 0x3251)  // ㉑
        case 0x32B1...0x32BF: return 36 + (v - 0x32B1)  // ㊱
        case 0x3220...0x3229: return 1 + (v - 0x3220)  // ㈠
        case 0x3280...0x3289: return 1 + (v - 0x3280)  // ㊀
        case 0x2070: return 0  // ⁰
        case 0x00B9: return 1
        case 0x00B2: return 2
        case 0x00B3: return 3
        case 0x2074...0x2079: return 4 + (v - 0x2074)  // ⁴
        case 0x2080...0x2089: return v - 0x2080  // ₀
        case 0x1F100: return 0  // 🄀
        case 0x1F101...0x1F10A: return v - 0x1F101  // 🄁
        case 0x1D7CE...0x1D7FF: return (v - 0x1D7CE) % 10  // 𝟎
        case 0x3007, 0x4E00...0x9FFF, 0xF900...0xFAFF:
            return chineseDigits[v]
        default:
            if v >= 0x80, let scalar = Unicode.Scalar(v), scalar.properties.numericType == .decimal,
                let value = scalar.properties.numericValue, value >= 0, value <= 9
            {
                return UInt32(value)
            }
            return nil
        }
    }

    /// Simple lower-case mapping when it is a single scalar.
    @inline(__always)
    static func lowercase(_ v: UInt32) -> UInt32 {
        if v < 0x80 { return (0x41...0x5A).contains(v) ? v + 0x20 : v }
        guard let scalar = Unicode.Scalar(v), scalar.properties.changesWhenLowercased else { return v }
        let mapped = scalar.properties.lowercaseMapping.unicodeScalars
        guard mapped.count == 1, let first = mapped.first else { return v }
        return first.value
    }
}
