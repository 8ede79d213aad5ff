//! The HTML report: not written yet; an empty document.
use std::io::{self, Write};
pub(crate) fn write(_report: &crate::Report, _out: &mut impl Write) -> io::Result<()> {
    Ok(())
}
