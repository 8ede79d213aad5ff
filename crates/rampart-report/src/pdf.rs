//! The PDF report: a summary page (title, organisation, time, criteria, counts by status, a
//! severity bar chart drawn with vector rectangles) and the findings table (severity, status,
//! title, asset, location, last seen), text wrapped or cut to its column, new pages as needed,
//! capped at [`MAX_TABLE_ROWS`] rows. A4 landscape.
//!
//! Pure Rust, nothing embedded or fetched: the text is set in Helvetica, one of the standard
//! fonts every PDF reader has, in WinAnsiEncoding; a character it cannot show is written `?`.
//! Text is measured with Helvetica's own widths, so wrapping needs no font file either.

use chrono::{DateTime, Datelike, Timelike, Utc};
use pdf_writer::{Content, Date, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use rampart_core::findings::{FindingStatus, Severity, TrackedFinding};

use crate::{MAX_TABLE_ROWS, Report, SEVERITIES, Summary, counted, left_out_of_table, readable, said};

const PAGE_WIDTH: f32 = 842.0;
const PAGE_HEIGHT: f32 = 595.0;
const MARGIN: f32 = 36.0;
/// Where the table stops, above the footer.
const BOTTOM: f32 = MARGIN + 18.0;

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// The table's columns: heading, width in points, lines a cell may take before it is cut.
const COLUMNS: [(&str, f32, usize); 6] = [
    ("Severity", 62.0, 1),
    ("Status", 78.0, 2),
    ("Title", 276.0, 3),
    ("Asset", 150.0, 2),
    ("Location", 120.0, 2),
    ("Last seen", 84.0, 1),
];
const CELL_PADDING: f32 = 4.0;
const TABLE_SIZE: f32 = 8.5;
const TABLE_LEADING: f32 = 10.5;

/// The report as a PDF file.
pub(crate) fn document(report: &Report) -> Vec<u8> {
    let mut pages = Pages::default();
    summary_page(report, &mut pages);
    table(report, &mut pages);
    pages.write(report)
}

/// The pages drawn so far; the footer, which says the page count, is added when they are written.
#[derive(Default)]
struct Pages {
    done: Vec<Content>,
}

impl Pages {
    fn start(&mut self) -> &mut Content {
        self.done.push(Content::new());
        self.done.last_mut().expect("a page was just pushed")
    }

    fn current(&mut self) -> &mut Content {
        if self.done.is_empty() {
            return self.start();
        }
        self.done.last_mut().expect("there is a page")
    }

    fn write(self, report: &Report) -> Vec<u8> {
        let mut pdf = Pdf::new();
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let regular = Ref::new(3);
        let bold = Ref::new(4);
        let info = Ref::new(5);
        let first_page = 6;
        let n_pages = self.done.len();
        let page_refs: Vec<Ref> = (0..n_pages).map(|index| Ref::new(first_page + 2 * index as i32)).collect();

        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree).kids(page_refs.iter().copied()).count(n_pages as i32);
        pdf.type1_font(regular).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.type1_font(bold).base_font(Name(b"Helvetica-Bold")).encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.document_info(info)
            .title(TextStr(&report.title))
            .author(TextStr(&report.organisation))
            .creator(TextStr("Rampart"))
            .producer(TextStr("Rampart"))
            .creation_date(date(report.generated_at));

        let footer_title = encode(&report.title);
        for (index, mut content) in self.done.into_iter().enumerate() {
            let footer = format!("Page {} of {n_pages}", index + 1);
            let label = cut(&footer_title, REGULAR, 8.0, PAGE_WIDTH - 2.0 * MARGIN - 80.0);
            content.set_fill_rgb(0.36, 0.39, 0.44);
            text(&mut content, REGULAR, 8.0, MARGIN, MARGIN, &label);
            let footer = encode(&footer);
            text(&mut content, REGULAR, 8.0, PAGE_WIDTH - MARGIN - measure(&footer, REGULAR, 8.0), MARGIN, &footer);

            let page_ref = page_refs[index];
            let content_ref = Ref::new(page_ref.get() + 1);
            let mut page = pdf.page(page_ref);
            page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT)).parent(tree).contents(content_ref);
            page.resources().fonts().pair(REGULAR, regular).pair(BOLD, bold);
            page.finish();
            let raw = content.finish();
            match deflate(&raw) {
                Some(compressed) => {
                    pdf.stream(content_ref, &compressed).filter(Filter::FlateDecode);
                }
                None => {
                    pdf.stream(content_ref, &raw);
                }
            }
        }
        pdf.finish()
    }
}

