import VectorIndex

/// Index files on disk: written atomically (temporary file, then rename), read with full checks.
public enum IndexStorage {
    public static func save(_ index: IVFPQIndex, to path: String) throws(DatasetError) {
        try FileBytes.writeAtomically(IndexFile.encode(index), to: path)
    }

    public static func load(_ path: String) throws(DatasetError) -> IVFPQIndex {
        let bytes = try FileBytes.read(path)
        do {
            return try IndexFile.decode(bytes)
        } catch {
            throw .malformed(path: path, detail: error.description)
        }
    }
}
