import Foundation
import Testing
@testable import Datasets

/// Uploaded images: PNG and JPEG of any size and colour come out grey; corrupt or hostile bytes
/// give a clear error, never a crash; fitting to a model's input keeps the collection's own images
/// exactly as they were indexed.
struct ImageDecodingTests {
    /// 40×30 grey gradient (pixel = 6·x mod 256), cjpeg -quality 95 -grayscale.
    static let greyJPEG = Array(Data(base64Encoded: """
        /9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYFBgYGBwkIBgcJBwYGCAsICQoKCgoKBggLDAsKDAkKCgr/wAALCAAe\
        ACgBAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2Jy\
        ggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJ\
        ytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/APxT+CX/ACx/CvsD4Jf8sfwr7A+CX/LH8K+wPgl/yx/CvsD4Jf8ALH8K/j/+CX/LH8K+wPgl/wAs\
        fwr7A+CX/LH8K+wPgl/yx/CvsD4Jf8sfwr+P/wCCX/LH8K+wPgl/yx/CvsD4Jf8ALH8K+wPgl/yx/CvsD4Jf8sfwr+P/AOCX/LH8K+wPgl/yx/CvsD4Jf8sfwr7A+CX/\
        ACx/CvsD4Jf8sfwr/9k=
        """)!)
    /// 40×30 colour: red (200, 0, 0) left half, blue (0, 0, 200) right half, cjpeg -quality 95.
    static let colourJPEG = Array(Data(base64Encoded: """
        /9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYFBgYGBwkIBgcJBwYGCAsICQoKCgoKBggLDAsKDAkKCgr/2wBDAQIC\
        AgICAgUDAwUKBwYHCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgr/wAARCAAeACgDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEA\
        AAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6\
        Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx\
        8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAV\
        YnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPE\
        xcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwD876KKK/nc/wBkDzX9ob/mD/8Abx/7TrzWvSv2hv8AmD/9vH/tOvNa/wBkvop/8mDy\
        f/uY/wDUquf5R/SV/wCT15r/ANwP/UaiFFFFf0MfhZ9KUUUV/wA85/ugea/tDf8AMH/7eP8A2nXmtelftDf8wf8A7eP/AGnXmtf7JfRT/wCTB5P/ANzH/qVXP8o/pK/8\
        nrzX/uB/6jUQooor+hj8LP/Z
        """)!)

