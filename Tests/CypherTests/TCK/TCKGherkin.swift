import Foundation

// The subset of Gherkin the openCypher TCK uses, read the same way as /work/shared/tck/tck_runner.py
// (`parse_feature`): Background steps are prepended to every scenario, Scenario Outlines expand once per Examples
// row with `<name>` placeholders substituted in step text, doc strings and tables.

struct TCKStep {
    var keyword: String
    var text: String
    var line: Int
    var docString: String?
    var table: [[String]]?
}

struct TCKScenario {
    /// Path relative to the features root, `/`-separated (`clauses/match/Match1.feature`).
    var featureFile: String
    var featureName: String
    var name: String
    var line: Int
    var tags: [String]
    var steps: [TCKStep]
    /// 1-based index across all Examples blocks of an outline.
    var exampleIndex: Int?

    var id: String {
        var s = "\(featureFile):\(line)"
        if let exampleIndex { s += "#\(exampleIndex)" }
        return s
    }

    /// `clauses`, `expressions`, `useCases`.
    var top: String { String(featureFile.split(separator: "/").first ?? "") }

    /// `clauses/match` (the first two path components when the file is nested that deep).
    var category: String {
        let parts = featureFile.split(separator: "/")
        return parts.count > 2 ? parts.prefix(2).joined(separator: "/") : String(parts.first ?? "")
    }
}

/// Whitespace trim without Foundation's CharacterSet machinery (parsing every feature file must stay cheap).
private func trimmed<S: StringProtocol>(_ s: S) -> String {
    var start = s.startIndex
    var end = s.endIndex
    while start < end, s[start] == " " || s[start] == "\t" { start = s.index(after: start) }
    while end > start {
        let before = s.index(before: end)
        guard s[before] == " " || s[before] == "\t" else { break }
        end = before
    }
    return String(s[start..<end])
}

enum TCKGherkin {
    private static let stepKeywords: Set<String> = ["Given", "When", "Then", "And", "But", "*"]

    /// Splits a table row, honouring the `\|`, `\\` and `\n` escapes.
    static func splitCells(_ line: String) -> [String] {
        let s = Array(trimmed(line))
        var cells: [String] = []
        var current = ""
        var i = 1
        while i < s.count {
            let c = s[i]
            if c == "\\" && i + 1 < s.count {
                let n = s[i + 1]
                switch n {
                case "|": current.append("|")
                case "\\": current.append("\\")
                case "n": current.append("\n")
                default:
                    current.append("\\")
                    current.append(n)
                }
                i += 2
                continue
            }
            if c == "|" {
                cells.append(trimmed(current))
                current = ""
            } else {
                current.append(c)
            }
            i += 1
        }
        return cells
    }

    private enum BlockKind { case background, scenario, outline }

    private struct Block {
        var kind: BlockKind
        var name: String
        var line: Int
        var tags: [String]
        var steps: [TCKStep] = []
        /// (tags, rows) per Examples block; each row is its cells.
        var examples: [(tags: [String], rows: [[String]])] = []
    }

