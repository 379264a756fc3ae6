//! One feed's exact book: each side's levels keyed by integer price units, and its top 5.
//!
//! Levels live in a `BTreeMap` per side (bids best = highest key, asks best = lowest). A
//! Binance book holds its 1000-level REST snapshot plus what the diff stream adds, and the
//! stream inserts and deletes levels deep in it as often as near the top: a sorted `Vec`
//! would move half the book on each such change, the tree touches `log n` nodes. Each level
//! keeps the `f64`s of its price and size (parsed with the units, correctly rounded), so a
//! row is twenty copies.

use std::collections::BTreeMap;

/// Levels of each side in a processed row.
pub const TOP: usize = 5;

/// One level update as a frame carries it: exact units and the floats of the same text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Update {
    /// Price in units of `10^-price_scale`, > 0.
    pub price: u128,
    /// Size in units of `10^-size_scale`; 0 deletes the level.
    pub size: u128,
    /// The price's `f64`.
    pub price_f: f64,
    /// The size's `f64`.
    pub size_f: f64,
}

#[derive(Clone, Copy, Debug)]
struct Level {
    size: u128,
    price_f: f64,
    size_f: f64,
}

/// One side of a book.
#[derive(Clone, Debug, Default)]
pub struct Side {
    levels: BTreeMap<u128, Level>,
    /// Bids: the best level is the highest price.
    bids: bool,
}

impl Side {
    /// An empty side (`bids`: best = highest price, else lowest).
    pub fn new(bids: bool) -> Self {
        Self {
            levels: BTreeMap::new(),
            bids,
        }
    }

    /// Set one level (size 0 deletes it).
    pub fn set(&mut self, u: &Update) {
        if u.size == 0 {
            self.levels.remove(&u.price);
        } else {
            self.levels.insert(
                u.price,
                Level {
                    size: u.size,
                    price_f: u.price_f,
                    size_f: u.size_f,
                },
            );
        }
    }

    /// Remove every level.
    pub fn clear(&mut self) {
        self.levels.clear();
    }

    /// Number of levels.
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// Whether the side has no level.
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Keep the best `depth` levels (what falls out of a venue's depth is not sent).
    pub fn truncate(&mut self, depth: usize) {
        while self.levels.len() > depth {
            if self.bids {
                self.levels.pop_first();
            } else {
                self.levels.pop_last();
            }
        }
    }

    /// The levels best first as (price units, size units).
    pub fn best(&self) -> Box<dyn Iterator<Item = (u128, u128)> + '_> {
        let it = self.levels.iter().map(|(&p, l)| (p, l.size));
        if self.bids {
            Box::new(it.rev())
        } else {
            Box::new(it)
        }
    }

    /// The best `TOP` levels (price units, size units, price, size), best first, and how many.
    fn top(&self) -> ([(u128, u128, f64, f64); TOP], usize) {
        let mut out = [(0, 0, 0.0, 0.0); TOP];
        let mut n = 0;
        let mut put = |(&p, l): (&u128, &Level)| {
            out[n] = (p, l.size, l.price_f, l.size_f);
            n += 1;
        };
        if self.bids {
            self.levels.iter().rev().take(TOP).for_each(&mut put);
        } else {
            self.levels.iter().take(TOP).for_each(&mut put);
        }
        (out, n)
    }
}

/// What a book's top 5 is: a row's twenty values, or why there is none.
#[derive(Clone, Debug, PartialEq)]
pub enum Top {
    /// Bid prices, bid sizes, ask prices, ask sizes (5 each), best first. A side with fewer
    /// than 5 levels is padded with its last price and size 0, as the REST collector pads.
    Levels([f64; 4 * TOP]),
    /// A side has no level.
    Empty,
    /// The best bid is at or above the best ask.
    Crossed,
}

/// The exact identity of a top 5: equal keys, equal rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TopKey {
    levels: [(u128, u128); 2 * TOP],
    counts: (usize, usize),
}

