import TOMLKit

/// A value in a configuration file.
public enum ConfigValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case number(Double)
    case boolean(Bool)
    /// An array of values (`hosts = ["a", "b"]`).
    case list([ConfigValue])
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

/// A cluster file read as TOML (TOMLKit, on toml++): every valid TOML document parses, single-
/// quoted, multi-line and inline-table values included. What the cluster reads from it is kept in
/// three shapes: top-level keys, `[name]` tables of keys, and `[[name]]` arrays of such tables.
/// Anything else (a table inside a table, a date) is refused with the key's name.
public struct ConfigDocument: Sendable {
    /// Top-level keys.
    public var root: [String: ConfigValue] = [:]
    /// `[name]` tables.
    public var tables: [String: [String: ConfigValue]] = [:]
    /// `[[name]]` entries, in file order.
    public var arrays: [String: [[String: ConfigValue]]] = [:]

    public init(parsing text: String) throws(ConfigError) {
        let document: TOMLTable
        do {
            document = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw .syntax(line: error.source.begin.line, detail: "\(error.description) (column \(error.source.begin.column))")
        } catch {
            throw .syntax(line: 0, detail: "\(error)")
        }
        for key in document.keys {
            guard let value = document[key] else { continue }
            if let table = value.table {
                tables[key] = try Self.keys(of: table, in: key)
            } else if let array = value.array, !array.isEmpty, array.allSatisfy({ $0.table != nil }) {
                var entries: [[String: ConfigValue]] = []
                for entry in array { entries.append(try Self.keys(of: entry.table!, in: "[\(key)]")) }
                arrays[key] = entries
            } else {
                root[key] = try Self.value(value, key: key)
            }
        }
    }

    /// The keys of one table; a table inside it is not something a cluster file holds.
    static func keys(of table: TOMLTable, in name: String) throws(ConfigError) -> [String: ConfigValue] {
        var values: [String: ConfigValue] = [:]
        for key in table.keys {
            guard let value = table[key] else { continue }
            guard value.table == nil else {
                throw .invalid("[\(name)] holds a table \"\(key)\": cluster files use top-level keys, [tables] and [[arrays]] only")
            }
            values[key] = try Self.value(value, key: key)
        }
        return values
    }

    static func value(_ value: any TOMLValueConvertible, key: String) throws(ConfigError) -> ConfigValue {
        if let flag = value.bool { return .boolean(flag) }
        if let integer = value.int { return .integer(integer) }
        if let number = value.double { return .number(number) }
        if let text = value.string { return .string(text) }
        if let array = value.array {
            var items: [ConfigValue] = []
            for item in array { items.append(try Self.value(item, key: key)) }
            return .list(items)
        }
        throw .wrongType(key: key, expected: "a string, a number, true or false, or an array of them")
    }
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

    /// An array of strings (`hosts = ["a", "b"]`); a single string counts as an array of one.
    public func strings(_ key: String, default value: [String]? = nil) throws(ConfigError) -> [String] {
        switch values[key] {
        case .string(let text): return [text]
        case .list(let items):
            var texts: [String] = []
            for item in items {
                guard case .string(let text) = item else { throw .wrongType(key: key, expected: "an array of quoted strings") }
                texts.append(text)
            }
            return texts
        case nil: if let value { return value }; throw .missing(key: key, table: name)
        default: throw .wrongType(key: key, expected: "an array of quoted strings")
        }
    }

    public func optionalString(_ key: String) throws(ConfigError) -> String? {
        values[key] == nil ? nil : try string(key)
    }
}
