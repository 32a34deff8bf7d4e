import Foundation
import VectorMath

/// Streams one split of a synthetic set to `PATH.fvecs` and `PATH.labels`, chunk by chunk.
public enum SyntheticExport {
    public static func write(
        _ generator: SyntheticLandmarks, split: SyntheticLandmarks.Split, to stem: String,
        chunk: Int, threads: Int, progress: ProgressHandler? = nil
    ) throws {
        let total = generator.count(of: split)
        let vectorPath = stem + ".fvecs", labelPath = stem + ".labels"
        let temporaryVectors = vectorPath + ".partial", temporaryLabels = labelPath + ".partial"
        _ = FileManager.default.createFile(atPath: temporaryVectors, contents: nil)
        _ = FileManager.default.createFile(atPath: temporaryLabels, contents: nil)
        guard let vectorHandle = FileHandle(forWritingAtPath: temporaryVectors),
              let labelHandle = FileHandle(forWritingAtPath: temporaryLabels) else {
            throw DatasetError.unreadable(path: stem, reason: "cannot write there: check the folder exists and is writable")
        }
        var start = 0
        while start < total {
            let end = min(total, start + chunk)
            let (vectors, labels) = generator.generate(split, range: start ..< end, threads: resolvedThreadCount(threads))
            var bytes: [UInt8] = []
            bytes.reserveCapacity(vectors.rowCount * (4 + 4 * vectors.dimension))
            for row in 0 ..< vectors.rowCount {
                withUnsafeBytes(of: Int32(vectors.dimension).littleEndian) { bytes.append(contentsOf: $0) }
                for value in vectors.row(row) { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            }
            try vectorHandle.write(contentsOf: bytes)
            try labelHandle.write(contentsOf: Data(labels.map { "\($0)\n" }.joined().utf8))
            progress?(end, total)
            start = end
        }
        try vectorHandle.close()
        try labelHandle.close()
        // Rename into place only when complete, so a cut-off run never leaves a short file.
        for (from, to) in [(temporaryVectors, vectorPath), (temporaryLabels, labelPath)] {
            if FileManager.default.fileExists(atPath: to) { try FileManager.default.removeItem(atPath: to) }
            try FileManager.default.moveItem(atPath: from, toPath: to)
        }
    }
}
