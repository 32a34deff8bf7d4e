import ArgumentParser
import ClusterClient
import Datasets
import ErrorKinds
import ProcessRuntime
import VectorMath
import Synchronization
import Wire
import Workflows

struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Stream a vector file or dataset to the coordinator in batches (ids = first-id + row).",
        discussion: "Example: sightline ingest --coordinator tcp://127.0.0.1:7700 --token-file runs/local/token --dataset fashion-mnist")

    @OptionGroup var target: CoordinatorOptions

    @Option(help: "Vectors to add: fashion-mnist, synthetic:…, or a .fvecs/.bvecs/.npy path (labels from NAME.labels when present).")
    var dataset: String

    @Option(help: "Vectors per request.")
    var batch: Int = 5000

    @Option(help: "Batches in flight at once: the next is read and sent while the cluster stores the others (1 = one at a time).")
    var inFlight: Int = 4

    @Option(help: "Id of the first vector.")
    var firstId: UInt64 = 0

    @Option(help: "Add only the first N vectors (0 = all).")
    var limit: Int = 0

    @Option(help: ArgumentHelp("Images to keep with the vectors for the web page: a dataset of square grey images, row for row "
                               + "(fashion-mnist, or an IDX image file), stored as PNG thumbnails by the coordinator.",
                               valueName: "images"))
    var thumbnails: String?

    func run() throws {
        try reportingErrors {
            guard batch >= 1 else { throw SightlineError.badInput("--batch must be at least 1") }
            guard (1 ... 64).contains(inFlight) else { throw SightlineError.badInput("--in-flight must be 1 … 64") }
            let client = try target.client()
            let data = try DatasetCatalog.load(dataset)
            let total = limit > 0 ? min(limit, data.base.rowCount) : data.base.rowCount
            let images = try thumbnails.map {
                try ThumbnailSource(images: $0 == dataset ? data.base : nil, dataset: $0, rows: total)
            }
            let progress = ProgressReporter()
            var added: UInt64 = 0, ignored: UInt64 = 0, start = 0, done = 0
            // Batches in flight, oldest first: each is acknowledged before its count is reported.
            var pending: [(end: Int, call: PendingCall)] = []
            func finishOldest() throws {
                let (end, call) = pending.removeFirst()
                guard case .add(let batchAdded, let batchIgnored, _) = try call.wait().get() else {
                    throw ClientError.unexpectedReply("not an add reply")
                }
                added += batchAdded
                ignored += batchIgnored
                done = end
                progress.report("ingest", done, total)
            }
            let (_, seconds) = try measureSeconds {
                while start < total {
                    let end = min(total, start + batch)
                    let slice = data.base.slice(start ..< end)
                    let labels = data.baseLabels.map { Array($0[start ..< end]) } ?? []
                    let request = AddBatch(ids: (start ..< end).map { firstId + UInt64($0) },
                                           vectors: VectorBatch(dimension: slice.dimension, values: slice.values), labels: labels,
                                           thumbnails: try images?.pngs(start ..< end) ?? [])
                    pending.append((end, client.start(.add(request), deadlineMilliseconds: 60_000)))
                    if pending.count >= inFlight { try finishOldest() }
                    start = end
                }
                while !pending.isEmpty { try finishOldest() }
            }
            printLine("ingested \(total) vectors: \(added) added, \(ignored) already present, "
                      + "\(Int(Double(total) / max(seconds, 1e-9))) vectors/s")
        }
    }
}

/// Square grey images, one per vector, encoded as PNG for `--thumbnails`.
struct ThumbnailSource {
    let images: Matrix
    let side: Int

    /// `images`: the dataset already loaded (when the vectors are the images themselves).
    init(images loaded: Matrix?, dataset: String, rows: Int) throws {
        images = try loaded ?? (dataset.contains("idx3-ubyte") ? try IDXFormat.readImages(dataset) : try DatasetCatalog.load(dataset).base)
        side = Int(Double(images.dimension).squareRoot().rounded())
        guard side * side == images.dimension else {
            throw SightlineError.badInput("--thumbnails \(dataset): rows of \(images.dimension) values are not square grey images")
        }
        guard images.rowCount >= rows else {
            throw SightlineError.badInput("--thumbnails \(dataset) has \(images.rowCount) images for \(rows) vectors: one per vector")
        }
    }

    /// PNG bytes of `rows`, encoded on every core (deflate dominates an ingest with thumbnails).
    func pngs(_ rows: Range<Int>) throws -> [[UInt8]] {
        let encoded = Mutex([Result<[UInt8], DatasetError>](repeating: .success([]), count: rows.count))
        parallelFor(rows.count, threads: resolvedThreadCount(0), chunk: 64) { offset in
            let row = rows.lowerBound + offset
            let pixels = Array(images.values[row * images.dimension ..< (row + 1) * images.dimension])
            let result = Result { () throws(DatasetError) in try PNGFormat.encode(pixels, width: side, height: side) }
            encoded.withLock { $0[offset] = result }
        }
        return try encoded.withLock { $0 }.map { try $0.get() }
    }
}
