//! Keyset reads for connections: rows from a position onwards, one way or the
//! other, never OFFSET (an offset reads and drops every row before the page).

/// Which way a read goes along a connection's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the start of the order (or the position) on: `first`/`after`.
    Forward,
    /// From the end of the order (or the position) back: `last`/`before`.
    Backward,
}

/// Up to `limit` rows from `from` on in `direction`, in the order read.
/// `from` is inclusive: the row at the position itself comes first when it
/// still exists, which is how a page knows that rows lie before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeysetRead<P> {
    pub direction: Direction,
    pub from: Option<P>,
    pub limit: u64,
}
