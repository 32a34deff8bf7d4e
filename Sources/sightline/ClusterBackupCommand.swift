import ArgumentParser
import ClusterModel
import Foundation
import ProcessRuntime
import ShardStore
import Wire

/// What `cluster backup` writes beside the copies, and `cluster restore` reads.
struct BackupManifest: Codable {
    var cluster: String
    var made: String
    /// The catalog's copy (`shard` absent) and one per shard of the map.
    var parts: [BackupPart]

    static let file = "backup.json"
    static func fileName(of part: BackupPart) -> String { part.shard.map { "shard-\($0).sqlite" } ?? "catalog.sqlite" }
}

struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the catalog and every shard, as of one moment, into a folder.",
        discussion: """
            Example: sightline cluster backup --token-file runs/local/token --out backups/monday
            The coordinator holds writes off (searches go on) while it and every worker copy their SQLite database \
            with SQLite's online backup API; the copies are then read through the coordinator in 8 MiB pieces. The \
            folder gets catalog.sqlite, shard-N.sqlite for each shard and backup.json. Not during a move.
            """)

    @OptionGroup var target: CoordinatorOptions

    @Option(help: "Folder to write (created; it must not hold a backup already).")
    var out: String

    @Flag(help: "Print the manifest as JSON.")
    var json = false

    func run() throws {
        guard !FileManager.default.fileExists(atPath: "\(out)/\(BackupManifest.file)") else {
            throw ValidationError("\(out) already holds a backup: choose another folder")
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let client = try target.client()
        let cluster = try client.health().cluster
        let started = Date()
        guard case .backup(.parts(let parts)) = try client.call(.backup(.snapshot), deadlineMilliseconds: 600_000) else {
            throw ValidationError("the coordinator answered the snapshot with something else")
        }
        defer { _ = try? client.call(.backup(.finish), deadlineMilliseconds: 60_000) }
        let progress = ProgressReporter(enabled: !json)
        let total = parts.reduce(UInt64(0)) { $0 &+ $1.bytes }
        var written: UInt64 = 0
        for part in parts {
            let path = "\(out)/\(BackupManifest.fileName(of: part))"
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? file.close() }
            var offset: UInt64 = 0
            while offset < part.bytes {
                guard case .backup(.data(let piece)) = try client.call(
                    .backup(.read(shard: part.shard, offset: offset, length: 8 << 20)), deadlineMilliseconds: 60_000),
                    !piece.isEmpty, UInt64(piece.count) <= part.bytes - offset else {
                    throw ValidationError("the copy of \(BackupManifest.fileName(of: part)) ended early at byte \(offset)")
                }
                try file.write(contentsOf: piece)
                offset += UInt64(piece.count)
                written += UInt64(piece.count)
                progress.report("backup", Int(clamping: written), Int(clamping: max(total, 1)))
            }
            try file.synchronize()
        }
        let manifest = BackupManifest(cluster: cluster, made: ISO8601DateFormatter().string(from: started), parts: parts)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(manifest).write(to: URL(fileURLWithPath: "\(out)/\(BackupManifest.file)"))
        if json {
            try printJSON(manifest)
        } else {
            print(String(format: "backed up the catalog and %d shards (%.1f MB) to %@ in %.1f s", parts.count - 1,
                         Double(total) / 1e6, out, Date().timeIntervalSince(started)))
        }
    }
}

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Put a backup's copies back into the data directories a cluster config names (the cluster stopped).",
        discussion: """
            Example: sightline cluster restore --from backups/monday --config cluster/local.toml
            The catalog goes to the config's data directory and each shard to the data directory of its [[workers]] \
            entry; a shard the config gives no data directory is refused before anything is written. A directory \
            that holds data is replaced only with --force. The coordinator and the workers must be stopped (their \
            data directories are locked while they run). Then start the cluster as usual.
            """)

    @Option(help: "Folder written by `sightline cluster backup`.")
    var from: String

    @Option(help: "The cluster's config file (its data directories receive the copies).")
    var config: String

    @Flag(help: "Replace data that is already in the target directories.")
    var force = false

    func run() throws {
        let manifestData = try Data(contentsOf: URL(fileURLWithPath: "\(from)/\(BackupManifest.file)"))
        let manifest = try JSONDecoder().decode(BackupManifest.self, from: manifestData)
        let settings = try ClusterConfig(parsing: try String(contentsOfFile: config, encoding: .utf8))
        guard settings.cluster == manifest.cluster else {
            throw ValidationError("the backup is of cluster \"\(manifest.cluster)\", the config of \"\(settings.cluster)\"")
        }
        var targets: [(part: BackupPart, directory: String, file: String)] = []
        var unplaced: [UInt32] = []
        for part in manifest.parts {
            if let shard = part.shard {
                // Every replica of the shard gets the same copy (they start in sync).
                let directories = settings.workers.filter { $0.shard.rawValue == shard }.map(\.dataDirectory)
                guard !directories.isEmpty, directories.allSatisfy({ $0 != nil }) else {
                    unplaced.append(shard)
                    continue
                }
                targets += directories.map { (part, $0!, "shard.sqlite") }
            } else {
                targets.append((part, settings.dataDirectory, "catalog.sqlite"))
            }
        }
        guard unplaced.isEmpty else {
            throw ValidationError("the config names no data directory for shard(s) \(unplaced.map(String.init).joined(separator: ", ")): "
                                  + "add data = \"…\" to their [[workers]] entries")
        }
        // Each directory stays locked (as a running service would) while its copy goes in.
        var locks: [ProcessLock] = []
        for target in targets {
            let what = target.part.shard == nil ? "coordinator" : "worker"
            locks.append(try ProcessLock(directory: target.directory, name: what, what: what))
            let path = "\(target.directory)/\(target.file)"
            if FileManager.default.fileExists(atPath: path), !force {
                throw ValidationError("\(path) holds data: pass --force to replace it with the backup")
            }
        }
        // Every copy is checked and staged beside its target first: a failure leaves the old data in place.
        for target in targets {
            let source = "\(from)/\(BackupManifest.fileName(of: target.part))"
            let size = (try FileManager.default.attributesOfItem(atPath: source)[.size] as? NSNumber)?.uint64Value ?? 0
            guard size == target.part.bytes else {
                throw ValidationError("\(source) holds \(size) bytes, the backup recorded \(target.part.bytes): it is damaged")
            }
            let staged = "\(target.directory)/\(target.file).restoring"
            try? FileManager.default.removeItem(atPath: staged)
            try FileManager.default.copyItem(atPath: source, toPath: staged)
        }
        for target in targets {
            let path = "\(target.directory)/\(target.file)"
            for stale in [path + "-wal", path + "-shm"] { try? FileManager.default.removeItem(atPath: stale) }
            guard rename("\(path).restoring", path) == 0 else {
                throw ValidationError("cannot put \(path) in place: \(String(cString: strerror(errno)))")
            }
        }
        // Copies the catalog knows but the restore did not write (added after the config, say)
        // hold newer data than the backup: left as they were, they would "catch up" the restored
        // copies and undo the restore. They join again instead, taking a full copy from a
        // restored one; the copies the restore wrote are in sync (they hold the backup's moment).
        let restored = Set(settings.workers.map(\.url))
        let catalog = try CatalogDatabase(directory: settings.dataDirectory, cluster: settings.cluster)
        var rejoining: [String] = []
        for var record in try catalog.replicas() {
            let state = restored.contains(record.url) ? "in-sync" : "joining"
            if !restored.contains(record.url) { rejoining.append("shard \(record.shard) at \(record.url)") }
            guard record.state != state else { continue }
            record.state = state
            try catalog.putReplica(record)
        }
        withExtendedLifetime(locks) {}
        print("restored the catalog and \(manifest.parts.count - 1) shards (\(targets.count - 1) copies) of cluster \(manifest.cluster) "
              + "(backup of \(manifest.made))")
        if !rejoining.isEmpty {
            print("copies the restore did not write take a full copy from a restored one when they start: "
                  + "\(rejoining.joined(separator: ", "))")
        }
    }
}
