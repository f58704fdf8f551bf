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

impl KeysetRead<i64> {
    /// `query` ordered newest first by its id column `id` (forward), or
    /// oldest first (backward), from the position on, limited.
    pub fn by_id<E, C>(&self, query: sea_orm::Select<E>, id: C) -> sea_orm::Select<E>
    where
        E: sea_orm::EntityTrait,
        C: sea_orm::ColumnTrait,
    {
        use sea_orm::{QueryFilter, QueryOrder, QuerySelect};
        let query = match (self.direction, self.from) {
            (Direction::Forward, from) => {
                let query = query.order_by_desc(id);
                if let Some(from) = from { query.filter(id.lte(from)) } else { query }
            }
            (Direction::Backward, from) => {
                let query = query.order_by_asc(id);
                if let Some(from) = from { query.filter(id.gte(from)) } else { query }
            }
        };
        query.limit(self.limit)
    }
}
