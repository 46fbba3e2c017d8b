/// A reusable float buffer that only grows, so steady-state decoding allocates nothing.
/// Not thread-safe: one owner (a model's forward pass) uses it at a time.
public final class ScratchBuffer {
    public private(set) var capacity = 0
    public private(set) var pointer = UnsafeMutablePointer<Float>.allocate(capacity: 1)

    public init() {}

    deinit { pointer.deallocate() }

    /// At least `count` floats (contents unspecified).
    public func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            pointer.deallocate()
            capacity = max(count, capacity * 2)
            pointer = .allocate(capacity: capacity)
        }
        return pointer
    }
}