fn summary_page(report: &Report, pages: &mut Pages) {
    let summary = Summary::of(&report.findings);
    let content = pages.start();
    let width = PAGE_WIDTH - 2.0 * MARGIN;
    let mut y = PAGE_HEIGHT - MARGIN - 22.0;

    content.set_fill_rgb(0.11, 0.14, 0.16);
    for line in wrap(&encode(&report.title), BOLD, 22.0, width, 2) {
        text(content, BOLD, 22.0, MARGIN, y, &line);
        y -= 27.0;
    }
    content.set_fill_rgb(0.36, 0.39, 0.44);
    text(content, REGULAR, 14.0, MARGIN, y, &cut(&encode(&report.organisation), REGULAR, 14.0, width));
    y -= 26.0;

    content.set_fill_rgb(0.11, 0.14, 0.16);
    let mut said_lines = vec![("Generated".to_owned(), readable(report.generated_at))];
    said_lines.extend(crate::criteria(report).into_iter().map(|(name, value)| (name.to_owned(), value)));
    for (name, value) in said_lines {
        text(content, BOLD, 10.5, MARGIN, y, &cut(&encode(&name), BOLD, 10.5, 110.0));
        text(content, REGULAR, 10.5, MARGIN + 120.0, y, &cut(&encode(&value), REGULAR, 10.5, width - 120.0));
        y -= 15.0;
    }
    y -= 10.0;

    let in_report = format!("{} in this report.", counted(report.findings.len() as u64, "finding"));
    text(content, REGULAR, 10.5, MARGIN, y, &encode(&in_report));
    y -= 15.0;
    let left_out = left_out_of_table(report);
    if left_out > 0 {
        let shown = report.findings.len().min(MAX_TABLE_ROWS);
        let note = format!(
            "{} matched but {} not listed here: the table shows {shown}. The JSON, CSV and SARIF exports carry every finding given to them.",
            counted(left_out, "more finding"),
            if left_out == 1 { "is" } else { "are" },
        );
        content.set_fill_rgb(0.55, 0.35, 0.0);
        for line in wrap(&encode(&note), REGULAR, 10.5, width, 2) {
            text(content, REGULAR, 10.5, MARGIN, y, &line);
            y -= 14.0;
        }
        content.set_fill_rgb(0.11, 0.14, 0.16);
    }
    y -= 18.0;

    // The severity chart on the left, the counts by status on the right.
    let top = y;
    text(content, BOLD, 13.0, MARGIN, y, &encode("Findings by severity"));
    y -= 24.0;
    let largest = SEVERITIES.iter().map(|severity| summary.severity(*severity)).max().unwrap_or(0).max(1);
    const BAR_X: f32 = MARGIN + 70.0;
    const BAR_MAX: f32 = 330.0;
    for severity in SEVERITIES {
        let count = summary.severity(severity);
        content.set_fill_rgb(0.11, 0.14, 0.16);
        text(content, REGULAR, 11.0, MARGIN, y + 3.0, &encode(severity.as_str()));
        let bar = if count == 0 { 0.0 } else { (count as f32 / largest as f32 * BAR_MAX).max(2.0) };
        let (red, green, blue) = colour(severity);
        content.set_fill_rgb(red, green, blue);
        content.rect(BAR_X, y, bar, 14.0);
        content.fill_nonzero();
        content.set_fill_rgb(0.11, 0.14, 0.16);
        text(content, REGULAR, 11.0, BAR_X + bar + 6.0, y + 3.0, &encode(&count.to_string()));
        y -= 24.0;
    }
    content.set_stroke_rgb(0.6, 0.62, 0.66);
    content.set_line_width(0.75);
    content.move_to(BAR_X, y + 18.0);
    content.line_to(BAR_X, top - 12.0);
    content.stroke();

    let mut y = top;
    let x = MARGIN + 470.0;
    text(content, BOLD, 13.0, x, y, &encode("Findings by status"));
    y -= 24.0;
    for status in FindingStatus::ALL {
        text(content, REGULAR, 11.0, x, y + 3.0, &encode(said(status)));
        let count = encode(&summary.status(status).to_string());
        text(content, REGULAR, 11.0, x + 160.0 - measure(&count, REGULAR, 11.0), y + 3.0, &count);
        y -= 24.0;
    }
}

