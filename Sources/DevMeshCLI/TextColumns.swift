/// The CLI's tables: columns padded to their widest cell, two spaces apart, the last column
/// unpadded (no trailing spaces); `rightAligned` columns (numbers) are padded on the left.
enum TextColumns {
    static func lines(_ rows: [[String]], rightAligned: Set<Int> = []) -> [String] {
        guard let first = rows.first else { return [] }
        let widths = first.indices.map { c in rows.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: max(0, widths[c] - cell.count))
                if c == row.count - 1 { return rightAligned.contains(c) ? pad + cell : cell }
                return rightAligned.contains(c) ? pad + cell : cell + pad
            }.joined(separator: "  ")
        }
    }
}
