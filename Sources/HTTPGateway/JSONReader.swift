/// A strict JSON reader (RFC 8259) for request bodies that walks the bytes in place.
///
/// It exists so that a body's limits are checked before its values cost memory: the routes walk
/// a body once with it, counting arrays and checking vector lengths against the collection's
/// dimension as each vector ends (no allocation), and only then read the numbers they will use
/// into arrays of exactly reserved size. Foundation's decoders build the whole document first:
/// 16 MiB of `[0],` took ~165 MB and seconds before a count could be checked.
///
/// Strict: numbers follow JSON's grammar (no NaN, Infinity, hex, `+` or leading zeros; `-0` and
/// exponents are numbers), strings are valid UTF-8 with paired `\u` surrogates and no raw control
/// characters, whitespace is JSON's four bytes, values nest at most `maxDepth` deep, nothing but
/// whitespace follows the top-level object (a UTF-8 byte order mark may precede it). Every
/// complaint is a 400 that names the byte offset or the field (`.vectors[3][0]`).
///
/// The reader borrows the body's bytes: it is valid only inside the closure of `read(_:_:)`.
/// - Complexity: O(n) in the bytes walked; the walk itself allocates nothing but error messages
///   and the member names it compares (at most `maxNameBytes` each).
struct JSONReader {
    /// Deepest nesting accepted (the top-level object is 1). The routes' own fields nest 3 deep;
    /// this bounds the recursion spent skipping fields a route does not know.
    static let maxDepth = 32
    /// Longest member name compared with a route's field names; longer names are unknown fields.
    static let maxNameBytes = 64

