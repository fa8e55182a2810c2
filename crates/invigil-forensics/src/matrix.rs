//! A cell per candidate and item: scores, options chosen, log seconds.

use crate::data::{Response, Responses};

/// Candidates by items; `None`: the item was not taken (or, for options
/// and times, not answered or not recorded).
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix<T> {
    pub item_ids: Vec<String>,
    pub persons: usize,
    cells: Vec<Option<T>>,
}

impl<T: Copy> Matrix<T> {
    /// `rows[i][j]`: person `i`'s cell for item `j`.
    pub fn new(item_ids: Vec<String>, rows: &[Vec<Option<T>>]) -> Self {
        let items = item_ids.len();
        let mut cells = Vec::with_capacity(rows.len() * items);
        for row in rows {
            assert_eq!(row.len(), items, "one cell per item");
            cells.extend(row);
        }
        Self {
            item_ids,
            persons: rows.len(),
            cells,
        }
    }

    /// A cell per result of `r`, by `cell` (results it maps to `None`,
    /// and items a candidate did not take, stay empty).
    pub fn of(r: &Responses, cell: impl Fn(&Response) -> Option<T>) -> Self {
        let items = r.items.len();
        let mut cells = vec![None; r.candidates.len() * items];
        for row in &r.rows {
            cells[row.candidate * items + row.item] = cell(row);
        }
        Self {
            item_ids: r.items.clone(),
            persons: r.candidates.len(),
            cells,
        }
    }

    pub fn items(&self) -> usize {
        self.item_ids.len()
    }

    pub fn get(&self, person: usize, item: usize) -> Option<T> {
        self.cells[person * self.items() + item]
    }

    /// One person's cells.
    pub fn row(&self, person: usize) -> &[Option<T>] {
        &self.cells[person * self.items()..(person + 1) * self.items()]
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::data::parse_responses;
    use crate::nrm::ChoiceMatrix;
    use crate::rt::log_times_of;

    use super::*;

    #[test]
    fn a_results_file_becomes_scores_options_and_times() {
        let r = parse_responses(
            Path::new("r.csv"),
            "candidate_id,item_id,response,score,rt_s\nc1,q1,B,1,20\nc1,q2,,0,\nc2,q1,A,0,0\n",
        )
        .unwrap();
        let scores = Matrix::of(&r, |row| Some(row.score));
        assert_eq!((scores.persons, scores.items()), (2, 2));
        assert_eq!(scores.row(0), [Some(1.0), Some(0.0)]);
        // c2 did not take q2.
        assert_eq!(scores.row(1), [Some(0.0), None]);
        let times = log_times_of(&r);
        assert_eq!(times.get(0, 0), Some(20f64.ln()));
        assert_eq!(times.get(0, 1), None, "not recorded");
        assert_eq!(times.get(1, 0), Some(0.1f64.ln()), "0 s counts as 0.1 s");
        let choices = ChoiceMatrix::from_responses(&r).unwrap();
        assert_eq!(choices.options[0], ["B", "A"]);
        assert_eq!(choices.choices.row(0), [Some(0), None], "q2 unanswered");
        assert_eq!(choices.choices.get(1, 0), Some(1));
        // Free text is no multiple-choice item.
        let mut text = String::from("candidate_id,item_id,response,score,rt_s\n");
        for i in 0..21 {
            text.push_str(&format!("c{i},essay,answer {i},1,5\n"));
        }
        let r = parse_responses(Path::new("r.csv"), &text).unwrap();
        let err = ChoiceMatrix::from_responses(&r).unwrap_err().to_string();
        assert!(
            err.contains("item `essay`: more than 20 different responses"),
            "{err}"
        );
    }
}