    static func parse(_ text: String, relativePath: String) -> [TCKScenario] {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
            .map(String.init)
        var featureName = ""
        var featureTags: [String] = []
        var pendingTags: [String] = []
        var background: [TCKStep] = []
        var scenarios: [TCKScenario] = []
        var current: Block?
        var inExamples = false

        func flush() {
            guard let block = current else { return }
            switch block.kind {
            case .background:
                background.append(contentsOf: block.steps)
            case .scenario:
                scenarios.append(
                    TCKScenario(
                        featureFile: relativePath, featureName: featureName, name: block.name, line: block.line,
                        tags: featureTags + block.tags, steps: background + block.steps))
            case .outline:
                var index = 0
                for example in block.examples {
                    guard let header = example.rows.first else { continue }
                    for row in example.rows.dropFirst() {
                        index += 1
                        var binding: [(String, String)] = []
                        for (k, v) in zip(header, row) { binding.append((k, v)) }
                        func sub(_ s: String) -> String {
                            guard s.contains("<") else { return s }
                            var r = s
                            for (k, v) in binding { r = r.replacingOccurrences(of: "<\(k)>", with: v) }
                            return r
                        }
                        let steps = (background + block.steps).map { st in
                            TCKStep(
                                keyword: st.keyword, text: sub(st.text), line: st.line, docString: st.docString.map(sub),
                                table: st.table.map { $0.map { $0.map(sub) } })
                        }
                        scenarios.append(
                            TCKScenario(
                                featureFile: relativePath, featureName: featureName, name: sub(block.name),
                                line: block.line, tags: featureTags + block.tags + example.tags, steps: steps,
                                exampleIndex: index))
                    }
                }
            }
            current = nil
            inExamples = false
        }

        var i = 0
        while i < lines.count {
            let raw = lines[i]
            let s = trimmed(raw)
            i += 1
            if s.isEmpty || s.hasPrefix("#") { continue }
            if s.hasPrefix("@") {
                pendingTags += s.split(separator: " ").map(String.init).filter { $0.hasPrefix("@") }
                continue
            }
            if s.hasPrefix("Feature:") {
                featureName = trimmed(s.dropFirst("Feature:".count))
                featureTags = pendingTags
                pendingTags = []
                continue
            }
            if let (keyword, name) = blockHeader(s) {
                flush()
                if keyword == "Rule" {
                    pendingTags = []
                    continue
                }
                let kind: BlockKind
                switch keyword {
                case "Scenario", "Example": kind = .scenario
                case "Background": kind = .background
                default: kind = .outline
                }
                current = Block(kind: kind, name: name, line: i, tags: pendingTags)
                pendingTags = []
                continue
            }
            if (s.hasPrefix("Examples") || s.hasPrefix("Scenarios")), s.contains(":"), current != nil {
                let word = trimmed(s.prefix(while: { $0 != ":" }))
                if word == "Examples" || word == "Scenarios" {
                    current!.examples.append((pendingTags, []))
                    pendingTags = []
                    inExamples = true
                    continue
                }
            }
            if s.hasPrefix("|") {
                let cells = splitCells(s)
                if inExamples {
                    current!.examples[current!.examples.count - 1].rows.append(cells)
                } else if current != nil, !current!.steps.isEmpty {
                    let last = current!.steps.count - 1
                    current!.steps[last].table = (current!.steps[last].table ?? []) + [cells]
                }
                continue
            }
            if s.hasPrefix("\"\"\"") || s.hasPrefix("```") {
                let delimiter = String(s.prefix(3))
                let indent = raw.prefix(while: { $0 == " " || $0 == "\t" }).count
                var body: [String] = []
                while i < lines.count && trimmed(lines[i]) != delimiter {
                    let ln = lines[i]
                    var k = 0
                    var idx = ln.startIndex
                    while k < indent, idx < ln.endIndex, ln[idx] == " " || ln[idx] == "\t" {
                        k += 1
                        idx = ln.index(after: idx)
                    }
                    body.append(String(ln[idx...]))
                    i += 1
                }
                i += 1
                if current != nil, !current!.steps.isEmpty {
                    current!.steps[current!.steps.count - 1].docString = body.joined(separator: "\n")
                }
                continue
            }
            let keyword = String(s.split(separator: " ", maxSplits: 1).first ?? "")
            if stepKeywords.contains(keyword), current != nil {
                let text = trimmed(s.dropFirst(keyword.count))
                current!.steps.append(TCKStep(keyword: keyword, text: text, line: i))
                continue
            }
            // Free-text description lines are ignored.
        }
        flush()
        return scenarios
    }

    private static func blockHeader(_ s: String) -> (String, String)? {
        for keyword in ["Scenario Outline", "Scenario Template", "Scenario", "Example", "Background", "Rule"] {
            guard s.hasPrefix(keyword) else { continue }
            let rest = s.dropFirst(keyword.count)
            let afterSpaces = rest.drop(while: { $0 == " " || $0 == "\t" })
            guard afterSpaces.first == ":" else { continue }
            return (keyword, trimmed(afterSpaces.dropFirst()))
        }
        return nil
    }
}
