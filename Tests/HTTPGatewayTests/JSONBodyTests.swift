import Foundation
import Testing
@testable import HTTPGateway

/// The request bodies are walked by `JSONReader` before anything is decoded: limits hold at the
/// first value past them (the 10,001st query, the first vector of another dimension, a field
/// given twice), whatever follows; JSON's grammar is enforced; valid bodies decode to the same
/// values, and get the same answers, as before.
@Suite struct JSONBodyTests {
    static func post(_ gateway: Gateway, _ path: String, _ body: [UInt8], method: String = "POST") throws -> (status: Int, text: String) {
        let route = try #require(gateway.routes.first { $0.method == method && $0.path == path })
        let response = route.handle(HTTPRequest(method: method, path: path, query: [:], contentType: "application/json", body: body,
                                                token: [], role: .cluster))
        return (response.status, String(decoding: response.body, as: UTF8.self))
    }

    static func post(_ gateway: Gateway, _ path: String, _ body: String, method: String = "POST") throws -> (status: Int, text: String) {
        try post(gateway, path, Array(body.utf8), method: method)
    }

    /// `{"vectors": [[0],[0],…]}` with `count` one-element vectors, then `tail`.
    static func oneElementVectors(_ count: Int, tail: String = "]}") -> [UInt8] {
        var body = Array(#"{"vectors": ["#.utf8)
        body.reserveCapacity(body.count + count * 4 + tail.utf8.count)
        for row in 0 ..< count { body.append(contentsOf: (row == 0 ? "[0]" : ",[0]").utf8) }
        body.append(contentsOf: tail.utf8)
        return body
    }

    /// kB from /proc/self/status (`VmHWM`: peak resident set; `VmRSS`: now).
    static func status(_ field: String) -> Int {
        let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// Sets VmHWM back to the current resident set (Linux ≥ 4.0). Where that is not allowed the
    /// growth below reads low, never high.
    static func resetPeak() {
        let descriptor = open("/proc/self/clear_refs", O_WRONLY)
        guard descriptor >= 0 else { return }
        _ = write(descriptor, "5", 1)
        close(descriptor)
    }

    /// The issue's body: 16 MiB of one-element vectors (4,194,276 of them, the gateway's body
    /// limit) took the coordinator ~165 MB and 3–7 s each before Foundation's decoder handed back
    /// a count to refuse. Now the walk stops at the 10,001st vector: measured on this machine,
    /// ~1 ms and no growth of the peak resident set (the body itself exists before the route runs).
    @Test func aSixteenMebibyteBodyOfTinyVectorsIsRefusedAtTheLimitQuickly() throws {
        let gateway = GatewayTests.gateway(dimension: 1)
        let body = Self.oneElementVectors(4_194_276)
        #expect(body.count <= 16 << 20 && body.count > (16 << 20) - 256)
        Self.resetPeak()
        let before = Self.status("VmRSS")
        let started = Date()
        let (status, text) = try Self.post(gateway, "/v1/search", body)
        let seconds = Date().timeIntervalSince(started)
        let growthMB = Double(Self.status("VmHWM") - before) / 1024
        #expect(status == 400)
        #expect(text.contains("more than 10000 queries: send 1 … 10000"), "\(text)")
        #expect(seconds < 0.5, "\(seconds) s")
        // Other suites may run beside this one in the same process: the bound leaves them room.
        #expect(growthMB < 48, "peak grew \(growthMB) MB")
        // With the collection's real dimension the first vector is refused.
        let (wrong, message) = try Self.post(GatewayTests.gateway(dimension: 4), "/v1/search", body)
        #expect(wrong == 400 && message.contains("wrong dimension: query 0 has 1 values; the collection holds 4-d vectors"), "\(message)")
    }

    @Test func theTenThousandAndFirstQueryIsRefusedWhateverFollows() throws {
        let gateway = GatewayTests.gateway(dimension: 1)
        let full = try Self.post(gateway, "/v1/search", Self.oneElementVectors(10_000, tail: #"], "k": 1}"#))
        #expect(full.status == 200, "\(full.text.prefix(200))")
        let over = try Self.post(gateway, "/v1/search", Self.oneElementVectors(10_001))
        #expect(over.status == 400 && over.text.contains("more than 10000 queries"), "\(over.text)")
        // Refused at the 10,001st vector: the malformed bytes after it are never reached.
        let cut = try Self.post(gateway, "/v1/search", Self.oneElementVectors(10_001, tail: ",[garbage"))
        #expect(cut.status == 400 && cut.text.contains("more than 10000 queries"), "\(cut.text)")
        let empty = try Self.post(gateway, "/v1/search", #"{"vectors": []}"#)
        #expect(empty.status == 400 && empty.text.contains("0 queries: send 1 … 10000"), "\(empty.text)")
        let ids = "{\"ids\": [" + (0 ... 10_000).map(String.init).joined(separator: ",") + "]}"
        let manyIDs = try Self.post(gateway, "/v1/search", ids)
        #expect(manyIDs.status == 400 && manyIDs.text.contains("more than 10000 ids"), "\(manyIDs.text)")
    }

    @Test func aWrongDimensionIsRefusedAtTheVectorThatHasIt() throws {
        let gateway = GatewayTests.gateway()
        let search = try Self.post(gateway, "/v1/search", #"{"vectors": [[1,2,3,4],[1,2,3],[oops"#)
        #expect(search.status == 400 && search.text.contains("wrong dimension: query 1 has 3 values; the collection holds 4-d vectors"),
                "\(search.text)")
        let single = try Self.post(gateway, "/v1/search", #"{"vector": [1,2,3,4,5]}"#)
        #expect(single.status == 400 && single.text.contains("wrong dimension: query 0 has 5 values"), "\(single.text)")
        let add = try Self.post(gateway, "/v1/vectors", #"{"ids": [1, 2], "vectors": [[1,2,3,4],[1,2,3,4,5]]}"#)
        #expect(add.status == 400 && add.text.contains("wrong dimension: vectors[1] has 5 values"), "\(add.text)")
        let verify = try Self.post(gateway, "/v1/verify", #"{"vectors": [[1,2,3,4],[1]], "threshold": 1}"#)
        #expect(verify.status == 400 && verify.text.contains("wrong dimension: vectors[1] has 1 values"), "\(verify.text)")
        let identify = try Self.post(gateway, "/v1/identify", #"{"vector": [1,2,3], "threshold": 1}"#)
        #expect(identify.status == 400 && identify.text.contains("wrong dimension: the vector has 3 values"), "\(identify.text)")
        let verifyThree = try Self.post(gateway, "/v1/verify", #"{"vectors": [[1,2,3,4],[1,2,3,4],[1,2,3,4]], "threshold": 1}"#)
        #expect(verifyThree.status == 400 && verifyThree.text.contains("send two vectors or two images, not more"), "\(verifyThree.text)")
        let addCounts = try Self.post(gateway, "/v1/vectors", #"{"ids": [1, 2, 3], "vectors": [[1,2,3,4],[1,2,3,4]]}"#)
        #expect(addCounts.status == 400 && addCounts.text.contains("3 ids but 2 vectors"), "\(addCounts.text)")
    }

    /// JSONSerialization keeps the last copy of a repeated key: the copy checked must be the copy
    /// used, so a known field given twice (also when spelled with escapes) is refused.
    @Test(arguments: [#"{"vector": [1,2,3,4], "vector": [1,2,3,4,5,6,7,8]}"#, #"{"vector": [1,2,3,4], "k": 1, "k": 5000}"#,
                      #"{"vector": [1,2,3,4], "k": 1, "\u006b": 2}"#, #"{"ids": [1], "vectors": [[1,2,3,4]], "ids": [1, 2]}"#])
    func aKnownFieldGivenTwiceIsRefused(body: String) throws {
        let path = body.contains("\"ids\"") ? "/v1/vectors" : "/v1/search"
        let (status, text) = try Self.post(GatewayTests.gateway(), path, body)
        #expect(status == 400 && text.contains("appears twice: send each field once"), "\(text)")
    }

    @Test func unknownFieldsAreCheckedAndIgnored() throws {
        let gateway = GatewayTests.gateway()
        let ok = try Self.post(gateway, "/v1/search", #"{"vector": [1,2,3,4], "note": {"a": [1, {"b": null}], "a": true}, "note": "x"}"#)
        #expect(ok.status == 200, "\(ok.text)")
        let deep = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        let tooDeep = try Self.post(gateway, "/v1/search", #"{"vector": [1,2,3,4], "extra": "# + deep + "}")
        #expect(tooDeep.status == 400 && tooDeep.text.contains("nest deeper than 32 levels"), "\(tooDeep.text)")
        let deepEnough = String(repeating: "[", count: 30) + String(repeating: "]", count: 30)
        #expect(try Self.post(gateway, "/v1/search", #"{"vector": [1,2,3,4], "extra": "# + deepEnough + "}").status == 200)
    }

    /// Each body is refused with a 400 whose message holds the fragment.
    @Test(arguments: [
        (#"{"vector": [NaN, 1, 2, 3]}"#, "NaN is not a JSON number"),
        (#"{"vector": [Infinity, 1, 2, 3]}"#, "Infinity is not a JSON number"),
        (#"{"vector": [-Infinity, 1, 2, 3]}"#, "-Infinity is not a JSON number"),
        (#"{"vector": [1e39, 1, 2, 3]}"#, ".vector[0] = 1e39 is beyond ±3.4e38"),
        (#"{"vector": [1, -3.5e38, 2, 3]}"#, ".vector[1] = -3.5e38 is beyond"),
        (#"{"vector": [01, 1, 2, 3]}"#, "expected ',' or ']'"),
        (#"{"vector": [+1, 1, 2, 3]}"#, "expected a number"),
        (#"{"vector": [.5, 1, 2, 3]}"#, "expected a number"),
        (#"{"vector": [1., 1, 2, 3]}"#, "expected a digit after '.'"),
        (#"{"vector": [1e, 1, 2, 3]}"#, "expected a digit in the exponent"),
        (#"{"vector": [-, 1, 2, 3]}"#, "expected a digit after '-'"),
        (#"{"vector": [0x1, 1, 2, 3]}"#, "expected ',' or ']'"),
        (#"{"vector": [1, 2, 3, 4,]}"#, "expected a number"),
        (#"{"vector": ["1", 2, 3, 4]}"#, "wrong type at .vector[0]: expected a number, found a string"),
        (#"{"vectors": [1, 2, 3, 4]}"#, "wrong type at .vectors[0]: expected an array of numbers, found a number"),
        (#"{"vector": [1, 2, 3, 4], "k": 2.0}"#, ".k = 2.0 is not a whole number"),
        (#"{"vector": [1, 2, 3, 4], "k": 1e2}"#, ".k = 1e2 is not a whole number"),
        (#"{"vector": [1, 2, 3, 4], "k": 99999999999999999999}"#, ".k = 99999999999999999999 is too large"),
        (#"{"ids": [-1]}"#, ".ids[0] = -1 is negative"),
        (#"{"ids": [18446744073709551616]}"#, "is above 18446744073709551615"),
        (#"{'vector': [1, 2, 3, 4]}"#, "expected a field name in double quotes"),
        (#"{"vector": [1, 2, 3, 4]} x"#, "expected the end of the body after the JSON object"),
        (#"{"vector": [1, 2, 3, 4]}{}"#, "expected the end of the body after the JSON object"),
        (#"{"vector": [1, 2, 3, 4] /* c */}"#, "expected ',' or '}' after a field"),
        ("{\"vector\": [1, 2, 3, 4], \"x\": \"a\u{1}b\"}", "a control character inside a string"),
        (#"{"vector": [1, 2, 3, 4], "x": "\ud800"}"#, "half a UTF-16 surrogate pair"),
        (#"{"vector": [1, 2, 3, 4], "x": "\udc00\ud800"}"#, "half a UTF-16 surrogate pair"),
        (#"{"vector": [1, 2, 3, 4], "x": "\q"}"#, "expected one of"),
        (#"{"vector": [1, 2, 3, 4], "x": tru}"#, "expected a value"),
        ("{\"vector\": [1, 2, 3, 4],\u{0B}\"k\": 1}", "expected a field name in double quotes"),
        ("[1, 2, 3]", "wrong type at the top level: expected a JSON object, found an array"),
        ("   ", "expected a JSON object, found the end of the body"),
        ("", "the body is empty: send a JSON object"),
    ])
    func malformedBodiesAreRefusedClearly(body: String, fragment: String) throws {
        let (status, text) = try Self.post(GatewayTests.gateway(), "/v1/search", body)
        #expect(status == 400, "\(body): \(text)")
        #expect(text.contains(fragment), "\(body): \(text)")
    }

    @Test func invalidUTF8IsRefused() throws {
        for bad: [UInt8] in [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0xFF]] {
            let body = Array(#"{"vector": [1, 2, 3, 4], "x": ""#.utf8) + bad + Array(#""}"#.utf8)
            let (status, text) = try Self.post(GatewayTests.gateway(), "/v1/search", body)
            #expect(status == 400 && text.contains("not valid UTF-8"), "\(bad): \(text)")
        }
    }

    /// Exponents, negative zero, JSON's whitespace, a byte order mark, escapes and null fields
    /// are all valid, and read as JSONSerialization reads them.
    @Test func validBodiesReadAsBefore() throws {
        let gateway = GatewayTests.gateway()
        let body = try gateway.readSearchBody(
            Array("\u{FEFF}\t{\r\n \"vector\" :[ -0 , 2.5E-1,1e0 ,-0.0 ] ,\"ids\":null, \"k\":-0 }\n".utf8))
        let vector = try #require(body.vector)
        #expect(vector.map(\.bitPattern) == [(-0.0 as Float).bitPattern, Float(0.25).bitPattern, Float(1).bitPattern,
                                             (-0.0 as Float).bitPattern])
        #expect(body.ids == nil && body.k == 0)
        let add = try gateway.readAddBody(Array(#"""
            {"ids": [1, 18446744073709551615], "vectors": [[1,2,3,4],[5,6,7,8]], "labels": [-2147483648, 7], \#
            "keys": ["a\"\\\/\n\u00e9\ud83d\ude00", "ü"], "thumbnails": ["iVBORw==", ""]}
            """#.utf8))
        #expect(add.ids == [1, .max] && add.vectors == [1, 2, 3, 4, 5, 6, 7, 8] && add.labels == [.min, 7])
        #expect(add.keys == ["a\"\\/\né😀", "ü"])
        #expect(add.thumbnails == [[0x89, 0x50, 0x4E, 0x47], []])
        let label = try Self.post(gateway, "/v1/vectors", #"{"ids": [1], "vectors": [[1,2,3,4]], "labels": [2147483648]}"#)
        #expect(label.status == 400 && label.text.contains(".labels[0] = 2147483648 is outside"), "\(label.text)")
        // The same search, spaced out, answers byte for byte the same.
        let compact = try Self.post(gateway, "/v1/search", #"{"vectors":[[1,2,3,4],[0,0,0,1]],"k":3}"#)
        let spaced = try Self.post(gateway, "/v1/search", " {\n\t\"k\" : 3 ,\r\n \"vectors\" : [ [ 1 , 2 , 3 , 4 ] , [ 0, 0, 0, 1 ] ] } ")
        #expect(compact.status == 200 && compact.text == spaced.text)
    }

    /// The reader's floats are Swift's (`strtof`, correctly rounded) bit for bit, fast path or not.
    @Test func numbersReadAsTheCLibraryReadsThem() throws {
        var generator = SeededGenerator(seed: 7)
        var tokens: [String] = ["0", "-0", "16777216", "16777217", "0.1", "0.0000000001", "0.00000000001", "1e-46", "1e-45", "3.4028235e38",
                                "-3.4028234e38", "123456.7", "9999999", "0.33333334", "1.17549435e-38", "1E+3", "2e-0"]
        for _ in 0 ..< 20_000 {
            let value = Float(bitPattern: UInt32.random(in: 0 ... 0x7F7F_FFFF, using: &generator))
                * (Bool.random(using: &generator) ? 1 : -1)
            let digits = Int.random(in: 1 ... 12, using: &generator)
            tokens.append(String(format: "%.\(digits)g", Double(value)))
            tokens.append(String(format: "%.\(digits % 8)f", Double(Float.random(in: -1000 ... 1000, using: &generator))))
            tokens.append("\(Int.random(in: -20_000_000 ... 20_000_000, using: &generator))")
            tokens.append("\(value)")
        }
        for token in tokens {
            let expected = try #require(Float(token), "\(token)")
            let bytes = Array(token.utf8)
            let read = bytes.withUnsafeBufferPointer { JSONReader.float($0, 0 ..< $0.count) }
            #expect(read?.bitPattern == expected.bitPattern, "\(token): \(String(describing: read)) ≠ \(expected)")
        }
    }
}

/// SplitMix64: a seeded generator for repeatable tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
