extension Array {
    /// The array in consecutive slices of at most `size` elements (the last may be shorter): how stores keep
    /// `IN (...)` lists and multi-row inserts within the engines' bind limits.
    public func chunked(into size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
