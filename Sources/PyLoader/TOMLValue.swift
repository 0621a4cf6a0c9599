/// A parsed TOML value, as Python's `tomllib` hands it over.
///
/// PyLoader does not parse TOML itself: the embedded interpreter's `tomllib` does, and
/// its result is converted into this type. Dates and times arrive as their ISO 8601 text
/// because no manifest key takes one; they only need to be named in error messages.
public enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    /// A date, time or date-time, as ISO 8601 text.
    case datetime(String)
    case array([TOMLValue])
    /// A table's entries in the order the file defines them.
    ///
    /// A list rather than a dictionary, because the order is meaningful to PyLoader: it
    /// decides which error is reported first and the creation order of sibling loaders.
    case table([(key: String, value: TOMLValue)])

    /// Two tables are equal only when they hold equal entries in the same order.
    ///
    /// Written by hand because tuples are not `Equatable`. Order counts (unlike TOML's own
    /// notion of a table) because two documents that differ only in order can produce
    /// different manifests; see ``table(_:)``.
    public static func == (lhs: TOMLValue, rhs: TOMLValue) -> Bool {
        switch (lhs, rhs) {
        case let (.string(a), .string(b)): return a == b
        case let (.integer(a), .integer(b)): return a == b
        case let (.float(a), .float(b)): return a == b
        case let (.boolean(a), .boolean(b)): return a == b
        case let (.datetime(a), .datetime(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.table(a), .table(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }
}

extension TOMLValue {
    /// A short, single-line rendering of the value for error messages: its type and,
    /// for scalars, the value itself (`string "sideways"`, `integer 3`, `array of 2 items`).
    var briefDescription: String {
        switch self {
        case .string(let s): return "string \(quotedForMessage(s))"
        case .integer(let i): return "integer \(i)"
        case .float(let d): return "float \(d)"
        case .boolean(let b): return "boolean \(b)"
        case .datetime(let s): return "datetime \(escapedForMessage(s, limit: 40))"
        case .array(let items): return items.count == 1 ? "array of 1 item" : "array of \(items.count) items"
        case .table(let entries): return entries.count == 1 ? "table of 1 key" : "table of \(entries.count) keys"
        }
    }
}

/// `text` in double quotes, escaped and shortened so that it can never break a one-line message.
func quotedForMessage(_ text: String, limit: Int = 80) -> String {
    "\"" + escapedForMessage(text, limit: limit, escapingQuotes: true) + "\""
}

/// `text` with control characters and line separators escaped, cut at `limit` characters.
///
/// Manifest messages are printed on one line (the CLI contract), and user text such as
/// a quoted TOML key may hold any character, newlines included.
func escapedForMessage(_ text: String, limit: Int = .max, escapingQuotes: Bool = false) -> String {
    var out = ""
    var count = 0
    for scalar in text.unicodeScalars {
        if count == limit {
            out += "..."
            break
        }
        count += 1
        switch scalar {
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\"" where escapingQuotes: out += "\\\""
        case "\\" where escapingQuotes: out += "\\\\"
        default:
            if breaksLine(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}

/// Whether printing `scalar` could start a new line or garble the terminal:
/// C0/C1 controls and the Unicode line and paragraph separators.
func breaksLine(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
        || scalar == "\u{2028}" || scalar == "\u{2029}"
}