    /// The same gradient as a progressive JPEG of 100 scans (cjpeg -scans), and of the usual few.
    static let manyScans = Array(Data(base64Encoded: """
        /9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/wgALCAAe\
        ACgBAREA/8QAFgABAQEAAAAAAAAAAAAAAAAACAoJ/9oACAEBAAAAAM4kAgEAgJ/0AgEAgJ/0AgEAgJ/0AgEAgP/EABQQAQAAAAAAAAAAAAAAAAAAAAX/2gAIAQEAAQEB\
        EEEEEEEEEEEEEEEEEEEE/8QAFBABAAAAAAAAAAAAAAAAAAAAQP/aAAgBAQACAgEn/8QAFBABAAAAAAAAAAAAAAAAAAAAQP/aAAgBAQADAwEn/8QAFBABAAAAAAAAAAAA\
        AAAAAAAAQP/aAAgBAQAEBAEn/8QAFBABAAAAAAAAAAAAAAAAAAAAQP/aAAgBAQAFBQEn/8QAFBABAAAAAAAAAAAAAAAAAAAAAv/aAAgBAQAGBgEkkkkkkkkkn//EABQQ\
        AQAAAAAAAAAAAAAAAAAAAED/2gAIAQEABwcBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEACAgBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEACQkBJ//E\
        ABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEACgoBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEACwsBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEADAwB\
        J//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEADQ0BJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEADg4BJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEA\
        Dw8BJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAEBABJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAEREBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAI\
        AQEAEhIBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAExMBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAFBQBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/\
        2gAIAQEAFRUBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAFhYBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAFxcBJ//EABQQAQAAAAAAAAAAAAAAAAAA\
        AED/2gAIAQEAGBgBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAGRkBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAGhoBJ//EABQQAQAAAAAAAAAAAAAA\
        AAAAAED/2gAIAQEAGxsBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAHBwBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAHR0BJ//EABQQAQAAAAAAAAAA\
        AAAAAAAAAED/2gAIAQEAHh4BJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAHx8BJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAICABJ//EABQQAQAAAAAA\
        AAAAAAAAAAAAAED/2gAIAQEAISEBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAIiIBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAIyMBJ//EABQQAQAA\
        AAAAAAAAAAAAAAAAAED/2gAIAQEAJCQBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAJSUBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAJiYBJ//EABQQ\
        AQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAJycBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAKCgBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAKSkBJ//E\
        ABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAKioBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAKysBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEALCwB\
        J//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEALS0BJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEALi4BJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEA\
        Ly8BJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAMDABJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAMTEBJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAI\
        AQEAAQEQJ/8A/wD/AP/EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAAgIQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAAwMQJ//EABQQAQAAAAAAAAAAAAAA\
        AAAAAED/2gAIAQEABAQQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEABQUQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEABgYQIAAAf//EABQQAQAAAAAA\
        AAAAAAAAAAAAAED/2gAIAQEABwcQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEACAgQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEACQkQJ//EABQQAQAA\
        AAAAAAAAAAAAAAAAAED/2gAIAQEACgoQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEACwsQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEADAwQJ//EABQQ\
        AQAAAAAAAAAAAAAAAAAAAED/2gAIAQEADQ0QJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEADg4QJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEADw8QJ//E\
        ABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAEBAQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAEREQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAEhIQ\
        J//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAExMQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAFBQQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEA\
        FRUQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAFhYQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAFxcQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAI\
        AQEAGBgQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAGRkQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAGhoQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/\
        2gAIAQEAGxsQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAHBwQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAHR0QJ//EABQQAQAAAAAAAAAAAAAAAAAA\
        AED/2gAIAQEAHh4QJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAHx8QJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAICAQJ//EABQQAQAAAAAAAAAAAAAA\
        AAAAAED/2gAIAQEAISEQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAIiIQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAIyMQJ//EABQQAQAAAAAAAAAA\
        AAAAAAAAAED/2gAIAQEAJCQQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAJSUQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAJiYQJ//EABQQAQAAAAAA\
        AAAAAAAAAAAAAED/2gAIAQEAJycQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAKCgQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAKSkQJ//EABQQAQAA\
        AAAAAAAAAAAAAAAAAED/2gAIAQEAKioQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAKysQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEALCwQJ//EABQQ\
        AQAAAAAAAAAAAAAAAAAAAED/2gAIAQEALS0QJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEALi4QJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEALy8QJ//E\
        ABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAMDAQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAMTEQJ//EABQQAQAAAAAAAAAAAAAAAAAAAED/2gAIAQEAMj8A\
        J//Z
        """)!)
    static let progressive = Array(Data(base64Encoded: """
        /9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wgALCAAe\
        ACgBAREA/8QAFgABAQEAAAAAAAAAAAAAAAAABQcG/9oACAEBAAAAAcSwwwxH2GGGI+wwwxH2GGGP/8QAFRABAQAAAAAAAAAAAAAAAAAAAAP/2gAIAQEAAQUCmmmmmmmm\
        mmmmmmmmmmmm/8QAFBABAAAAAAAAAAAAAAAAAAAAQP/aAAgBAQAGPwIn/8QAFBABAAAAAAAAAAAAAAAAAAAAQP/aAAgBAQABPyEn/wD/AP8A/9oACAEBAAAAEP8A/wD/\
        AP/EABUQAQEAAAAAAAAAAAAAAAAAAABB/9oACAEBAAE/EIQhCEIQhCEIQhCEIQ//2Q==
        """)!)