fn table(report: &Report, pages: &mut Pages) {
    let mut y = table_page(pages);
    for finding in report.findings.iter().take(MAX_TABLE_ROWS) {
        let cells = cells(finding);
        let lines = cells.iter().map(Vec::len).max().unwrap_or(1);
        let height = lines as f32 * TABLE_LEADING + 2.0 * CELL_PADDING;
        if y - height < BOTTOM {
            y = table_page(pages);
        }
        let content = pages.current();
        let (red, green, blue) = colour(finding.severity);
        content.set_fill_rgb(red, green, blue);
        content.rect(MARGIN, y - height, 3.0, height);
        content.fill_nonzero();
        content.set_fill_rgb(0.11, 0.14, 0.16);
        let mut x = MARGIN;
        for (column, (cell, (_, width, _))) in cells.iter().zip(COLUMNS).enumerate() {
            // The first cell starts clear of the severity's colour strip.
            let strip = if column == 0 { 3.0 } else { 0.0 };
            let mut line_y = y - CELL_PADDING - TABLE_SIZE;
            for line in cell {
                text(content, REGULAR, TABLE_SIZE, x + strip + CELL_PADDING, line_y, line);
                line_y -= TABLE_LEADING;
            }
            x += width;
        }
        y -= height;
        content.set_stroke_rgb(0.84, 0.86, 0.89);
        content.set_line_width(0.5);
        content.move_to(MARGIN, y);
        content.line_to(PAGE_WIDTH - MARGIN, y);
        content.stroke();
    }
    if report.findings.is_empty() {
        text(pages.current(), REGULAR, TABLE_SIZE, MARGIN + CELL_PADDING, y - 14.0, &encode("No finding matched."));
    }
}

/// A new page of the table, with its heading; where the first row starts.
fn table_page(pages: &mut Pages) -> f32 {
    let content = pages.start();
    let top = PAGE_HEIGHT - MARGIN;
    content.set_fill_rgb(0.11, 0.14, 0.16);
    text(content, BOLD, 13.0, MARGIN, top - 13.0, &encode("Findings"));
    let header_top = top - 24.0;
    content.set_fill_rgb(0.96, 0.965, 0.97);
    content.rect(MARGIN, header_top - 18.0, PAGE_WIDTH - 2.0 * MARGIN, 18.0);
    content.fill_nonzero();
    content.set_fill_rgb(0.11, 0.14, 0.16);
    let mut x = MARGIN;
    for (heading, width, _) in COLUMNS {
        text(content, BOLD, 9.0, x + CELL_PADDING, header_top - 12.5, &encode(heading));
        x += width;
    }
    content.set_stroke_rgb(0.11, 0.14, 0.16);
    content.set_line_width(1.0);
    content.move_to(MARGIN, header_top - 18.0);
    content.line_to(PAGE_WIDTH - MARGIN, header_top - 18.0);
    content.stroke();
    header_top - 18.0
}