    let bytes: UnsafeBufferPointer<UInt8>
    /// Offset of the next byte to read.
    private(set) var position: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>, at position: Int) {
        self.bytes = bytes
        self.position = position
    }

    /// Runs `walk` with a reader at the start of `body`.
    static func read<T>(_ body: [UInt8], _ walk: (inout JSONReader) throws -> T) throws -> T {
        guard !body.isEmpty else { throw APIError.badRequest("the body is empty: send a JSON object") }
        return try body.withUnsafeBufferPointer { buffer in
            let byteOrderMark = buffer.count >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF
            var reader = JSONReader(buffer, at: byteOrderMark ? 3 : 0)
            return try walk(&reader)
        }
    }

    /// A reader at `position` of the same body (to read again a value an earlier walk checked).
    func reader(at position: Int) -> JSONReader { JSONReader(bytes, at: position) }

    // MARK: Objects and arrays

    /// Reads the body's one object. `member(name, &reader)` reads the value of each member whose
    /// name is one of `names`; members of other names are checked and skipped. A name given twice is
    /// refused: parsers disagree on which copy wins, and the copy checked must be the one used.
    /// Only whitespace may follow the object.
    mutating func readObject(names: [String], _ member: (String, inout JSONReader) throws -> Void) throws {
        skipWhitespace()
        guard current == ascii("{") else { throw current == nil ? malformed("a JSON object") : wrongType("the top level", "a JSON object") }
        position += 1
        var seen = [Bool](repeating: false, count: names.count)
        skipWhitespace()
        if current == ascii("}") {
            position += 1
        } else {
            while true {
                skipWhitespace()
                guard current == ascii("\"") else { throw malformed("a field name in double quotes") }
                let name = try readName()
                skipWhitespace()
                guard current == ascii(":") else { throw malformed("':' after a field name") }
                position += 1
                skipWhitespace()
                if let name, let index = names.firstIndex(of: name) {
                    guard !seen[index] else { throw APIError.badRequest("field \"\(name)\" appears twice: send each field once") }
                    seen[index] = true
                    try member(name, &self)
                } else {
                    try skipValue(depth: 1)
                }
                skipWhitespace()
                if current == ascii(",") { position += 1; continue }
                if current == ascii("}") { position += 1; break }
                throw malformed("',' or '}' after a field")
            }
        }
        skipWhitespace()
        guard position == bytes.count else { throw malformed("the end of the body after the JSON object") }
    }

    /// True (and the literal consumed) when the next value is `null`: an optional field sent as
    /// null counts as absent.
    mutating func readNull() throws -> Bool {
        skipWhitespace()
        guard current == ascii("n") else { return false }
        try literal("null")
        return true
    }

    /// Walks the array at the reader: `element(index, &reader)` reads each element. When the
    /// array holds more than `limit` elements, `tooMany()` is thrown before the one past the
    /// limit is read. Returns the count.
    mutating func readArray(_ path: @autoclosure () -> String, of expected: String, limit: Int = .max,
                            tooMany: () -> APIError = { APIError.badRequest("too many elements") },
                            _ element: (Int, inout JSONReader) throws -> Void) throws -> Int {
        skipWhitespace()
        guard current == ascii("[") else { throw wrongType(path(), "an array of \(expected)") }
        position += 1
        skipWhitespace()
        if current == ascii("]") {
            position += 1
            return 0
        }
        var count = 0
        while true {
            guard count < limit else { throw tooMany() }
            try element(count, &self)
            count += 1
            skipWhitespace()
            if current == ascii(",") { position += 1; continue }
            if current == ascii("]") { position += 1; return count }
            throw malformed("',' or ']' after an element of \(path())")
        }
    }

    /// Steps over any one value, checking it; containers may nest `maxDepth − depth` more levels.
    mutating func skipValue(depth: Int) throws {
        skipWhitespace()
        guard let byte = current else { throw malformed("a value") }
        switch byte {
        case ascii("{"), ascii("["):
            guard depth < Self.maxDepth else {
                throw APIError.badRequest("malformed JSON at byte \(position): values nest deeper than \(Self.maxDepth) levels")
            }
            let isObject = byte == ascii("{")
            let close = isObject ? ascii("}") : ascii("]")
            position += 1
            skipWhitespace()
            if current == close {
                position += 1
                return
            }
            while true {
                if isObject {
                    skipWhitespace()
                    guard current == ascii("\"") else { throw malformed("a field name in double quotes") }
                    _ = try scanString()
                    skipWhitespace()
                    guard current == ascii(":") else { throw malformed("':' after a field name") }
                    position += 1
                }
                try skipValue(depth: depth + 1)
                skipWhitespace()
                if current == ascii(",") { position += 1; continue }
                if current == close { position += 1; return }
                throw malformed(isObject ? "',' or '}'" : "',' or ']'")
            }
        case ascii("\""): _ = try scanString()
        case ascii("t"): try literal("true")
        case ascii("f"): try literal("false")
        case ascii("n"): try literal("null")
        case ascii("-"), ascii("0") ... ascii("9"): _ = try number("a value")
        default: throw malformed("a value")
        }
    }

    // MARK: Numbers

    /// Steps over the number at the reader, checking JSON's grammar; returns its bytes. Anything
    /// else is a type error at `path`.
    mutating func number(_ path: @autoclosure () -> String) throws -> Range<Int> {
        skipWhitespace()
        let start = position
        if current == ascii("-") { position += 1 }
        guard let first = current, isDigit(first) else {
            let sign = position
            position = start
            if let word = ["NaN", "nan", "Infinity", "inf", "-Infinity", "-inf"].first(where: startsWith) {
                throw APIError.badRequest("malformed JSON at byte \(start) (\(path())): \(word) is not a JSON number; send finite numbers")
            }
            guard sign == start else {
                position = sign
                throw malformed("a digit after '-'")
            }
            throw wrongType(path(), "a number")
        }
        position += 1
        if first != ascii("0") { skipDigits() }
        if current == ascii(".") {
            position += 1
            guard let digit = current, isDigit(digit) else { throw malformed("a digit after '.'") }
            skipDigits()
        }
        if current == ascii("e") || current == ascii("E") {
            position += 1
            if current == ascii("+") || current == ascii("-") { position += 1 }
            guard let digit = current, isDigit(digit) else { throw malformed("a digit in the exponent") }
            skipDigits()
        }
        return start ..< position
    }

    /// The number at the reader as a 32-bit float: correctly rounded (`-0` stays negative zero),
    /// and a 400 when it lies beyond a float's range (±3.4e38).
    mutating func float(_ path: @autoclosure () -> String) throws -> Float {
        let token = try number(path())
        guard let value = Self.float(bytes, token), value.isFinite else {
            throw APIError.badRequest("\(path()) = \(text(token)) is beyond ±3.4e38, the range of a 32-bit float")
        }
        return value
    }

    /// A whole number in Int's range, written without fraction or exponent.
    mutating func integer(_ path: @autoclosure () -> String) throws -> Int {
        let token = try number(path())
        let negative = bytes[token.lowerBound] == ascii("-")
        var value = 0
        for index in (negative ? token.lowerBound + 1 : token.lowerBound) ..< token.upperBound {
            let byte = bytes[index]
            guard isDigit(byte) else {
                throw APIError.badRequest("\(path()) = \(text(token)) is not a whole number: write it without a fraction or exponent")
            }
            let digit = Int(byte &- ascii("0"))
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            guard !overflow, !carry else { throw APIError.badRequest("\(path()) = \(text(token)) is too large") }
            value = sum
        }
        return value
    }

    /// A whole number 0 … 2^64 − 1 (an id), written without fraction or exponent (`-0` is 0).
    mutating func unsigned(_ path: @autoclosure () -> String) throws -> UInt64 {
        let token = try number(path())
        var digits = token
        if bytes[token.lowerBound] == ascii("-") {
            guard token.count == 2, bytes[token.lowerBound + 1] == ascii("0") else {
                throw APIError.badRequest("\(path()) = \(text(token)) is negative: ids are whole numbers 0 … \(UInt64.max)")
            }
            digits = token.lowerBound + 1 ..< token.upperBound
        }
        var value: UInt64 = 0
        for index in digits {
            let byte = bytes[index]
            guard isDigit(byte) else {
                throw APIError.badRequest("\(path()) = \(text(token)) is not a whole number: write it without a fraction or exponent")
            }
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times.addingReportingOverflow(UInt64(byte &- ascii("0")))
            guard !overflow, !carry else { throw APIError.badRequest("\(path()) = \(text(token)) is above \(UInt64.max)") }
            value = sum
        }
        return value
    }

    /// The number `token` of `bytes` as the nearest Float, nil when it is not finite. Plain
    /// integers and decimals whose digits make at most 2^24 take an exact fast path (one
    /// correctly rounded division: both operands are exact floats); the rest go through the C
    /// library's `strtof` in the C locale (`Float.init?(_:)`).
    static func float(_ bytes: UnsafeBufferPointer<UInt8>, _ token: Range<Int>) -> Float? {
        var index = token.lowerBound
        let negative = bytes[index] == ascii("-")
        if negative { index += 1 }
        var mantissa: UInt32 = 0, fractionDigits = 0, inFraction = false, fast = true
        while index < token.upperBound {
            let byte = bytes[index]
            if byte == ascii(".") {
                inFraction = true
            } else if isDigit(byte) {
                mantissa = mantissa &* 10 &+ UInt32(byte &- ascii("0"))
                if inFraction { fractionDigits += 1 }
                guard mantissa <= 1 << 24, fractionDigits <= 10 else { fast = false; break }
            } else {
                fast = false  // an exponent
                break
            }
            index += 1
        }
        if fast {
            // 10^0 … 10^10 are exact floats (5^10 < 2^24), as is the mantissa.
            let magnitude = Float(mantissa) / powersOfTen[fractionDigits]
            return negative ? -magnitude : magnitude
        }
        // At most 15 bytes make a small string (no allocation); longer ones are short-lived.
        return Float(String(decoding: UnsafeBufferPointer(rebasing: bytes[token]), as: UTF8.self))
    }

    private static let powersOfTen: [Float] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10]

    // MARK: Strings

    /// Steps over the string at the reader, checking it; a type error at `path` if it is none.
    mutating func skipString(_ path: @autoclosure () -> String) throws {
        skipWhitespace()
        guard current == ascii("\"") else { throw wrongType(path(), "a string") }
        _ = try scanString()
    }

    /// The string at the reader, its escapes decoded.
    mutating func string(_ path: @autoclosure () -> String) throws -> String {
        skipWhitespace()
        guard current == ascii("\"") else { throw wrongType(path(), "a string") }
        let (raw, escaped) = try scanString()
        return decode(raw, escaped: escaped)
    }

    /// A member name (the reader at its quote), or nil when longer than any route's field name.
    private mutating func readName() throws -> String? {
        let (raw, escaped) = try scanString()
        return raw.count <= Self.maxNameBytes ? decode(raw, escaped: escaped) : nil
    }

    /// Steps over a string from its opening quote, checking escapes and UTF-8; returns the bytes
    /// between the quotes and whether they hold escapes.
    private mutating func scanString() throws -> (raw: Range<Int>, escaped: Bool) {
        position += 1
        let start = position
        var escaped = false
        while let byte = current {
            switch byte {
            case ascii("\""):
                position += 1
                return (start ..< position - 1, escaped)
            case ascii("\\"):
                escaped = true
                try scanEscape()
            case 0 ..< 0x20:
                throw APIError.badRequest("malformed JSON at byte \(position): a control character inside a string "
                                          + "(escape it: \\n, \\t, \\u00XX)")
            case 0x20 ..< 0x80:
                position += 1
            default:
                try scanMultiByteCharacter()
            }
        }
        throw malformed("'\"' to end the string")
    }

    /// One escape (the reader at its backslash); `\u` escapes of UTF-16 surrogates must pair.
    private mutating func scanEscape() throws {
        position += 1
        guard let byte = current else { throw malformed("an escape after '\\'") }
        guard byte == ascii("u") else {
            guard Self.simpleEscapes.contains(byte) else { throw malformed("one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX") }
            position += 1
            return
        }
        let unit = try scanHexUnit()
        if (0xDC00 ... 0xDFFF).contains(unit) { throw unpairedSurrogate() }
        guard (0xD800 ... 0xDBFF).contains(unit) else { return }
        guard current == ascii("\\"), position + 1 < bytes.count, bytes[position + 1] == ascii("u") else { throw unpairedSurrogate() }
        position += 1
        guard (0xDC00 ... 0xDFFF).contains(try scanHexUnit()) else { throw unpairedSurrogate() }
    }

    private static let simpleEscapes: [UInt8] = Array("\"\\/bfnrt".utf8)

    /// `uXXXX` (the reader at the `u`) → the UTF-16 unit.
    private mutating func scanHexUnit() throws -> UInt32 {
        position += 1
        guard position + 4 <= bytes.count else { throw malformed("four hex digits after \\u") }
        var unit: UInt32 = 0
        for _ in 0 ..< 4 {
            guard let digit = hexValue(bytes[position]) else { throw malformed("four hex digits after \\u") }
            unit = unit << 4 | digit
            position += 1
        }
        return unit
    }

    private func unpairedSurrogate() -> APIError {
        APIError.badRequest("malformed JSON at byte \(position): a \\u escape of half a UTF-16 surrogate pair")
    }

    /// One UTF-8 character of 2–4 bytes (the reader at its lead byte): no overlong forms, no
    /// surrogates, nothing above U+10FFFF.
    private mutating func scanMultiByteCharacter() throws {
        let lead = bytes[position]
        let (length, second): (Int, ClosedRange<UInt8>) = switch lead {
        case 0xC2 ... 0xDF: (2, 0x80 ... 0xBF)
        case 0xE0: (3, 0xA0 ... 0xBF)
        case 0xE1 ... 0xEC, 0xEE ... 0xEF: (3, 0x80 ... 0xBF)
        case 0xED: (3, 0x80 ... 0x9F)
        case 0xF0: (4, 0x90 ... 0xBF)
        case 0xF1 ... 0xF3: (4, 0x80 ... 0xBF)
        case 0xF4: (4, 0x80 ... 0x8F)
        default: (0, 0 ... 0)
        }
        guard length > 0, position + length <= bytes.count, second.contains(bytes[position + 1]),
              (2 ..< length).allSatisfy({ (0x80 ... 0xBF).contains(bytes[position + $0]) }) else {
            throw APIError.badRequest("malformed JSON at byte \(position): the body is not valid UTF-8")
        }
        position += length
    }

    /// The text of checked string bytes, escapes decoded.
    private func decode(_ raw: Range<Int>, escaped: Bool) -> String {
        let slice = UnsafeBufferPointer(rebasing: bytes[raw])
        guard escaped else { return String(decoding: slice, as: UTF8.self) }
        var utf8: [UInt8] = []
        utf8.reserveCapacity(raw.count)
        var index = 0
        func hexUnit(at start: Int) -> UInt32 { (start ..< start + 4).reduce(0) { $0 << 4 | (hexValue(slice[$1]) ?? 0) } }
        while index < slice.count {
            let byte = slice[index]
            guard byte == ascii("\\") else {
                utf8.append(byte)
                index += 1
                continue
            }
            let kind = slice[index + 1]
            index += 2
            switch kind {
            case ascii("b"): utf8.append(0x08)
            case ascii("f"): utf8.append(0x0C)
            case ascii("n"): utf8.append(0x0A)
            case ascii("r"): utf8.append(0x0D)
            case ascii("t"): utf8.append(0x09)
            case ascii("u"):
                var scalar = hexUnit(at: index)
                index += 4
                if (0xD800 ... 0xDBFF).contains(scalar) {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (hexUnit(at: index + 2) - 0xDC00)
                    index += 6
                }
                // Checked by scanEscape: paired surrogates make a valid scalar.
                utf8.append(contentsOf: Unicode.Scalar(scalar).map { Array(String($0).utf8) } ?? [])
            default: utf8.append(kind)  // " \ /
            }
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    // MARK: Bytes

    private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func skipDigits() {
        while let byte = current, isDigit(byte) { position += 1 }
    }

    private mutating func literal(_ word: StaticString) throws {
        guard startsWith(word.description) else { throw malformed("a value") }
        position += word.utf8CodeUnitCount
    }

    private func startsWith(_ word: String) -> Bool {
        let utf8 = word.utf8
        guard position + utf8.count <= bytes.count else { return false }
        return zip(bytes[position...], utf8).allSatisfy { $0 == $1 }
    }

    /// The bytes of `token` for a message (at most 40 of them).
    private func text(_ token: Range<Int>) -> String {
        let shown = token.prefix(40)
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[shown]), as: UTF8.self) + (shown.count < token.count ? "…" : "")
    }

    func malformed(_ expected: String) -> APIError {
        APIError.badRequest("malformed JSON at byte \(position): expected \(expected), found \(found)")
    }

    /// A value of another type at `path` (or malformed JSON when no value starts here).
    func wrongType(_ path: String, _ expected: String) -> APIError {
        let kind: String? = switch current {
        case ascii("{"): "an object"
        case ascii("["): "an array"
        case ascii("\""): "a string"
        case ascii("t"), ascii("f"): "a boolean"
        case ascii("n"): "null"
        case .some(let byte) where byte == ascii("-") || isDigit(byte): "a number"
        default: nil
        }
        guard let kind else { return malformed(expected) }
        return APIError.badRequest("wrong type at \(path): expected \(expected), found \(kind)")
    }

    private var found: String {
        guard let byte = current else { return "the end of the body" }
        if (0x21 ... 0x7E).contains(byte) { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x" + String(byte, radix: 16, uppercase: true)
    }
}

private func ascii(_ character: Unicode.Scalar) -> UInt8 { UInt8(character.value) }

private func isDigit(_ byte: UInt8) -> Bool { byte &- ascii("0") < 10 }

private func hexValue(_ byte: UInt8) -> UInt32? {
    switch byte {
    case ascii("0") ... ascii("9"): UInt32(byte - ascii("0"))
    case ascii("a") ... ascii("f"): UInt32(byte - ascii("a") + 10)
    case ascii("A") ... ascii("F"): UInt32(byte - ascii("A") + 10)
    default: nil
    }
}
