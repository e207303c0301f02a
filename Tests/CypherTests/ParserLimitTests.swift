import Foundation
import GraphValues
import Testing

@testable import Cypher

private func syntaxError(_ text: String) -> DatabaseError? {
    do {
        _ = try CypherParser.parse(text)
        return nil
    } catch let e as DatabaseError {
        return e
    } catch {
        return nil
    }
}

@Suite("Cypher parser limits")
struct ParserLimitTests {
    @Test("deeply nested or chained expressions are a SyntaxError, not a stack overflow")
    func depth() {
        let nested = "RETURN " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000)
        #expect(syntaxError(nested)?.message.contains("nested too deeply") == true)
        let chained = "RETURN 1" + String(repeating: " + 1", count: 5000)
        #expect(syntaxError(chained)?.message.contains("nested too deeply") == true)
        let lists = "RETURN " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        #expect(syntaxError(lists)?.message.contains("nested too deeply") == true)
        let negations = "RETURN " + String(repeating: "NOT ", count: 5000) + "true"
        #expect(syntaxError(negations)?.message.contains("nested too deeply") == true)
    }

    @Test("expressions just inside the depth limit parse and analyse on half a default thread stack (debug build)")
    func reasonable() throws {
        let levels = Parser.maximumDepth / 2 - 2
        let query = "RETURN " + String(repeating: "(", count: levels) + "1" + String(repeating: " + 1)", count: levels)
            + " AS x"
        final class Outcome: @unchecked Sendable {
            var failure: String?
        }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            do {
                _ = try SemanticAnalyzer.analyze(try CypherParser.parse(query))
            } catch {
                outcome.failure = "\(error)"
            }
            done.signal()
        }
        thread.stackSize = 4 << 20
        thread.start()
        done.wait()
        let failure = outcome.failure
        #expect(failure == nil, "\(failure ?? "")")
    }
}
