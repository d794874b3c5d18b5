//! The iteration order of a `java.util.HashSet<String>`, for the places where Elasticsearch
//! builds a list from one and so shows that order to clients: the `job_ids` of a calendar after
//! `PUT`/`DELETE _ml/calendars/<id>/jobs/<ids>` (`JobResultsProvider.updateCalendar`,
//! docs/elasticsearch-ml-api.md §13.2).
//!
//! A `HashMap` iterates its table from index 0 upwards, and within one bucket in insertion
//! order (a resize splits buckets but keeps their relative order). An element's index is
//! `(h ^ (h >>> 16)) & (capacity - 1)` with `h = String.hashCode()`. The capacity starts at the
//! next power of two of the constructor's hint (16 at least) and doubles whenever the size
//! exceeds three quarters of it. Buckets turned into trees (eight or more collisions in a table
//! of 64 or more) are not modelled: calendars hold a handful of ids.

/// Java's `String.hashCode`: `s[0]*31^(n-1) + … + s[n-1]` over UTF-16 code units, in `i32`.
fn java_string_hash(text: &str) -> i32 {
    text.encode_utf16().fold(0_i32, |hash, unit| {
        hash.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// `HashMap.hash`: the high half folded into the low half.
fn spread(hash: i32) -> u32 {
    let hash = hash.cast_unsigned();
    hash ^ (hash >> 16)
}

/// `HashMap.tableSizeFor`: the smallest power of two at or above `cap` (at least 1).
fn table_size_for(cap: usize) -> usize {
    cap.max(1).next_power_of_two()
}

/// A `HashSet<String>` as far as its iteration order goes.
#[derive(Debug, Clone)]
pub(super) struct JavaHashSet {
    /// Elements in insertion order.
    elements: Vec<String>,
    capacity: usize,
}

impl JavaHashSet {
    /// `new HashSet<>()`: capacity 16.
    pub(super) fn new() -> Self {
        JavaHashSet {
            elements: Vec::new(),
            capacity: 16,
        }
    }

    /// `new HashSet<>(collection)`: sized for `max((int) (n / .75f) + 1, 16)`, then filled in
    /// the collection's order.
    pub(super) fn from_collection<'a>(items: impl ExactSizeIterator<Item = &'a str>) -> Self {
        // `(int) (n / .75f)` truncates a float division; `n * 4 / 3` is the same for every
        // size a calendar can have.
        let hint = (items.len() * 4 / 3 + 1).max(16);
        let mut set = JavaHashSet {
            elements: Vec::new(),
            capacity: table_size_for(hint),
        };
        for item in items {
            set.add(item);
        }
        set
    }

    /// `add`: appends a new element, doubling the table once the size passes 3/4 of it.
    pub(super) fn add(&mut self, item: &str) {
        if self.elements.iter().any(|element| element == item) {
            return;
        }
        self.elements.push(item.to_owned());
        if self.elements.len() > self.capacity / 4 * 3 {
            self.capacity *= 2;
        }
    }

    pub(super) fn remove(&mut self, item: &str) {
        self.elements.retain(|element| element != item);
    }

    pub(super) fn contains(&self, item: &str) -> bool {
        self.elements.iter().any(|element| element == item)
    }

    /// The elements in the order the set iterates them.
    pub(super) fn iteration_order(&self) -> Vec<String> {
        let mask = u32::try_from(self.capacity - 1).unwrap_or(u32::MAX);
        let mut order: Vec<(u32, usize, &String)> = self
            .elements
            .iter()
            .enumerate()
            .map(|(inserted, element)| {
                (spread(java_string_hash(element)) & mask, inserted, element)
            })
            .collect();
        order.sort_unstable_by_key(|(bucket, inserted, _)| (*bucket, *inserted));
        order
            .into_iter()
            .map(|(_, _, element)| element.clone())
            .collect()
    }
}

/// `Strings.tokenizeByCommaToSet`: the comma-separated tokens, trimmed, empty ones dropped, in
/// a `new HashSet<>()`.
pub(super) fn tokenize_by_comma_to_set(text: &str) -> JavaHashSet {
    let mut set = JavaHashSet::new();
    for token in text
        .split(',')
        .map(str::trim)
        .filter(|token| !token.is_empty())
    {
        set.add(token);
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_hashes_are_javas() {
        // Values of "…".hashCode() on a JVM.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("foo-a"), 97_614_106);
        assert_eq!(java_string_hash("hello world"), 1_794_106_052);
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    }

    #[test]
    fn iteration_follows_buckets_not_insertion() {
        // "b" (98) and "a" (97) land in buckets 2 and 1 of 16: `a` comes first whatever the
        // insertion order, as `new ArrayList<>(new HashSet<>(List.of("b", "a")))` gives.
        let set = JavaHashSet::from_collection(["b", "a"].into_iter());
        assert_eq!(set.iteration_order(), ["a", "b"]);
    }

    #[test]
    fn colliding_elements_keep_insertion_order() {
        // "Aa" and "BB" have the same hashCode (2112).
        let set = JavaHashSet::from_collection(["BB", "Aa"].into_iter());
        assert_eq!(set.iteration_order(), ["BB", "Aa"]);
    }

    #[test]
    fn the_table_grows_past_three_quarters() {
        let mut set = JavaHashSet::new();
        for n in 0..13 {
            set.add(&format!("job-{n}"));
        }
        assert_eq!(set.capacity, 32);
        set.remove("job-0");
        assert!(!set.contains("job-0"));
        assert_eq!(set.iteration_order().len(), 12);
    }

    #[test]
    fn tokens_are_trimmed_and_deduplicated() {
        let set = tokenize_by_comma_to_set(" foo-a, foo-b,,foo-a");
        let mut tokens = set.iteration_order();
        tokens.sort();
        assert_eq!(tokens, ["foo-a", "foo-b"]);
    }
}
