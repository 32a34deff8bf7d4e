/// A value in a configuration file.
public enum ConfigValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case number(Double)
    case boolean(Bool)
}

/// Errors of reading a cluster configuration; each names the line and what to write instead.
public enum ConfigError: Error, Equatable, CustomStringConvertible {
    case syntax(line: Int, detail: String)
    case missing(key: String, table: String)
    case wrongType(key: String, expected: String)
    case invalid(String)

    public var description: String {
        switch self {
        case .syntax(let line, let detail): return "config line \(line): \(detail)"
        case .missing(let key, let table): return "config: \(table.isEmpty ? "top level" : "[\(table)]") lacks \"\(key)\""
        case .wrongType(let key, let expected): return "config: \"\(key)\" must be \(expected)"
        case .invalid(let detail): return "config: \(detail)"
        }
    }
}

/// The subset of TOML that cluster files use: `key = value` pairs (strings in double quotes,
/// integers, decimals, true/false), `[table]` headers, `[[array]]` tables and `#` comments.
public struct ConfigDocument: Sendable {
    /// Top-level keys.
    public var root: [String: ConfigValue] = [:]
    /// `[name]` tables.
    public var tables: [String: [String: ConfigValue]] = [:]
    /// `[[name]]` entries, in file order.
    public var arrays: [String: [[String: ConfigValue]]] = [:]

    public init(parsing text: String) throws(ConfigError) {
        enum Section { case root, table(String), array(String) }
        var section = Section.root
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = ConfigDocument.stripComment(String(rawLine)).trimmingWhitespace()
            if line.isEmpty { continue }
            if line.hasPrefix("[[") {
                guard line.hasSuffix("]]") else { throw .syntax(line: number, detail: "an array table header ends with ]]") }
                let name = String(line.dropFirst(2).dropLast(2)).trimmingWhitespace()
                arrays[name, default: []].append([:])
                section = .array(name)
            } else if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw .syntax(line: number, detail: "a table header ends with ]") }
                let name = String(line.dropFirst().dropLast()).trimmingWhitespace()
                tables[name, default: [:]] = tables[name] ?? [:]
                section = .table(name)
            } else {
                guard let equals = line.firstIndex(of: "=") else { throw .syntax(line: number, detail: "expected key = value") }
                let key = String(line[..<equals]).trimmingWhitespace()
                let value = try ConfigDocument.parseValue(String(line[line.index(after: equals)...]).trimmingWhitespace(), line: number)
                guard !key.isEmpty else { throw .syntax(line: number, detail: "empty key") }
                switch section {
                case .root: root[key] = value
                case .table(let name): tables[name]![key] = value
                case .array(let name): arrays[name]![arrays[name]!.count - 1][key] = value
                }
            }
        }
    }

    static func stripComment(_ line: String) -> String {
        var inString = false
        var result = ""
        for character in line {
            if character == "\"" { inString.toggle() }
            if character == "#", !inString { break }
            result.append(character)
        }
        return result
    }

    static func parseValue(_ text: String, line: Int) throws(ConfigError) -> ConfigValue {
        if text.hasPrefix("\"") {
            guard text.count >= 2, text.hasSuffix("\"") else { throw .syntax(line: line, detail: "unterminated string") }
            return .string(String(text.dropFirst().dropLast()))
        }
        if text == "true" { return .boolean(true) }
        if text == "false" { return .boolean(false) }
        if let integer = Int(text.replacingUnderscores()) { return .integer(integer) }
        if let number = Double(text) { return .number(number) }
        throw .syntax(line: line, detail: "cannot read value \(text): quote strings, e.g. \"tcp://127.0.0.1:7700\"")
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" || first == "\r" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" || last == "\r" { scalars.removeLast() }
        return String(scalars)
    }

    func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}

/// Typed look-ups in one table.
public struct ConfigTable {
    let values: [String: ConfigValue]
    let name: String

    public func string(_ key: String, default value: String? = nil) throws(ConfigError) -> String {
        switch values[key] {
        case .string(let text): return text
        case nil: if let value { return value }; throw .missing(key: key, table: name)
        default: throw .wrongType(key: key, expected: "a quoted string")
        }
    }

    public func integer(_ key: String, default value: Int? = nil) throws(ConfigError) -> Int {
        switch values[key] {
        case .integer(let number): return number
        case nil: if let value { return value }; throw .missing(key: key, table: name)
        default: throw .wrongType(key: key, expected: "an integer")
        }
    }

    public func boolean(_ key: String, default value: Bool? = nil) throws(ConfigError) -> Bool {
        switch values[key] {
        case .boolean(let flag): return flag
        case nil: if let value { return value }; throw .missing(key: key, table: name)
        default: throw .wrongType(key: key, expected: "true or false")
        }
    }

    public func optionalString(_ key: String) throws(ConfigError) -> String? {
        values[key] == nil ? nil : try string(key)
    }
}
