/// `version:` on a gateway route: the route answers requests whose version header has this
/// value; a route of the same path without `version` is the default version.
public struct RouteVersion: Sendable, Equatable {
    public static let defaultHeader = "Accept-Version"
    public var header: String
    public var value: String

    public init(header: String = RouteVersion.defaultHeader, value: String) {
        self.header = header
        self.value = value
    }
}

/// `deprecated:` on a gateway route: its answers say so (`Deprecation: true`), when it goes
/// (`Sunset`, RFC 8594) and where to read about it (`Link; rel="deprecation"`).
public struct RouteDeprecation: Sendable, Equatable {
    /// An IMF-fixdate (`Wed, 30 Jun 2027 00:00:00 GMT`), from the config's `YYYY-MM-DD`.
    public var sunset: String?
    public var link: String?

    public init(sunset: String? = nil, link: String? = nil) {
        self.sunset = sunset
        self.link = link
    }

    /// `2027-06-30` → `Wed, 30 Jun 2027 00:00:00 GMT`; nil when not a real date.
    public static func httpDate(_ text: String) -> String? {
        let parts = text.split(separator: "-")
        guard parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
              parts[0].count == 4, (1...12).contains(m), (1...31).contains(d) else { return nil }
        let monthDays = [31, (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard d <= monthDays[m - 1] else { return nil }
        // Days since 1970-01-01 (Howard Hinnant's days_from_civil), then the weekday.
        let yy = m <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][((days % 7) + 7) % 7]
        let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][m - 1]
        return "\(weekday), \(d < 10 ? "0" : "")\(d) \(month) \(y) 00:00:00 GMT"
    }
}
