//! The PDF report: not written yet; an empty document.
pub(crate) fn document(_report: &crate::Report) -> Vec<u8> {
    Vec::new()
}
