import FarmModel
import FarmStorage

/// Which cached renders to drop so that the render cache fits its limit.
enum RenderCacheEviction {
    /// The first of `renders` (least recently used first) whose removal
    /// brings `totalBytes` down to `targetBytes` or below.
    static func victims(_ renders: [CachedRender], totalBytes: Int, targetBytes: Int) -> [CachedRender] {
        var remaining = totalBytes
        var victims: [CachedRender] = []
        for render in renders where remaining > targetBytes {
            victims.append(render)
            remaining -= render.bytes
        }
        return victims
    }
}
