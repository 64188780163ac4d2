//! Paging and filtering: page sizes with explicit bounds, sort orders, severity sets and
//! time ranges, shared by every list pipelog answers.

use crate::log_entry::Severity;
use crate::text_enum;
use crate::time::UtcTime;

text_enum! {
    /// The direction a list is read in.
    pub enum SortOrder ("order") {
        Asc = "asc",
        Desc = "desc",
    }
}

/// How many items one page holds: between 1 and a maximum that each endpoint documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageLimit(u32);

/// A requested page size outside its bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be between 1 and {max}, got {given}")]
pub struct LimitOutOfRange {
    pub max: u32,
    pub given: u64,
}

impl PageLimit {
    /// The requested size, or `default` when none was asked for; refused past `max`.
    pub fn new(requested: Option<u64>, default: u32, max: u32) -> Result<Self, LimitOutOfRange> {
        match requested {
            None => Ok(PageLimit(default.clamp(1, max))),
            Some(given) if given >= 1 && given <= u64::from(max) => Ok(PageLimit(given as u32)),
            Some(given) => Err(LimitOutOfRange { max, given }),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A set of severities, for filters such as `severity=warning,error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeveritySet(u8);

impl SeveritySet {
    pub fn all() -> Self {
        Severity::ALL.iter().copied().collect()
    }

    /// Every severity at or above `minimum`.
    pub fn at_least(minimum: Severity) -> Self {
        Severity::ALL
            .iter()
            .copied()
            .filter(|severity| *severity >= minimum)
            .collect()
    }

    pub fn contains(self, severity: Severity) -> bool {
        self.0 & (1 << severity.rank()) != 0
    }

    /// Bit `rank` is set for each severity in the set.
    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn is_all(self) -> bool {
        self == SeveritySet::all()
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Severity> for SeveritySet {
    fn from_iter<I: IntoIterator<Item = Severity>>(iter: I) -> Self {
        SeveritySet(
            iter.into_iter()
                .fold(0, |bits, severity| bits | (1 << severity.rank())),
        )
    }
}

/// A half-open time range `[from, to)`; either end may be open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive lower bound.
    pub from: Option<UtcTime>,
    /// Exclusive upper bound.
    pub to: Option<UtcTime>,
}

impl TimeRange {
    pub fn contains(&self, time: UtcTime) -> bool {
        self.from.is_none_or(|from| time >= from) && self.to.is_none_or(|to| time < to)
    }

    pub fn is_unbounded(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

/// One page of an execution's log, read by `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogQuery {
    pub order: SortOrder,
    pub limit: PageLimit,
    /// The last `seq` of the previous page: this page continues past it in `order`.
    pub resume_after: Option<u64>,
    /// Lines of the selected range to pass over first, in `order` (Talend's `startIndex`).
    /// Costs nothing: an execution's stored lines have consecutive `seq`s. Only with
    /// every severity selected.
    pub skip: u64,
    pub severities: SeveritySet,
    /// Bounds on `createdAt`.
    pub created: TimeRange,
}

/// One page of a list, and whether more items follow in the same direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` items read in order: the extra item, if it came,
    /// only tells that more follow.
    pub fn from_overfetch(mut items: Vec<T>, limit: PageLimit) -> Self {
        let limit = limit.get() as usize;
        let has_more = items.len() > limit;
        items.truncate(limit);
        Page { items, has_more }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_limits_are_bounded() {
        assert_eq!(PageLimit::new(None, 50, 200).unwrap().get(), 50);
        assert_eq!(PageLimit::new(Some(200), 50, 200).unwrap().get(), 200);
        assert_eq!(
            PageLimit::new(Some(201), 50, 200).unwrap_err().to_string(),
            "must be between 1 and 200, got 201"
        );
        assert!(PageLimit::new(Some(0), 50, 200).is_err());
    }

    #[test]
    fn pages_know_whether_more_follow() {
        let limit = PageLimit::new(Some(2), 2, 10).unwrap();
        let full = Page::from_overfetch(vec![1, 2, 3], limit);
        assert_eq!((full.items, full.has_more), (vec![1, 2], true));
        let last = Page::from_overfetch(vec![1, 2], limit);
        assert_eq!((last.items, last.has_more), (vec![1, 2], false));
    }

    #[test]
    fn severity_sets() {
        let problems = SeveritySet::at_least(Severity::Warning);
        assert!(problems.contains(Severity::Error));
        assert!(!problems.contains(Severity::Info));
        assert!(SeveritySet::all().is_all());
        assert_eq!(problems.bits(), 0b1100);
    }

    #[test]
    fn time_ranges_are_half_open() {
        let at = |ms| UtcTime::from_unix_millis(ms).unwrap();
        let range = TimeRange {
            from: Some(at(10)),
            to: Some(at(20)),
        };
        assert!(range.contains(at(10)));
        assert!(range.contains(at(19)));
        assert!(!range.contains(at(20)));
        assert!(!range.contains(at(9)));
        assert!(TimeRange::default().contains(at(0)));
    }
}
