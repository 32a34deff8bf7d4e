import Foundation

/// Prints `value` as one JSON object on one line, keys sorted, so that every `--json` output is
/// written by `JSONEncoder` from a `Codable` type and reads back with any JSON parser.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    // An unreachable nearest item has distance infinity; JSON has no number for it.
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    printLine(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// A value of a JSON object whose keys are chosen at run time (`eval-descriptor`).
enum JSONScalar: Encodable {
    case text(String)
    case integer(Int)
    case number(Double)

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        }
    }
}

func printLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
