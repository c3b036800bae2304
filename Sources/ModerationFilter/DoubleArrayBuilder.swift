/// Builds a double-array Aho-Corasick automaton from sorted, de-duplicated keys.
///
/// Placement is first-fit over a doubly linked free list of slots with unique bases (as in daachorse and
/// darts-clone); failure and dictionary-suffix links are filled in breadth-first order.
struct DoubleArrayBuilder {
    /// Keys as symbol sequences, stored flat.
    let symbols: [UInt16]
    let offsets: [Int]  // key k = symbols[offsets[k]..<offsets[k+1]]
    /// Key order: lexicographic.
    let order: [Int32]

    private(set) var base: [Int32] = []
    private(set) var check: [UInt16] = []
    private(set) var fail: [Int32] = []
    private(set) var meta: [UInt16] = []
    /// Key index for terminal slots, -1 elsewhere.
    private(set) var terminalKey: [Int32] = []
    private(set) var dictLink: [Int32] = []
    private(set) var bloom: [UInt16] = []
    private(set) var stateCount = 0

    private var used: [Bool] = []
    private var baseUsed: [Bool] = []
    private var nextFree: [Int32] = []
    private var prevFree: [Int32] = []
    private var freeHead: Int32 = -1
    /// Highest occupied slot.
    private var frontier = 0

    init(symbols: [UInt16], offsets: [Int], order: [Int32]) {
        self.symbols = symbols
        self.offsets = offsets
        self.order = order
    }

    private struct Node {
        var slot: Int32
        var lo: Int32
        var hi: Int32
        var depth: Int32
        var parent: Int32
        var label: UInt16
    }

    mutating func build() {
        let estimate = max(1024, symbols.count + symbols.count / 4)
        grow(to: estimate)
        occupy(0)
        var queue: [Node] = [Node(slot: 0, lo: 0, hi: Int32(order.count), depth: 0, parent: -1, label: 0)]
        queue.reserveCapacity(symbols.count + 1)
        var labels: [UInt16] = []
        var bounds: [Int32] = []
        var head = 0
        symbols.withUnsafeBufferPointer { sym in
            offsets.withUnsafeBufferPointer { off in
                while head < queue.count {
                    let node = queue[head]
                    head += 1
                    var lo = Int(node.lo)
                    let hi = Int(node.hi)
                    let depth = Int(node.depth)
                    let s = Int(node.slot)
                    meta[s] = UInt16(depth)
                    if lo < hi {
                        let k = Int(order[lo])
                        if off[k + 1] - off[k] == depth {
                            terminalKey[s] = Int32(k)
                            meta[s] |= DoubleArrayLayout.terminal
                            lo += 1
                        }
                    }
                    labels.removeAll(keepingCapacity: true)
                    bounds.removeAll(keepingCapacity: true)
                    var i = lo
                    while i < hi {
                        let a = sym[off[Int(order[i])] + depth]
                        var j = i + 1
                        while j < hi, sym[off[Int(order[j])] + depth] == a { j += 1 }
                        labels.append(a)
                        bounds.append(Int32(i))
                        i = j
                    }
                    bounds.append(Int32(hi))
                    if labels.isEmpty {
                        base[s] = DoubleArrayLayout.leafBase
                        continue
                    }
                    let b = findBase(labels)
                    base[s] = b
                    bloom[s] = DoubleArrayLayout.bloom(of: labels)
                    baseUsed[Int(b)] = true
                    for (index, a) in labels.enumerated() {
                        let t = Int(b) + Int(a)
                        occupy(t)
                        check[t] = a
                        queue.append(Node(
                            slot: Int32(t), lo: bounds[index], hi: bounds[index + 1], depth: Int32(depth + 1),
                            parent: Int32(s), label: a))
                    }
                }
            }
        }
        stateCount = queue.count
        // Trim trailing empty slots.
        var last = base.count - 1
        while last > 0, !used[last] { last -= 1 }
        let count = last + 1
        base.removeSubrange(count...)
        check.removeSubrange(count...)
        meta.removeSubrange(count...)
        terminalKey.removeSubrange(count...)
        bloom.removeSubrange(count...)
        fail = [Int32](repeating: 0, count: count)
        dictLink = [Int32](repeating: -1, count: count)
        // Failure and dictionary-suffix links, breadth first.
        for node in queue.dropFirst() {
            let t = Int(node.slot)
            var f: Int32 = 0
            if node.parent != 0 {
                var candidate = fail[Int(node.parent)]
                while true {
                    let next = Int(base[Int(candidate)]) &+ Int(node.label)
                    if next >= 0, next < count, check[next] == node.label, base[Int(candidate)] != DoubleArrayLayout.leafBase {
                        f = Int32(next)
                        break
                    }
                    if candidate == 0 { break }
                    candidate = fail[Int(candidate)]
                }
            }
            fail[t] = f
            let link = terminalKey[Int(f)] >= 0 ? f : dictLink[Int(f)]
            dictLink[t] = link
            if link >= 0 { meta[t] |= DoubleArrayLayout.hasDictLink }
        }
    }

