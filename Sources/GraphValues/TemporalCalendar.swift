/// Proleptic Gregorian calendar arithmetic on epoch days (days since 1970-01-01), as java.time's `LocalDate`
/// (which Neo4j uses) does it: ISO weeks start on Monday, week 1 is the week containing the year's first Thursday.
///
/// All functions work for the whole range Neo4j accepts (years -999,999,999 … +999,999,999) without overflow.
public enum TemporalCalendar {
    /// Nanoseconds in a second.
    public static let nanosPerSecond: Int64 = 1_000_000_000
    /// Seconds in a (calendar) day.
    public static let secondsPerDay: Int64 = 86_400
    /// Nanoseconds in a (calendar) day.
    public static let nanosPerDay: Int64 = 86_400_000_000_000
    /// The year range of java.time (and so of Neo4j).
    public static let minYear: Int64 = -999_999_999
    /// The largest supported year.
    public static let maxYear: Int64 = 999_999_999

    /// Floor division (rounds towards negative infinity), unlike Swift's `/`.
    @inlinable
    public static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q
    }

    /// Floor modulo: the result has the sign of `b`.
    @inlinable
    public static func floorMod(_ a: Int64, _ b: Int64) -> Int64 {
        let r = a % b
        return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r
    }

    /// Proleptic Gregorian leap-year rule.
    public static func isLeapYear(_ year: Int64) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    /// 28…31.
    public static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// 365 or 366.
    public static func daysInYear(_ year: Int64) -> Int64 { isLeapYear(year) ? 366 : 365 }

    /// Epoch day of a valid calendar date (Howard Hinnant's `days_from_civil`).
    public static func epochDay(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yearOfEra = y - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Calendar fields of an epoch day (Howard Hinnant's `civil_from_days`).
    public static func civil(_ epochDay: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = epochDay &+ 719_468  // wrapping: never trap on absurd stored values
        let era = floorDiv(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    /// ISO day of week, Monday = 1 … Sunday = 7.
    public static func dayOfWeek(_ epochDay: Int64) -> Int64 {
        floorMod(epochDay + 3, 7) + 1
    }

    /// 1-based day within the calendar year.
    public static func dayOfYear(_ epochDay: Int64) -> Int64 {
        let year = civil(epochDay).year
        return epochDay - self.epochDay(year: year, month: 1, day: 1) + 1
    }

    /// The ISO week-based year and week number of a date.
    public static func isoWeek(_ epochDay: Int64) -> (weekYear: Int64, week: Int64) {
        let thursday = epochDay - dayOfWeek(epochDay) + 4
        let weekYear = civil(thursday).year
        let week = (thursday - self.epochDay(year: weekYear, month: 1, day: 1)) / 7 + 1
        return (weekYear, week)
    }

    /// Epoch day of the Monday of week 1 of an ISO week-based year.
    public static func firstDayOfWeekYear(_ weekYear: Int64) -> Int64 {
        let jan4 = epochDay(year: weekYear, month: 1, day: 4)
        return jan4 - dayOfWeek(jan4) + 1
    }

    /// 52 or 53.
    public static func weeksInWeekYear(_ weekYear: Int64) -> Int64 {
        (firstDayOfWeekYear(weekYear + 1) - firstDayOfWeekYear(weekYear)) / 7
    }

    /// 1…4.
    public static func quarter(month: Int64) -> Int64 { (month - 1) / 3 + 1 }

    /// Epoch day of the first day of a quarter.
    public static func firstDayOfQuarter(year: Int64, quarter: Int64) -> Int64 {
        epochDay(year: year, month: (quarter - 1) * 3 + 1, day: 1)
    }

    /// 90…92.
    public static func daysInQuarter(year: Int64, quarter: Int64) -> Int64 {
        let next =
            quarter == 4
            ? epochDay(year: year + 1, month: 1, day: 1) : firstDayOfQuarter(year: year, quarter: quarter + 1)
        return next - firstDayOfQuarter(year: year, quarter: quarter)
    }

    /// `epochDay` plus `months`, clamping the day to the end of the resulting month (java.time `plusMonths`).
    public static func addingMonths(_ months: Int64, to epochDay: Int64) -> Int64 {
        if months == 0 { return epochDay }
        let (y, m, d) = civil(epochDay)
        let total = y * 12 + (m - 1) + months
        let newYear = floorDiv(total, 12)
        let newMonth = floorMod(total, 12) + 1
        return self.epochDay(year: newYear, month: newMonth, day: min(d, daysInMonth(year: newYear, month: newMonth)))
    }

    /// Whole months from one date to another, truncated towards zero (java.time `LocalDate.until(_, MONTHS)`).
    public static func monthsBetween(_ from: Int64, _ to: Int64) -> Int64 {
        let a = civil(from)
        let b = civil(to)
        let packed1 = (a.year * 12 + a.month - 1) * 32 + a.day
        let packed2 = (b.year * 12 + b.month - 1) * 32 + b.day
        return (packed2 - packed1) / 32
    }

    /// Throws an ArgumentError unless the year is within Neo4j's supported range.
    public static func checkYear(_ year: Int64) throws {
        guard year >= minYear && year <= maxYear else {
            throw DatabaseError(
                .argumentError, "Invalid value for Year (valid values \(minYear) - \(maxYear)): \(year)")
        }
    }

    /// Validates year/month/day and returns the epoch day.
    public static func validDate(year: Int64, month: Int64, day: Int64) throws -> Int64 {
        try checkYear(year)
        guard month >= 1 && month <= 12 else {
            throw DatabaseError(.argumentError, "Invalid value for MonthOfYear (valid values 1 - 12): \(month)")
        }
        guard day >= 1 && day <= 31 else {
            throw DatabaseError(.argumentError, "Invalid value for DayOfMonth (valid values 1 - 28/31): \(day)")
        }
        guard day <= daysInMonth(year: year, month: month) else {
            throw DatabaseError(.argumentError, "Invalid date '\(monthName(month)) \(day)' for year \(year)")
        }
        return epochDay(year: year, month: month, day: day)
    }

    static func monthName(_ month: Int64) -> String {
        let names = [
            "JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST", "SEPTEMBER", "OCTOBER",
            "NOVEMBER", "DECEMBER",
        ]
        return month >= 1 && month <= 12 ? names[Int(month - 1)] : "\(month)"
    }

    /// Validates an ISO week date and returns the epoch day.
    public static func validWeekDate(weekYear: Int64, week: Int64, dayOfWeek: Int64) throws -> Int64 {
        try checkYear(weekYear)
        guard week >= 1 && week <= weeksInWeekYear(weekYear) else {
            throw DatabaseError(
                .argumentError,
                "Invalid value for WeekOfWeekBasedYear (valid values 1 - \(weeksInWeekYear(weekYear))): \(week)")
        }
        guard dayOfWeek >= 1 && dayOfWeek <= 7 else {
            throw DatabaseError(.argumentError, "Invalid value for DayOfWeek (valid values 1 - 7): \(dayOfWeek)")
        }
        return firstDayOfWeekYear(weekYear) + (week - 1) * 7 + (dayOfWeek - 1)
    }

    /// Validates an ordinal date and returns the epoch day.
    public static func validOrdinalDate(year: Int64, dayOfYear: Int64) throws -> Int64 {
        try checkYear(year)
        guard dayOfYear >= 1 && dayOfYear <= daysInYear(year) else {
            throw DatabaseError(
                .argumentError, "Invalid value for DayOfYear (valid values 1 - \(daysInYear(year))): \(dayOfYear)")
        }
        return epochDay(year: year, month: 1, day: 1) + dayOfYear - 1
    }

    /// Validates a quarter date and returns the epoch day.
    public static func validQuarterDate(year: Int64, quarter: Int64, dayOfQuarter: Int64) throws -> Int64 {
        try checkYear(year)
        guard quarter >= 1 && quarter <= 4 else {
            throw DatabaseError(.argumentError, "Invalid value for QuarterOfYear (valid values 1 - 4): \(quarter)")
        }
        let length = daysInQuarter(year: year, quarter: quarter)
        guard dayOfQuarter >= 1 && dayOfQuarter <= length else {
            throw DatabaseError(
                .argumentError, "Invalid value for DayOfQuarter (valid values 1 - \(length)): \(dayOfQuarter)")
        }
        return firstDayOfQuarter(year: year, quarter: quarter) + dayOfQuarter - 1
    }

    /// Validates time-of-day fields and returns nanoseconds since midnight.
    public static func validTime(hour: Int64, minute: Int64, second: Int64, nanosecond: Int64) throws -> Int64 {
        guard hour >= 0 && hour <= 23 else {
            throw DatabaseError(.argumentError, "Invalid value for HourOfDay (valid values 0 - 23): \(hour)")
        }
        guard minute >= 0 && minute <= 59 else {
            throw DatabaseError(.argumentError, "Invalid value for MinuteOfHour (valid values 0 - 59): \(minute)")
        }
        guard second >= 0 && second <= 59 else {
            throw DatabaseError(.argumentError, "Invalid value for SecondOfMinute (valid values 0 - 59): \(second)")
        }
        guard nanosecond >= 0 && nanosecond < nanosPerSecond else {
            throw DatabaseError(
                .argumentError, "Invalid value for NanoOfSecond (valid values 0 - 999999999): \(nanosecond)")
        }
        return ((hour * 60 + minute) * 60 + second) * nanosPerSecond + nanosecond
    }
}