    @Test func progressiveJPEGsDecodeAndTooManyScansAreRefused() throws {
        let image = try GreyImage(decoding: Self.progressive, name: "p.jpg")
        #expect(image.width == 40 && abs(Int(image.pixels[15 * 40 + 10]) - 60) <= 8)
        #expect(throws: DatasetError.truncated(path: "many.jpg", detail: "JPEG data unreadable: more than 64 scans")) {
            try GreyImage(decoding: Self.manyScans, name: "many.jpg")
        }
    }

    @Test func aCutOffJPEGIsAnErrorNotAGreyPaddedImage() throws {
        let cut = Array(Self.greyJPEG.prefix(Self.greyJPEG.count * 3 / 4))
        #expect(throws: DatasetError.truncated(path: "cut.jpg", detail: "JPEG data unreadable: the JPEG data is cut off or damaged")) {
            try GreyImage(decoding: cut, name: "cut.jpg")
        }
    }

    func encodedPNG(_ pixels: [Float], width: Int, height: Int) throws -> [UInt8] {
        try PNGFormat.encode(pixels, width: width, height: height)
    }

    @Test func jpegsDecodeToGrey() throws {
        let grey = try GreyImage(decoding: Self.greyJPEG, name: "g.jpg")
        #expect(grey.width == 40 && grey.height == 30)
        for x in [2, 10, 20, 30] { #expect(abs(Int(grey.pixels[15 * 40 + x]) - (6 * x) % 256) <= 8, "x = \(x)") }
        let colour = try GreyImage(decoding: Self.colourJPEG, name: "c.jpg")
        #expect(colour.width == 40 && colour.height == 30)
        // Luma of (200, 0, 0) is 60, of (0, 0, 200) is 23.
        #expect(abs(Int(colour.pixels[15 * 40 + 8]) - 60) <= 6)
        #expect(abs(Int(colour.pixels[15 * 40 + 32]) - 23) <= 6)
    }

    @Test func corruptJPEGsAreErrorsNotCrashes() throws {
        let jpeg = Self.greyJPEG
        var cases: [[UInt8]] = [Array(jpeg.prefix(3)), Array(jpeg.prefix(20)), Array(jpeg.prefix(jpeg.count / 2)), [0xFF, 0xD8, 0xFF, 0xE0]]
        var scrambled = jpeg
        for index in stride(from: 2, to: scrambled.count, by: 7) { scrambled[index] ^= 0x5A }
        cases.append(scrambled)
        var generator = SystemRandomNumberGenerator()
        for _ in 0 ..< 200 {
            var mutated = jpeg
            for _ in 0 ..< 4 {
                mutated[Int.random(in: 3 ..< mutated.count, using: &generator)] = UInt8.random(in: 0 ... 255, using: &generator)
            }
            cases.append(mutated)
        }
        for bytes in cases {
            // Either a decoded image of the declared size or a DatasetError: both are fine, a crash is not.
            if let image = try? GreyImage(decoding: bytes, name: "upload") { #expect(image.pixels.count == image.width * image.height) }
        }
        #expect(throws: DatasetError.self) { try GreyImage(decoding: Array(jpeg.prefix(20)), name: "cut.jpg") }
    }

    @Test func otherBytesAreRefusedByName() throws {
        #expect(throws: DatasetError.malformed(path: "x.gif", detail: "not a PNG or JPEG image (its first bytes say neither)")) {
            try GreyImage(decoding: Array("GIF89a".utf8), name: "x.gif")
        }
        #expect(throws: DatasetError.self) { try GreyImage(decoding: [], name: "empty") }
    }

    @Test func aPNGDeclaringAHugeSizeIsRefusedBeforeAllocating() throws {
        var png = try encodedPNG([Float](repeating: 0.5, count: 16), width: 4, height: 4)
        // IHDR's width and height (bytes 16–23): 100,000 × 100,000, CRC left wrong on purpose too.
        for (offset, byte) in [UInt8(0x00), 0x01, 0x86, 0xA0, 0x00, 0x01, 0x86, 0xA0].enumerated() { png[16 + offset] = byte }
        #expect(throws: DatasetError.self) { try GreyImage(decoding: png, name: "huge.png") }
    }

    @Test func aJPEGDeclaringAHugeSizeIsRefusedBeforeAllocating() throws {
        var jpeg = Self.greyJPEG
        // The start-of-frame segment (FF C0 or FF C2): length, precision, then height and width.
        let sof = try #require((0 ..< jpeg.count - 8).first { jpeg[$0] == 0xFF && (jpeg[$0 + 1] == 0xC0 || jpeg[$0 + 1] == 0xC2) })
        // 60,000 × 60,000 (libjpeg itself stops at 65,500 a side).
        for (offset, byte) in [UInt8(0xEA), 0x60, 0xEA, 0x60].enumerated() { jpeg[sof + 5 + offset] = byte }
        #expect(throws: DatasetError.malformed(path: "huge.jpg",
                                               detail: "image of 60000×60000 pixels: at most \(GreyImage.maxPixels) pixels are read")) {
            try GreyImage(decoding: jpeg, name: "huge.jpg")
        }
    }

    @Test func oneRowAndOneColumnImagesFit() {
        for (width, height) in [(1, 1), (1, 50), (50, 1)] {
            let image = GreyImage(width: width, height: height, pixels: [UInt8](repeating: 200, count: width * height))
            let fitted = ImageFitting.fit(image, width: 28, height: 28)
            #expect(fitted.count == 784 && fitted.allSatisfy { $0 >= 0 && $0 <= 1 })
        }
    }

    @Test func pngsOfAnySizeAndColourDecode() throws {
        let pixels = (0 ..< 56 * 40).map { Float($0 % 56) / 55 }
        let image = try GreyImage(decoding: try encodedPNG(pixels, width: 56, height: 40), name: "p.png")
        #expect(image.width == 56 && image.height == 40)
        #expect(image.pixels[0] == 0 && image.pixels[55] == 255)
    }

    @Test func anImageOfTheTargetSizeWithADarkBorderPassesUnchanged() throws {
        var pixels = [Float](repeating: 0, count: 784)
        for y in 6 ..< 22 { for x in 8 ..< 20 { pixels[y * 28 + x] = Float((x * y) % 255) / 255 } }
        let png = try encodedPNG(pixels, width: 28, height: 28)
        let fitted = ImageFitting.fit(try GreyImage(decoding: png, name: "p"), width: 28, height: 28)
        #expect(fitted == (try PNGFormat.read(writeTemporary(png))))
    }

    @Test func anEnlargedCopyFitsBackExactly() throws {
        var pixels = [Float](repeating: 0, count: 784)
        for index in 0 ..< 784 where index % 3 == 0 { pixels[index] = Float(index % 251) / 255 }
        let original = try GreyImage(decoding: try encodedPNG(pixels, width: 28, height: 28), name: "o")
        var large = [UInt8](repeating: 0, count: 56 * 56)
        for y in 0 ..< 56 { for x in 0 ..< 56 { large[y * 56 + x] = original.pixels[(y / 2) * 28 + x / 2] } }
        let fitted = ImageFitting.fit(GreyImage(width: 56, height: 56, pixels: large), width: 28, height: 28)
        let expected = original.pixels.map { Float($0) / 255 }
        #expect(zip(fitted, expected).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func wideImagesAreCentredAndBrightBackgroundsInverted() throws {
        // 56×28, white background with a black bar in the middle: inverted to a light bar on black,
        // scaled to 28×14 and centred with 7 rows of background above and below.
        var pixels = [UInt8](repeating: 255, count: 56 * 28)
        for y in 10 ..< 18 { for x in 20 ..< 36 { pixels[y * 56 + x] = 0 } }
        let fitted = ImageFitting.fit(GreyImage(width: 56, height: 28, pixels: pixels), width: 28, height: 28)
        #expect(fitted.count == 784)
        #expect(fitted[0 ..< 7 * 28].allSatisfy { $0 == 0 })
        #expect(fitted[21 * 28 ..< 784].allSatisfy { $0 == 0 })
        #expect(fitted[14 * 28 + 14] == 1)
        #expect(fitted[8 * 28 + 2] == 0)
    }

    func writeTemporary(_ bytes: [UInt8]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fit-\(UUID().uuidString).png").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}