/// A finding's cells, each as the lines it is shown on.
fn cells(finding: &TrackedFinding) -> [Vec<Vec<u8>>; COLUMNS.len()] {
    let status = if finding.regression {
        format!("{} (regression)", said(finding.status))
    } else {
        said(finding.status).to_owned()
    };
    let texts = [
        finding.severity.as_str().to_owned(),
        status,
        finding.title.clone(),
        finding.asset.clone(),
        finding.location.clone(),
        readable(finding.last_seen).trim_end_matches(" UTC").to_owned(),
    ];
    std::array::from_fn(|column| {
        let (_, width, lines) = COLUMNS[column];
        wrap(&encode(&texts[column]), REGULAR, TABLE_SIZE, width - 2.0 * CELL_PADDING, lines)
    })
}

/// A page's content as a zlib stream (what FlateDecode reads), a tenth of its size or less; the
/// page is written as it is in the unlikely case compression fails.
fn deflate(raw: &[u8]) -> Option<Vec<u8>> {
    let mut buffer = vec![0; zlib_rs::compress_bound(raw.len())];
    let (compressed, code) = zlib_rs::compress_slice(&mut buffer, raw, zlib_rs::DeflateConfig::default());
    (code == zlib_rs::ReturnCode::Ok).then(|| compressed.to_vec())
}

fn text(content: &mut Content, font: Name<'_>, size: f32, x: f32, y: f32, line: &[u8]) {
    if line.is_empty() {
        return;
    }
    content.begin_text();
    content.set_font(font, size);
    content.next_line(x, y);
    content.show(Str(line));
    content.end_text();
}

fn colour(severity: Severity) -> (f32, f32, f32) {
    match severity {
        Severity::Critical => (0.48, 0.06, 0.13),
        Severity::High => (0.78, 0.16, 0.16),
        Severity::Medium => (0.90, 0.32, 0.0),
        Severity::Low => (0.62, 0.49, 0.0),
        Severity::Info => (0.33, 0.43, 0.48),
    }
}

fn date(time: DateTime<Utc>) -> Date {
    let small = |value: u32| u8::try_from(value).unwrap_or(0);
    Date::new(u16::try_from(time.year()).unwrap_or(0))
        .month(small(time.month()))
        .day(small(time.day()))
        .hour(small(time.hour()))
        .minute(small(time.minute()))
        .second(small(time.second()))
        .utc_offset_hour(0)
}

/// `text` in WinAnsiEncoding: ASCII and Latin-1 as they are, the typographic marks WinAnsi adds
/// at their codes, line breaks and tabs as spaces, other control characters left out, and any
/// other character `?`.
fn encode(text: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len());
    for c in text.chars() {
        let byte = match c {
            '\t' | '\n' | '\r' => b' ',
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u8,
            c if c.is_control() => continue,
            '€' => 0x80,
            '‚' => 0x82,
            'ƒ' => 0x83,
            '„' => 0x84,
            '…' => 0x85,
            '†' => 0x86,
            '‡' => 0x87,
            'ˆ' => 0x88,
            '‰' => 0x89,
            'Š' => 0x8a,
            '‹' => 0x8b,
            'Œ' => 0x8c,
            'Ž' => 0x8e,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '˜' => 0x98,
            '™' => 0x99,
            'š' => 0x9a,
            '›' => 0x9b,
            'œ' => 0x9c,
            'ž' => 0x9e,
            'Ÿ' => 0x9f,
            _ => b'?',
        };
        bytes.push(byte);
    }
    bytes
}

/// Helvetica's advance widths (thousandths of the font size) of the printable ASCII characters,
/// from its Adobe font metrics.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // space to /
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0 to ?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @ to O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P to _
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // ` to o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p to ~
];

/// Helvetica-Bold's, likewise.
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // space to /
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0 to ?
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // @ to O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // P to _
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // ` to o
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, // p to ~
];

