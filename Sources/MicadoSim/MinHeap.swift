/// The simulation's queue of what happens next (boots, interruptions, containers' ends):
/// push and pop the least in O(log n), where a sorted array's insert moved the whole array.
struct MinHeap<Element: Comparable> {
    private var items: [Element] = []

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    var min: Element? { items.first }

    mutating func push(_ item: Element) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let least = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count && items[left] < items[smallest] { smallest = left }
            if right < items.count && items[right] < items[smallest] { smallest = right }
            guard smallest != parent else { return least }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

/// Something due at a time; ties by name, so a replay pops in the same order.
struct Due: Comparable {
    var at: Double
    var name: String
    static func < (a: Due, b: Due) -> Bool { (a.at, a.name) < (b.at, b.name) }
}
