//! The report renderers from the outside: each format rendered from one set of findings and read
//! back (parsed, validated against its schema, opened in a browser, extracted from the PDF).

mod csv;
mod helpers;
mod hostile;
mod html;
mod json;
mod large;
mod pdf;
mod sarif;
