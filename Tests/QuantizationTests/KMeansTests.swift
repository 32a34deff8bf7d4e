import Testing
@testable import Quantization
@testable import VectorMath

/// Points around `clusters` well-separated centres.
func clusteredData(_ count: Int, dimension: Int, clusters: Int, seed: UInt64) -> Matrix {
    var generator = SeededGenerator(seed: seed)
    let centres = (0 ..< clusters * dimension).map { _ in Float(generator.nextGaussian() * 5) }
    var values: [Float] = []
    for _ in 0 ..< count {
        let c = generator.nextInt(below: clusters)
        for j in 0 ..< dimension { values.append(centres[c * dimension + j] + Float(generator.nextGaussian())) }
    }
    return try! Matrix(dimension: dimension, values: values)
}

@Suite struct KMeansTests {
    @Test(arguments: [KMeansInitialization.random, .kmeansPlusPlus])
    func objectiveDecreasesAndIsDeterministic(initialization: KMeansInitialization) throws {
        let data = clusteredData(3000, dimension: 8, clusters: 20, seed: 1)
        var parameters = KMeansParameters(centroidCount: 20)
        parameters.iterations = 15
        parameters.initialization = initialization
        let first = try trainKMeans(data, parameters)
        let second = try trainKMeans(data, parameters)
        #expect(first.centroids == second.centroids)
        #expect(first.objectiveHistory == second.objectiveHistory)
        for (before, after) in zip(first.objectiveHistory, first.objectiveHistory.dropFirst()) {
            #expect(after <= before * (1 + 1e-5))
        }
        #expect(first.objectiveHistory.last! < first.objectiveHistory.first!)
        parameters.seed = 99
        #expect(try trainKMeans(data, parameters).centroids != first.centroids)
    }

    @Test func subsamplesToTheCapPerCentroid() throws {
        let data = clusteredData(5000, dimension: 4, clusters: 5, seed: 2)
        var parameters = KMeansParameters(centroidCount: 10)
        parameters.maxPointsPerCentroid = 39
        parameters.iterations = 3
        #expect(try trainKMeans(data, parameters).trainingPointCount == 390)
    }

    @Test func repairsEmptyClustersBySplitting() throws {
        // 40 copies of only 5 distinct points: most of 16 centroids start empty or duplicated.
        var values: [Float] = []
        for i in 0 ..< 40 { values += [Float(i % 5), Float(i % 5) * 2] }
        let data = try Matrix(dimension: 2, values: values)
        var parameters = KMeansParameters(centroidCount: 16)
        parameters.iterations = 5
        let result = try trainKMeans(data, parameters)
        #expect(result.splitCount > 0)
        #expect(result.centroids.firstNonFiniteRow() == nil)
    }

    @Test func rejectsTooFewPointsAndNaN() throws {
        let data = clusteredData(10, dimension: 4, clusters: 2, seed: 3)
        #expect(throws: QuantizationError.tooFewTrainingVectors(needed: 11, got: 10, what: "k-means with 11 centroids")) {
            try trainKMeans(data, KMeansParameters(centroidCount: 11))
        }
        var bad = data
        bad.setRow(3, [1, .nan, 1, 1])
        #expect(throws: QuantizationError.nonFinite(what: "training", row: 3)) { try trainKMeans(bad, KMeansParameters(centroidCount: 2)) }
    }

    @Test func assignmentMatchesBruteForce() {
        let points = clusteredData(300, dimension: 7, clusters: 3, seed: 4)
        let centroids = clusteredData(13, dimension: 7, clusters: 13, seed: 5)
        let (labels, distances) = assignNearest(points, to: centroids, threads: 2)
        points.withUnsafeBufferPointer { p in
            centroids.withUnsafeBufferPointer { c in
                for row in 0 ..< 300 {
                    let all = (0 ..< 13).map { squaredL2(p.baseAddress! + row * 7, c.baseAddress! + $0 * 7, 7) }
                    let best = all.indices.min { all[$0] < all[$1] }!
                    #expect(Int(labels[row]) == best || abs(all[Int(labels[row])] - all[best]) < 1e-3)
                    #expect(abs(distances[row] - all[best]) < 1e-3 * max(1, all[best]))
                }
            }
        }
    }
}