/// Both sides of one feed's book.
#[derive(Clone, Debug)]
pub struct Book {
    /// Bids.
    pub bids: Side,
    /// Asks.
    pub asks: Side,
}

impl Default for Book {
    fn default() -> Self {
        Self::new()
    }
}

impl Book {
    /// An empty book.
    pub fn new() -> Self {
        Self {
            bids: Side::new(true),
            asks: Side::new(false),
        }
    }

    /// Remove every level of both sides.
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    /// Apply a frame's bid and ask updates, in order.
    pub fn apply(&mut self, bids: &[Update], asks: &[Update]) {
        for u in bids {
            self.bids.set(u);
        }
        for u in asks {
            self.asks.set(u);
        }
    }

    /// The top 5 and its key.
    pub(crate) fn top(&self) -> (Top, TopKey) {
        let (b, nb) = self.bids.top();
        let (a, na) = self.asks.top();
        let mut key = TopKey {
            levels: [(0, 0); 2 * TOP],
            counts: (nb, na),
        };
        for i in 0..TOP {
            key.levels[i] = (b[i].0, b[i].1);
            key.levels[TOP + i] = (a[i].0, a[i].1);
        }
        if nb == 0 || na == 0 {
            return (Top::Empty, key);
        }
        if b[0].0 >= a[0].0 {
            return (Top::Crossed, key);
        }
        let mut row = [0.0; 4 * TOP];
        for (s, (levels, n)) in [(b, nb), (a, na)].into_iter().enumerate() {
            for i in 0..TOP {
                let (price, size) = if i < n {
                    (levels[i].2, levels[i].3)
                } else {
                    (levels[n - 1].2, 0.0)
                };
                row[2 * TOP * s + i] = price;
                row[2 * TOP * s + TOP + i] = size;
            }
        }
        (Top::Levels(row), key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(price: u128, size: u128) -> Update {
        Update {
            price,
            size,
            price_f: price as f64,
            size_f: size as f64,
        }
    }

    #[test]
    fn sides_keep_best_first_and_delete_on_zero() {
        let mut b = Book::new();
        b.apply(&[up(10, 1), up(12, 2), up(11, 3)], &[up(15, 1), up(13, 2)]);
        assert_eq!(
            b.bids.best().collect::<Vec<_>>(),
            [(12, 2), (11, 3), (10, 1)]
        );
        assert_eq!(b.asks.best().collect::<Vec<_>>(), [(13, 2), (15, 1)]);
        b.apply(&[up(12, 0), up(99, 0)], &[]);
        assert_eq!(b.bids.best().next(), Some((11, 3)));
        let (top, _) = b.top();
        let Top::Levels(row) = top else {
            panic!("{top:?}")
        };
        // Short sides pad with the last price and size 0.
        assert_eq!(
            &row[..10],
            &[11.0, 10.0, 10.0, 10.0, 10.0, 3.0, 1.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(
            &row[10..],
            &[13.0, 15.0, 15.0, 15.0, 15.0, 2.0, 1.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn empty_and_crossed_tops_have_no_row() {
        let mut b = Book::new();
        b.apply(&[up(10, 1)], &[]);
        assert_eq!(b.top().0, Top::Empty);
        b.apply(&[], &[up(10, 1)]);
        assert_eq!(b.top().0, Top::Crossed);
    }

    #[test]
    fn truncate_keeps_the_best() {
        let mut b = Book::new();
        b.apply(
            &(1..=20).map(|p| up(p, 1)).collect::<Vec<_>>(),
            &(21..=40).map(|p| up(p, 1)).collect::<Vec<_>>(),
        );
        b.bids.truncate(10);
        b.asks.truncate(10);
        assert_eq!(b.bids.best().last(), Some((11, 1)));
        assert_eq!(b.asks.best().last(), Some((30, 1)));
        assert_eq!((b.bids.len(), b.asks.len()), (10, 10));
    }
}
