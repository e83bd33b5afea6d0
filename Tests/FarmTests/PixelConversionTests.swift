import CFFmpeg
import CPixels
import Testing

/// The agent's RGBA to YUV 4:2:0 conversion (`farm_rgba_to_yuv420p`) against libswscale's, which it replaced.
@Suite struct PixelConversionTests {
    /// A picture with every kind of content Manim draws: smooth gradients in every channel, flat areas, hard edges.
    static func picture(width: Int, height: Int) -> [UInt8] {
        var rgba = [UInt8](repeating: 255, count: width * height * 4)
        for row in 0..<height {
            for column in 0..<width {
                let at = (row * width + column) * 4
                let flat = column > width * 3 / 4
                rgba[at] = flat ? 40 : UInt8((column * 255) / max(width - 1, 1))
                rgba[at + 1] = flat ? 200 : UInt8((row * 255) / max(height - 1, 1))
                rgba[at + 2] = flat ? 90 : UInt8(((column + row) * 255) / max(width + height - 2, 1))
            }
        }
        return rgba
    }

    typealias Planes = (y: [UInt8], u: [UInt8], v: [UInt8])

    static func farm(_ rgba: [UInt8], width: Int, height: Int) -> Planes {
        let chromaWidth = (width + 1) / 2, chromaHeight = (height + 1) / 2
        var y = [UInt8](repeating: 0, count: width * height)
        var u = [UInt8](repeating: 0, count: chromaWidth * chromaHeight)
        var v = u
        y.withUnsafeMutableBufferPointer { y in
            u.withUnsafeMutableBufferPointer { u in
                v.withUnsafeMutableBufferPointer { v in
                    farm_rgba_to_yuv420p(rgba, width * 4, Int32(width), Int32(height), y.baseAddress, width,
                                         u.baseAddress, chromaWidth, v.baseAddress, chromaWidth)
                }
            }
        }
        return (y, u, v)
    }

    static func swscale(_ rgba: [UInt8], width: Int, height: Int) throws -> Planes {
        let chromaWidth = (width + 1) / 2, chromaHeight = (height + 1) / 2
        let context = try #require(sws_getContext(Int32(width), Int32(height), AV_PIX_FMT_RGBA, Int32(width), Int32(height),
                                                  AV_PIX_FMT_YUV420P, SWS_BICUBIC, nil, nil, nil))
        defer { sws_freeContext(context) }
        _ = sws_setColorspaceDetails(context, sws_getCoefficients(SWS_CS_DEFAULT), 1,
                                     sws_getCoefficients(SWS_CS_ITU709), 0, 0, 1 << 16, 1 << 16)
        var y = [UInt8](repeating: 0, count: width * height)
        var u = [UInt8](repeating: 0, count: chromaWidth * chromaHeight)
        var v = u
        let rows = rgba.withUnsafeBufferPointer { source in
            y.withUnsafeMutableBufferPointer { y in
                u.withUnsafeMutableBufferPointer { u in
                    v.withUnsafeMutableBufferPointer { v in
                        var sources: [UnsafePointer<UInt8>?] = [source.baseAddress, nil, nil, nil]
                        var sourceStrides: [Int32] = [Int32(width * 4), 0, 0, 0]
                        var planes: [UnsafeMutablePointer<UInt8>?] = [y.baseAddress, u.baseAddress, v.baseAddress, nil]
                        var strides: [Int32] = [Int32(width), Int32(chromaWidth), Int32(chromaWidth), 0]
                        return sws_scale(context, &sources, &sourceStrides, 0, Int32(height), &planes, &strides)
                    }
                }
            }
        }
        #expect(rows == Int32(height))
        return (y, u, v)
    }

    static func differences(_ a: [UInt8], _ b: [UInt8]) -> (largest: Int, mean: Double) {
        let each = zip(a, b).map { abs(Int($0) - Int($1)) }
        return (each.max() ?? 0, Double(each.reduce(0, +)) / Double(max(each.count, 1)))
    }

    @Test(arguments: [(1920, 1080), (854, 480), (640, 360)])
    func matchesLibswscale(size: (Int, Int)) throws {
        let (width, height) = size
        let rgba = Self.picture(width: width, height: height)
        let ours = Self.farm(rgba, width: width, height: height)
        let reference = try Self.swscale(rgba, width: width, height: height)
        let luma = Self.differences(ours.y, reference.y)
        #expect(luma.largest <= 1, "luma differs by \(luma.largest) at \(width)x\(height)")
        for (name, mine, theirs) in [("Cb", ours.u, reference.u), ("Cr", ours.v, reference.v)] {
            // libswscale filters chroma with a wider kernel than the 2x2 mean: they part only at hard edges.
            let chroma = Self.differences(mine, theirs)
            #expect(chroma.mean < 1.0, "\(name) differs by \(chroma.mean) on average at \(width)x\(height)")
        }
    }

    /// An odd last column or row makes its chroma from itself alone, as if it were doubled.
    @Test(arguments: [(35, 19), (1, 1), (7, 2), (2, 7)])
    func oddSizesPairTheirLastColumnAndRowWithThemselves(size: (Int, Int)) {
        let (width, height) = size
        let rgba = Self.picture(width: width, height: height)
        let (evenWidth, evenHeight) = (width + width % 2, height + height % 2)
        var doubled = [UInt8](repeating: 0, count: evenWidth * evenHeight * 4)
        for row in 0..<evenHeight {
            for column in 0..<evenWidth {
                let from = (min(row, height - 1) * width + min(column, width - 1)) * 4
                let to = (row * evenWidth + column) * 4
                doubled[to..<to + 4] = rgba[from..<from + 4]
            }
        }
        let odd = Self.farm(rgba, width: width, height: height)
        let even = Self.farm(doubled, width: evenWidth, height: evenHeight)
        let croppedLuma = (0..<height).flatMap { row in even.y[row * evenWidth..<row * evenWidth + width] }
        #expect(odd.y == croppedLuma)
        #expect(odd.u == even.u && odd.v == even.v)
    }

    @Test func blackAndWhiteSpanTheLimitedRange() {
        let white = Self.farm([UInt8](repeating: 255, count: 16), width: 2, height: 2)
        let black = Self.farm([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255], width: 2, height: 2)
        #expect(white.y == [235, 235, 235, 235] && white.u == [128] && white.v == [128])
        #expect(black.y == [16, 16, 16, 16] && black.u == [128] && black.v == [128])
    }
}
