import Foundation

/// A small SVG writer for the report's plots (no dependencies; the files open in any browser).
struct SVGChart {
    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                          "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"]

    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
        /// The 95% interval of each point's y, drawn as an error bar (empty: none).
        var intervals: [ClosedRange<Double>?] = []
    }

    /// Lines with markers, one per series; `reference` is drawn as a star (e.g. the full cache).
    static func lines(title: String, xLabel: String, yLabel: String, series: [Series], reference: (name: String, x: Double, y: Double)?,
                      yRange: ClosedRange<Double>? = nil) -> String {
        let width = 760.0, left = 70.0, right = 190.0, top = 40.0, bottom = 60.0
        // Tall enough for the legend: one 18-pixel line per series and the reference.
        let height = max(460.0, top + 18 * Double(series.count + 2) + bottom)
        let xs = series.flatMap { $0.points.map(\.x) } + (reference.map { [$0.x] } ?? [])
        let ys = series.flatMap { $0.points.map(\.y) } + (reference.map { [$0.y] } ?? [])
        let x0 = 0.0, x1 = max(1e-9, (xs.max() ?? 1) * 1.05)
        let y0 = yRange?.lowerBound ?? min(0, ys.min() ?? 0), y1 = yRange?.upperBound ?? max(1e-9, (ys.max() ?? 1) * 1.05)
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * (width - left - right) }
        func py(_ y: Double) -> Double { height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom) }
        var svg = header(width, height) + text(width / 2 - 80, 24, title, size: 16, bold: true)
        for i in 0 ... 5 {
            let gx = x0 + Double(i) / 5 * (x1 - x0), gy = y0 + Double(i) / 5 * (y1 - y0)
            svg += line(px(gx), top, px(gx), height - bottom, stroke: "#eee")
            svg += line(left, py(gy), width - right, py(gy), stroke: "#eee")
            svg += text(px(gx) - 12, height - bottom + 18, String(format: "%.1f", gx), size: 11)
            svg += text(left - 44, py(gy) + 4, String(format: "%.2f", gy), size: 11)
        }
        svg += frame(width: width, height: height, left: left, right: right, top: top, bottom: bottom,
                     xLabel: xLabel, yLabel: yLabel)
        for (i, s) in series.enumerated() {
            let color = palette[i % palette.count], points = s.points.sorted { $0.x < $1.x }
            let coordinates = points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"" + coordinates + "\"/>\n"
            for p in points { svg += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3.5\" fill=\"\(color)\"/>\n" }
            for (p, interval) in zip(s.points, s.intervals) {
                guard let interval else { continue }
                let x = f(px(p.x)), low = f(py(interval.lowerBound)), high = f(py(interval.upperBound))
                svg += "<line x1=\"\(x)\" y1=\"\(low)\" x2=\"\(x)\" y2=\"\(high)\" stroke=\"\(color)\" stroke-opacity=\"0.6\"/>\n"
            }
            svg += "<rect x=\"\(f(width - right + 14))\" y=\"\(f(top + 8 + Double(i) * 18))\" "
                + "width=\"12\" height=\"12\" fill=\"\(color)\"/>\n"
            svg += text(width - right + 32, top + 18 + Double(i) * 18, s.name, size: 12)
        }
        if let r = reference {
            svg += "<text x=\"\(f(px(r.x) - 7))\" y=\"\(f(py(r.y) + 6))\" font-size=\"18\" fill=\"#000\">★</text>\n"
            svg += text(width - right + 14, top + 18 + Double(series.count) * 18, "★ \(r.name)", size: 12)
        }
        return svg + "</svg>\n"
    }

    /// Quality against bytes for the allocator's Pareto comparison: every fixed configuration a grey dot, their
    /// Pareto frontier a dashed staircase with each point named, the allocator a red line with its 95% bars, each
    /// target's bytes a dotted vertical, the full cache a star. Bytes on a log scale (budgets halve), and y too with
    /// `logY` (KL spans decades).
    static func pareto(title: String, subtitle: String, xLabel: String, yLabel: String, fixed: [(x: Double, y: Double)],
                       frontier: [(name: String, x: Double, y: Double)], allocator: Series, budgets: [Double],
                       reference: (name: String, x: Double, y: Double)?, yRange: ClosedRange<Double>?,
                       logY: Bool) -> String {
        let width = 900.0, height = 540.0, left = 70.0, right = 200.0, top = 60.0, bottom = 60.0
        let allX = fixed.map(\.x) + allocator.points.map(\.x) + budgets + (reference.map { [$0.x] } ?? [])
        let xs = allX.filter { $0 > 0 }
        let ys = fixed.map(\.y) + allocator.points.map(\.y) + (reference.map { [$0.y] } ?? [])
        let floor = (ys.filter { $0 > 0 }.min() ?? 1e-4) / 2
        func t(_ y: Double) -> Double { logY ? log10(max(y, floor)) : y }
        let x0 = log10((xs.min() ?? 1) / 1.3), x1 = log10((xs.max() ?? 10) * 1.2)
        let y0 = logY ? log10(floor) : yRange?.lowerBound ?? min(0, ys.min() ?? 0)
        let top1 = ys.max() ?? 1
        let y1 = logY ? log10(max(floor * 10, top1 * 1.5)) : yRange?.upperBound ?? max(1e-9, top1 * 1.05)
        func px(_ x: Double) -> Double { left + (log10(max(x, 1e-9)) - x0) / (x1 - x0) * (width - left - right) }
        func py(_ y: Double) -> Double { height - bottom - (t(y) - y0) / (y1 - y0) * (height - top - bottom) }
        var svg = header(width, height) + text(left, 24, title, size: 15, bold: true)
        svg += text(left, 44, subtitle, size: 11)
        // 1, 2, 5 × every power of ten in range.
        let powers = Int(x0.rounded(.down)) ... Int(x1.rounded(.up))
        let xTicks = powers.flatMap { e in [1.0, 2, 5].map { $0 * pow(10, Double(e)) } }
        for gx in xTicks where log10(gx) >= x0 && log10(gx) <= x1 {
            svg += line(px(gx), top, px(gx), height - bottom, stroke: "#eee")
            svg += text(px(gx) - 8, height - bottom + 18, String(format: "%g", gx), size: 11)
        }
        // Log scale: a line at every power of ten in range.
        let decades = Int(y0.rounded(.up)) ... max(Int(y0.rounded(.up)), Int(y1.rounded(.down)))
        let yTicks = logY ? decades.map { pow(10, Double($0)) } : (0 ... 5).map { y0 + Double($0) / 5 * (y1 - y0) }
        for gy in yTicks {
            svg += line(left, py(gy), width - right, py(gy), stroke: "#eee")
            svg += text(left - 50, py(gy) + 4, logY ? String(format: "%g", gy) : String(format: "%.2f", gy), size: 11)
        }
        svg += frame(width: width, height: height, left: left, right: right, top: top, bottom: bottom,
                     xLabel: xLabel, yLabel: yLabel)
        for b in budgets {
            svg += "<line x1=\"\(f(px(b)))\" y1=\"\(f(top))\" x2=\"\(f(px(b)))\" y2=\"\(f(height - bottom))\" "
                + "stroke=\"#d62728\" stroke-opacity=\"0.4\" stroke-dasharray=\"2,3\"/>\n"
        }
        for p in fixed { svg += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"2.5\" fill=\"#bbb\"/>\n" }
        var steps: [String] = []
        for (i, p) in frontier.enumerated() {
            if i > 0 { steps.append("\(f(px(p.x))),\(f(py(frontier[i - 1].y)))") }
            steps.append("\(f(px(p.x))),\(f(py(p.y)))")
        }
        svg += "<polyline fill=\"none\" stroke=\"#333\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\" points=\""
            + steps.joined(separator: " ") + "\"/>\n"
        for p in frontier {
            svg += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3.5\" fill=\"#333\"/>\n"
            let x = f(px(p.x) + 5), y = f(py(p.y) - 5)
            svg += "<text x=\"\(x)\" y=\"\(y)\" font-size=\"9\" font-family=\"sans-serif\" fill=\"#333\" "
                + "transform=\"rotate(-20 \(x) \(y))\">\(escape(p.name))</text>\n"
        }
        let red = "#d62728"
        let points = allocator.points.sorted { $0.x < $1.x }
        svg += "<polyline fill=\"none\" stroke=\"\(red)\" stroke-width=\"2.5\" points=\""
            + points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ") + "\"/>\n"
        for (p, interval) in zip(allocator.points, allocator.intervals) {
            svg += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"4.5\" fill=\"\(red)\"/>\n"
            guard let interval else { continue }
            svg += "<line x1=\"\(f(px(p.x)))\" y1=\"\(f(py(interval.lowerBound)))\" x2=\"\(f(px(p.x)))\" "
                + "y2=\"\(f(py(interval.upperBound)))\" stroke=\"\(red)\" stroke-opacity=\"0.7\" stroke-width=\"2\"/>\n"
        }
        let legendX = width - right + 14
        svg += "<rect x=\"\(f(legendX))\" y=\"\(f(top + 8))\" width=\"12\" height=\"12\" fill=\"\(red)\"/>\n"
        svg += text(legendX + 18, top + 18, allocator.name, size: 12)
        svg += "<line x1=\"\(f(legendX))\" y1=\"\(f(top + 32))\" x2=\"\(f(legendX + 12))\" y2=\"\(f(top + 32))\" "
            + "stroke=\"#333\" stroke-dasharray=\"5,3\" stroke-width=\"1.5\"/>\n"
        svg += text(legendX + 18, top + 36, "fixed: Pareto frontier", size: 12)
        svg += "<circle cx=\"\(f(legendX + 6))\" cy=\"\(f(top + 50))\" r=\"2.5\" fill=\"#bbb\"/>\n"
        svg += text(legendX + 18, top + 54, "fixed: other (\(fixed.count - frontier.count))", size: 12)
        svg += "<line x1=\"\(f(legendX))\" y1=\"\(f(top + 68))\" x2=\"\(f(legendX + 12))\" y2=\"\(f(top + 68))\" "
            + "stroke=\"\(red)\" stroke-opacity=\"0.4\" stroke-dasharray=\"2,3\"/>\n"
        svg += text(legendX + 18, top + 72, "memory targets", size: 12)
        if let r = reference {
            svg += "<text x=\"\(f(px(r.x) - 7))\" y=\"\(f(py(r.y) + 6))\" font-size=\"18\" fill=\"#000\">★</text>\n"
            svg += text(legendX, top + 92, "★ \(r.name)", size: 12)
        }
        return svg + "</svg>\n"
    }

    /// A grid of small heatmaps: one per (row label, column label), each `cells[row][column]` a matrix of
    /// scores in [0, 1] (rows: contexts, columns: depths), green for found, red for missed.
    static func heatmaps(title: String, rows: [String], columns: [String], innerRows: [String], innerColumns: [String],
                         cells: [[[[Double?]]]]) -> String {
        let cell = 14.0, pad = 26.0, labelWidth = 200.0, top = 70.0
        let blockWidth = Double(innerColumns.count) * cell + pad, blockHeight = Double(innerRows.count) * cell + pad
        let width = labelWidth + Double(columns.count) * blockWidth + 20, height = top + Double(rows.count) * blockHeight + 40
        var svg = header(width, height) + text(12, 24, title, size: 15, bold: true)
        let layout = "rows = context (\(innerRows.joined(separator: ", "))), columns = depth (\(innerColumns.joined(separator: ", ")))"
        svg += text(12, 44, "each block: \(layout); green found, red missed", size: 11)
        for (c, name) in columns.enumerated() { svg += text(labelWidth + Double(c) * blockWidth, top - 8, name, size: 12, bold: true) }
        for (r, name) in rows.enumerated() {
            let y = top + Double(r) * blockHeight
            svg += text(12, y + Double(innerRows.count) * cell / 2 + 4, name, size: 12)
            for c in columns.indices {
                for (i, line) in cells[r][c].enumerated() {
                    for (j, value) in line.enumerated() {
                        let color = value.map { v in "rgb(\(Int(220 * (1 - v) + 30)),\(Int(180 * v + 40)),60)" } ?? "#ddd"
                        let x = labelWidth + Double(c) * blockWidth + Double(j) * cell
                        svg += "<rect x=\"\(f(x))\" y=\"\(f(y + Double(i) * cell))\" width=\"\(f(cell - 1))\" "
                            + "height=\"\(f(cell - 1))\" fill=\"\(color)\"/>\n"
                    }
                }
            }
        }
        return svg + "</svg>\n"
    }

    /// A labelled matrix of scores in [0, 1] (rows: configurations, columns: tasks), each cell coloured by its score,
    /// showing `labels[row][column]`, with `tooltips` as each cell's hover text (its interval and sample count).
    static func matrix(title: String, subtitle: String, rows: [String], columns: [String], values: [[Double?]],
                       labels: [[String]], tooltips: [[String]]) -> String {
        let cellWidth = 56.0, cellHeight = 18.0, labelWidth = 170.0, top = 96.0
        let width = labelWidth + Double(columns.count) * cellWidth + 20, height = top + Double(rows.count) * cellHeight + 20
        var svg = header(width, height) + text(12, 24, title, size: 15, bold: true) + text(12, 44, subtitle, size: 11)
        for (c, name) in columns.enumerated() {
            let x = labelWidth + Double(c) * cellWidth + cellWidth / 2, y = top - 6
            svg += "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"11\" font-family=\"sans-serif\" "
                + "transform=\"rotate(-40 \(f(x)) \(f(y)))\">\(escape(name))</text>\n"
        }
        for (r, name) in rows.enumerated() {
            let y = top + Double(r) * cellHeight
            svg += text(12, y + 13, name, size: 11)
            for c in columns.indices {
                let color = values[r][c].map { v in "rgb(\(Int(220 * (1 - v) + 30)),\(Int(180 * v + 40)),60)" } ?? "#ddd"
                let x = labelWidth + Double(c) * cellWidth
                svg += "<g><title>\(escape(tooltips[r][c]))</title>"
                svg += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(cellWidth - 1))\" height=\"\(f(cellHeight - 1))\" fill=\"\(color)\"/>"
                svg += "<text x=\"\(f(x + 8))\" y=\"\(f(y + 13))\" font-size=\"11\" font-family=\"sans-serif\" fill=\"white\">"
                    + "\(escape(labels[r][c]))</text></g>\n"
            }
        }
        return svg + "</svg>\n"
    }

    /// The plot area's border and the two axis labels.
    static func frame(width: Double, height: Double, left: Double, right: Double, top: Double, bottom: Double,
                      xLabel: String, yLabel: String) -> String {
        var svg = "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(width - left - right))\" "
            + "height=\"\(f(height - top - bottom))\" fill=\"none\" stroke=\"#444\"/>\n"
        svg += text((width - right + left) / 2 - 60, height - 18, xLabel, size: 13)
        let labelY = f(height / 2 + 40)
        svg += "<text x=\"18\" y=\"\(labelY)\" font-size=\"13\" font-family=\"sans-serif\" "
            + "transform=\"rotate(-90 18 \(labelY))\">\(escape(yLabel))</text>\n"
        return svg
    }

    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String) -> String {
        "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(stroke)\"/>\n"
    }

    static func header(_ width: Double, _ height: Double) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" "
            + "viewBox=\"0 0 \(f(width)) \(f(height))\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    }

    static func text(_ x: Double, _ y: Double, _ s: String, size: Int, bold: Bool = false) -> String {
        let weight = bold ? " font-weight=\"bold\"" : ""
        return "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(size)\" font-family=\"sans-serif\"\(weight)>\(escape(s))</text>\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;")
            .replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    static func f(_ x: Double) -> String { String(format: "%.1f", x) }
}
