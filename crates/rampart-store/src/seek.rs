//! Where a page of a list starts. Each list has its own order (newest first, or by value); a
//! page is the items that follow `from`, the last item of the page before, in that order.

/// A page asked of a list: at most `limit` items, those after `from` (from the start when `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seek<I> {
    pub from: Option<I>,
    pub limit: u32,
}

impl<I> Seek<I> {
    /// The first `limit` items of the list.
    pub fn first(limit: u32) -> Self {
        Self { from: None, limit }
    }
}