    private mutating func grow(to newCount: Int) {
        let old = base.count
        guard newCount > old else { return }
        base.append(contentsOf: repeatElement(DoubleArrayLayout.leafBase, count: newCount - old))
        check.append(contentsOf: repeatElement(0, count: newCount - old))
        meta.append(contentsOf: repeatElement(0, count: newCount - old))
        terminalKey.append(contentsOf: repeatElement(-1, count: newCount - old))
        bloom.append(contentsOf: repeatElement(0, count: newCount - old))
        used.append(contentsOf: repeatElement(false, count: newCount - old))
        baseUsed.append(contentsOf: repeatElement(false, count: newCount - old))
        nextFree.append(contentsOf: repeatElement(-1, count: newCount - old))
        prevFree.append(contentsOf: repeatElement(-1, count: newCount - old))
        // Append the new slots to the circular free list.
        for i in old..<newCount {
            let slot = Int32(i)
            if freeHead < 0 {
                freeHead = slot
                nextFree[i] = slot
                prevFree[i] = slot
            } else {
                let tail = prevFree[Int(freeHead)]
                nextFree[Int(tail)] = slot
                prevFree[i] = tail
                nextFree[i] = freeHead
                prevFree[Int(freeHead)] = slot
            }
        }
    }

    private mutating func occupy(_ t: Int) {
        if t >= base.count { grow(to: max(t + 1, base.count * 2)) }
        used[t] = true
        if t > frontier { frontier = t }
        let next = nextFree[t]
        let prev = prevFree[t]
        if next == Int32(t) {
            freeHead = -1
        } else {
            nextFree[Int(prev)] = next
            prevFree[Int(next)] = prev
            if freeHead == Int32(t) { freeHead = next }
        }
    }

    private mutating func ensureCapacity(_ count: Int) {
        if count > base.count { grow(to: max(count, base.count * 2)) }
    }

    @inline(__always)
    private mutating func fits(_ b: Int, _ labels: [UInt16]) -> Bool {
        ensureCapacity(b + Int(labels[labels.count - 1]) + 1)
        for a in labels where used[b + Int(a)] { return false }
        return true
    }

    /// Finds an unused base whose child slots are all free.
    ///
    /// Nodes with one or two children (most of them) take the first fitting slot of the free list, which
    /// fills the holes left by wide nodes. Wide nodes (CJK first characters spread over thousands of labels)
    /// scan a window just behind the highest occupied slot instead, where a fit is likely.
    private mutating func findBase(_ labels: [UInt16]) -> Int32 {
        let first = Int(labels[0])
        let spread = Int(labels[labels.count - 1]) - first
        if labels.count <= 2 {
            var f = freeHead
            var tries = 0
            while f >= 0, tries < 512 {
                let b = Int(f) - first
                if b >= 0, !baseUsed[b], fits(b, labels) { return Int32(b) }
                f = nextFree[Int(f)]
                if f == freeHead { break }
                tries += 1
            }
        }
        // Wide nodes: walk the free list (kept in slot order) from just behind the frontier.
        var f = max(frontier - spread - 1, first)
        ensureCapacity(f + 1)
        while used[f] {
            f += 1
            ensureCapacity(f + 1)
        }
        while true {
            let b = f - first
            if !baseUsed[b], fits(b, labels) { return Int32(b) }
            let next = Int(nextFree[f])
            if next > f {
                f = next
            } else {
                // f was the last free slot: grow; the new slots follow it in the list.
                let old = base.count
                grow(to: old * 2)
                f = old
            }
        }
    }
}
