import ArgumentParser
import ClusterModel
import ErrorKinds
import Foundation

/// `sightline config show`: a cluster file as the cluster reads it, for people and for scripts
/// (which then never parse TOML themselves).
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Read a cluster configuration file as the coordinator does.",
        subcommands: [ConfigShowCommand.self])
}

struct ConfigShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Check a cluster file and print its keys (all, one with --get, or as JSON).",
        discussion: """
            The file is checked as the coordinator checks it (exit 2 with the line or key at fault). \
            Keys are dotted: listen, index.dimension, workers.url (one line per [[workers]] entry, empty when \
            that entry lacks it), workers.0.url (the first entry only). A key the file does not set prints nothing.
            Example: sightline config show --config cluster/local.toml --get workers.url
            """)

    @Option(help: "The cluster file (TOML).")
    var config: String

    @Option(help: "Print only this key's value.")
    var get: String?

    @Flag(help: "Print the file's keys as one JSON object.")
    var json = false

    func run() throws {
        try reportingErrors {
            let text: String
            do {
                text = try String(contentsOfFile: config, encoding: .utf8)
            } catch {
                throw SightlineError.badInput("cannot read \(config): \(error.localizedDescription)")
            }
            _ = try ClusterConfig(parsing: text)
            let document = try ConfigDocument(parsing: text)
            if json {
                let data = try JSONSerialization.data(withJSONObject: Self.jsonObject(document),
                                                      options: [.sortedKeys, .withoutEscapingSlashes])
                printLine(String(decoding: data, as: UTF8.self))
            } else if let get {
                for line in Self.lookup(get, in: document) { printLine(line) }
            } else {
                for (key, value) in Self.flattened(document) { printLine("\(key) = \(Self.text(value))") }
            }
        }
    }

    /// The values `key` names: one for a top-level or table key, one per entry for an array key.
    static func lookup(_ key: String, in document: ConfigDocument) -> [String] {
        let parts = key.split(separator: ".", maxSplits: 2).map(String.init)
        if parts.count == 1 { return document.root[key].map { [text($0)] } ?? [] }
        if let table = document.tables[parts[0]], parts.count == 2 { return table[parts[1]].map { [text($0)] } ?? [] }
        guard let entries = document.arrays[parts[0]] else { return [] }
        if parts.count == 3, let index = Int(parts[1]) {
            return entries.indices.contains(index) ? entries[index][parts[2]].map { [text($0)] } ?? [] : []
        }
        return parts.count == 2 ? entries.map { $0[parts[1]].map(text) ?? "" } : []
    }

    /// Every key, dotted, in a stable order.
    static func flattened(_ document: ConfigDocument) -> [(String, ConfigValue)] {
        var lines = document.root.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        for (name, table) in document.tables.sorted(by: { $0.key < $1.key }) {
            lines += table.sorted { $0.key < $1.key }.map { ("\(name).\($0.key)", $0.value) }
        }
        for (name, entries) in document.arrays.sorted(by: { $0.key < $1.key }) {
            for (index, entry) in entries.enumerated() {
                lines += entry.sorted { $0.key < $1.key }.map { ("\(name).\(index).\($0.key)", $0.value) }
            }
        }
        return lines
    }

    /// A value as a script reads it: strings bare, arrays comma-separated.
    static func text(_ value: ConfigValue) -> String {
        switch value {
        case .string(let text): return text
        case .integer(let number): return "\(number)"
        case .number(let number): return "\(number)"
        case .boolean(let flag): return flag ? "true" : "false"
        case .list(let items): return items.map(text).joined(separator: ",")
        }
    }

    static func jsonValue(_ value: ConfigValue) -> Any {
        switch value {
        case .string(let text): return text
        case .integer(let number): return number
        case .number(let number): return number
        case .boolean(let flag): return flag
        case .list(let items): return items.map(jsonValue)
        }
    }

    static func jsonObject(_ document: ConfigDocument) -> [String: Any] {
        var object: [String: Any] = document.root.mapValues(jsonValue)
        for (name, table) in document.tables { object[name] = table.mapValues(jsonValue) }
        for (name, entries) in document.arrays { object[name] = entries.map { $0.mapValues(jsonValue) } }
        return object
    }
}