/// The width of one WinAnsi character; outside ASCII, the width of a letter, or of the ellipsis.
fn advance(byte: u8, font: Name<'_>) -> f32 {
    let widths = if font == BOLD { &HELVETICA_BOLD } else { &HELVETICA };
    match byte {
        b' '..=b'~' => f32::from(widths[usize::from(byte - b' ')]),
        0x85 => 1000.0,
        _ => 611.0,
    }
}

fn measure(line: &[u8], font: Name<'_>, size: f32) -> f32 {
    line.iter().map(|byte| advance(*byte, font)).sum::<f32>() * size / 1000.0
}

/// `line` cut to `width`, ending with an ellipsis when something was cut.
fn cut(line: &[u8], font: Name<'_>, size: f32, width: f32) -> Vec<u8> {
    wrap(line, font, size, width, 1).into_iter().next().unwrap_or_default()
}

/// `text` broken into lines no wider than `width`, between words where it can be and inside a
/// word too long for a line; past `max_lines`, the last line is cut and ends with an ellipsis.
fn wrap(text: &[u8], font: Name<'_>, size: f32, width: f32, max_lines: usize) -> Vec<Vec<u8>> {
    let limit = width * 1000.0 / size;
    let space = advance(b' ', font);
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut used = 0.0;
    let mut overflow = false;
    for word in text.split(|byte| *byte == b' ').filter(|word| !word.is_empty()) {
        if lines.len() >= max_lines {
            overflow = true;
            break;
        }
        let word_width: f32 = word.iter().map(|byte| advance(*byte, font)).sum();
        let gap = if line.is_empty() { 0.0 } else { space };
        if used + gap + word_width <= limit {
            if !line.is_empty() {
                line.push(b' ');
            }
            line.extend_from_slice(word);
            used += gap + word_width;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            used = 0.0;
        }
        for byte in word {
            let glyph = advance(*byte, font);
            if used + glyph > limit && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                used = 0.0;
                if lines.len() >= max_lines {
                    overflow = true;
                    break;
                }
            }
            line.push(*byte);
            used += glyph;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        overflow = true;
    }
    if overflow && let Some(last) = lines.last_mut() {
        let ellipsis = advance(0x85, font);
        while !last.is_empty() && last.iter().map(|byte| advance(*byte, font)).sum::<f32>() + ellipsis > limit {
            last.pop();
        }
        while last.last() == Some(&b' ') {
            last.pop();
        }
        last.push(0x85);
    }
    if lines.is_empty() {
        lines.push(Vec::new());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_written_in_winansi_with_what_it_cannot_show_as_a_question_mark() {
        assert_eq!(encode("Acme – café “ok” €5"), b"Acme \x96 caf\xe9 \x93ok\x94 \x805");
        assert_eq!(encode("a\nb\tc\u{7}d"), b"a b cd");
        assert_eq!(encode("東京 🦀"), b"?? ?");
    }

    #[test]
    fn lines_are_wrapped_between_words_and_cut_with_an_ellipsis() {
        let lines = wrap(b"one two three four five six", REGULAR, 10.0, 50.0, 2);
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|line| measure(line, REGULAR, 10.0) <= 50.0), "{lines:?}");
        assert_eq!(lines[0], b"one two");
        assert_eq!(lines[1].last(), Some(&0x85), "cut, and said to be");

        assert_eq!(wrap(b"short", REGULAR, 10.0, 50.0, 2), vec![b"short".to_vec()]);
        assert_eq!(wrap(b"", REGULAR, 10.0, 50.0, 2), vec![Vec::<u8>::new()]);
    }

    #[test]
    fn a_word_too_long_for_a_line_is_broken_inside() {
        let long = [b'x'; 200];
        let lines = wrap(&long, REGULAR, 10.0, 50.0, 3);
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|line| measure(line, REGULAR, 10.0) <= 50.0));
        assert_eq!(lines[2].last(), Some(&0x85));
    }
}
