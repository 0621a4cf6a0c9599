#if canImport(Glibc)
import Glibc
#endif

/// What a figure must reach to meet the issue's goal.
enum BenchGoal {
    /// PyLoader ÷ peer at most this (e.g. 1.15 for "at most 1.15x the floor").
    case ratioAtMost(Double)
    /// The peer ÷ PyLoader at least this (e.g. 3 for "at least 3x faster").
    case fasterBy(Double)
    /// PyLoader's own value at most this, in the row's unit (e.g. 1 MiB per loader).
    case valueAtMost(Double)
    /// PyLoader's own value at least this (e.g. 1000 children alive).
    case valueAtLeast(Double)

    var text: String {
        switch self {
        case .ratioAtMost(let limit): return "≤ " + formatted("%g", limit) + "x"
        case .fasterBy(let factor): return "≥ " + formatted("%g", factor) + "x faster"
        case .valueAtMost: return "≤ limit"
        case .valueAtLeast: return "≥ limit"
        }
    }
}

/// One line of the table: PyLoader's figure against one peer measured in the same run.
struct BenchRow {
    /// The figure's name (the group the row belongs to), as in the issue's table.
    let figure: String
    /// What PyLoader did.
    let subject: String
    let unit: MeasureUnit
    let value: SampleStats
    /// What it is measured against, and its figure, or nil for a figure with no peer.
    let peer: String?
    let peerValue: SampleStats?
    let goal: BenchGoal?
    /// A short remark printed under the table (how it was measured, a caveat).
    let note: String?

    init(figure: String, subject: String, unit: MeasureUnit = .seconds, value: SampleStats,
         peer: String? = nil, peerValue: SampleStats? = nil, goal: BenchGoal? = nil, note: String? = nil) {
        self.figure = figure
        self.subject = subject
        self.unit = unit
        self.value = value
        self.peer = peer
        self.peerValue = peerValue
        self.goal = goal
        self.note = note
    }

    /// PyLoader's median ÷ the peer's median.
    var ratio: Double? {
        guard let peerValue, peerValue.median != 0 else { return nil }
        return value.median / peerValue.median
    }

    var met: Bool? {
        switch goal {
        case .ratioAtMost(let limit)?: return ratio.map { $0 <= limit }
        case .fasterBy(let factor)?: return ratio.map { $0 > 0 && 1 / $0 >= factor }
        case .valueAtMost(let limit)?: return value.median <= limit
        case .valueAtLeast(let limit)?: return value.min >= limit
        case nil: return nil
        }
    }

    var goalText: String {
        switch goal {
        case .valueAtMost(let limit)?: return "≤ " + unit.describe(limit)
        case .valueAtLeast(let limit)?: return "≥ " + unit.describe(limit)
        case let goal?: return goal.text
        case nil: return "(info)"
        }
    }

    var resultText: String {
        guard let met else { return "" }
        var text = met ? "met" : "NOT MET"
        if case .fasterBy? = goal, let ratio, ratio > 0 {
            text += ratio <= 1 ? " (" + significant(1 / ratio) + "x faster)" : " (" + significant(ratio) + "x slower)"
        }
        return text
    }
}

/// The machine a run happened on.
struct MachineInfo {
    let processors: Int
    let cpuModel: String
    let python: String
    let swift: String
    let build: String
    let mode: String
}

enum BenchReport {
    /// `6.12 ms [6.02–6.31]`: the median and the interquartile range.
    static func describe(_ stats: SampleStats, _ unit: MeasureUnit) -> String {
        let parts = unit.describe([stats.median, stats.q1, stats.q3], reference: stats.median)
        let suffix = unit.scale(for: stats.median).1
        let value = suffix.isEmpty ? parts[0] : parts[0] + " " + suffix
        if stats.samples.count < 2 { return value + " (n=1)" }
        if stats.min == stats.max { return value }
        return value + " [" + parts[1] + "–" + parts[2] + "]"
    }

