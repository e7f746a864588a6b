//! Markdown tables, built row by row.

use std::fmt;

/// A Markdown table: a header row, then rows of cells. Cells are escaped (`|` and line breaks
/// cannot break the table), and a short row is padded with empty cells.
///
/// ```
/// use kiln_core::report::Table;
///
/// let mut table = Table::new(["optimizer", "accuracy (%)"]);
/// table.row(["TAM", &format!("{:.1}", 97.25)]);
/// assert_eq!(table.to_string(), "| optimizer | accuracy (%) |\n|---|---|\n| TAM | 97.2 |\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headings and no rows.
    pub fn new<S: AsRef<str>>(header: impl IntoIterator<Item = S>) -> Self {
        Self {
            header: header.into_iter().map(|h| cell(h.as_ref())).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Self {
        self.rows
            .push(cells.into_iter().map(|c| cell(c.as_ref())).collect());
        self
    }

    /// The table with one more row (for building in one expression).
    pub fn with_row<S: AsRef<str>>(mut self, cells: impl IntoIterator<Item = S>) -> Self {
        self.row(cells);
        self
    }

    /// Rows so far.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let line = |f: &mut fmt::Formatter<'_>, cells: &[String]| {
            f.write_str("|")?;
            for i in 0..width {
                match cells.get(i).map_or("", String::as_str) {
                    "" => f.write_str(" |")?,
                    text => write!(f, " {text} |")?,
                }
            }
            f.write_str("\n")
        };
        line(f, &self.header)?;
        f.write_str("|")?;
        for _ in 0..width {
            f.write_str("---|")?;
        }
        f.write_str("\n")?;
        for row in &self.rows {
            line(f, row)?;
        }
        Ok(())
    }
}

/// Escapes a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_escaped_and_short_rows_padded() {
        let mut table = Table::new(["a", "b|c"]);
        table.row(["1\n2"]).row(["x", "y", "z"]);
        assert_eq!(
            table.to_string(),
            "| a | b\\|c | |\n|---|---|---|\n| 1 2 | | |\n| x | y | z |\n"
        );
        assert_eq!(table.len(), 2);
        assert!(Table::new(["only"]).is_empty());
    }
}