    /// The table, one figure after another, then the notes.
    static func table(_ rows: [BenchRow], machine: MachineInfo) -> String {
        let header = ["PyLoader", "median [IQR]", "measured against (same run)", "median [IQR]", "ratio", "goal", "result"]
        var lines: [[String]] = []
        var figures: [String] = []
        var notes: [String] = []
        var previous: BenchRow?
        for row in rows {
            if figures.last != row.figure {
                figures.append(row.figure)
                lines.append(["## " + row.figure])
                previous = nil
            }
            // PyLoader's side is printed once for the peers measured against it.
            let repeated = previous.map { $0.subject == row.subject && $0.value.samples == row.value.samples } ?? false
            previous = row
            lines.append([
                repeated ? "" : row.subject,
                repeated ? "" : describe(row.value, row.unit),
                row.peer ?? "–",
                row.peerValue.map { describe($0, row.unit) } ?? "",
                row.ratio.map { significant($0) + "x" } ?? "",
                row.goalText,
                row.resultText,
            ])
            if let note = row.note { notes.append("[\(row.figure)] " + note) }
        }
        var widths = header.map { $0.unicodeScalars.count }
        for line in lines where line.count == header.count {
            for (index, cell) in line.enumerated() { widths[index] = max(widths[index], cell.unicodeScalars.count) }
        }
        func render(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == 4 ? pad(cell, widths[index], right: true) : pad(cell, widths[index])
            }.joined(separator: "  ").trimmingTrailingBlanks
        }
        var out = "pyloader bench (\(machine.mode)): \(machine.processors) CPUs, \(machine.cpuModel); "
            + "Python \(machine.python); \(machine.swift), \(machine.build) build\n"
        out += "Each figure: the median of repeated runs and the interquartile range [q1–q3]; ratio = PyLoader ÷ peer (medians).\n\n"
        out += render(header) + "\n"
        out += render(widths.map { String(repeating: "-", count: $0) }) + "\n"
        for line in lines {
            out += (line.count == 1 ? "\n" + line[0] : render(line)) + "\n"
        }
        let met = rows.compactMap(\.met)
        out += "\nGoals: \(met.filter { $0 }.count) of \(met.count) met.\n"
        if !notes.isEmpty {
            out += "\nNotes:\n" + notes.map { "- " + $0 }.joined(separator: "\n") + "\n"
        }
        return out
    }

    /// The same data for machines.
    static func json(_ rows: [BenchRow], machine: MachineInfo, extra: [(String, String)]) -> String {
        func stats(_ stats: SampleStats?) -> String {
            guard let stats else { return "null" }
            return "{\"median\": \(jsonNumber(stats.median)), \"q1\": \(jsonNumber(stats.q1)), \"q3\": \(jsonNumber(stats.q3)), "
                + "\"min\": \(jsonNumber(stats.min)), \"max\": \(jsonNumber(stats.max)), \"n\": \(stats.samples.count), "
                + "\"samples\": [" + stats.samples.map { jsonNumber($0) }.joined(separator: ", ") + "]}"
        }
        func goal(_ row: BenchRow) -> String {
            switch row.goal {
            case .ratioAtMost(let limit)?: return "{\"kind\": \"ratio_at_most\", \"value\": \(jsonNumber(limit)), \"text\": \(jsonString(row.goalText))}"
            case .fasterBy(let factor)?: return "{\"kind\": \"faster_by_at_least\", \"value\": \(jsonNumber(factor)), \"text\": \(jsonString(row.goalText))}"
            case .valueAtMost(let limit)?: return "{\"kind\": \"value_at_most\", \"value\": \(jsonNumber(limit)), \"text\": \(jsonString(row.goalText))}"
            case .valueAtLeast(let limit)?: return "{\"kind\": \"value_at_least\", \"value\": \(jsonNumber(limit)), \"text\": \(jsonString(row.goalText))}"
            case nil: return "null"
            }
        }
        var out = "{\n  \"machine\": {\"nproc\": \(machine.processors), \"cpu_model\": \(jsonString(machine.cpuModel)), "
            + "\"python\": \(jsonString(machine.python)), \"swift\": \(jsonString(machine.swift)), "
            + "\"build\": \(jsonString(machine.build)), \"mode\": \(jsonString(machine.mode))},\n"
        for (key, value) in extra { out += "  \(jsonString(key)): \(value),\n" }
        out += "  \"figures\": [\n"
        out += rows.map { row in
            "    {\"figure\": \(jsonString(row.figure)), \"subject\": \(jsonString(row.subject)), \"unit\": \(jsonString(row.unit.rawValue)),\n"
                + "     \"value\": \(stats(row.value)),\n"
                + "     \"peer\": \(row.peer.map(jsonString) ?? "null"), \"peer_value\": \(stats(row.peerValue)),\n"
                + "     \"ratio\": \(jsonNumber(row.ratio)), \"goal\": \(goal(row)), "
                + "\"met\": \(row.met.map { $0 ? "true" : "false" } ?? "null"), \"note\": \(row.note.map(jsonString) ?? "null")}"
        }.joined(separator: ",\n")
        out += "\n  ]\n}\n"
        return out
    }

    private static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let length = text.unicodeScalars.count
        guard length < width else { return text }
        let blanks = String(repeating: " ", count: width - length)
        return right ? blanks + text : text + blanks
    }
}

private extension String {
    var trimmingTrailingBlanks: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
