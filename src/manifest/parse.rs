//! TEMPORARY stand-in (JSON only), replaced by the full implementation.
#![allow(missing_docs)]
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Document {
    pub index: usize,
    pub item: Option<usize>,
    pub line: usize,
    pub value: Value,
}

impl Document {
    pub fn line_of(&self, path: &str) -> Option<usize> {
        let _ = path;
        None
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("document {document}: {message}")]
pub struct ParseError {
    pub document: usize,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

pub fn parse_documents(text: &str) -> Result<Vec<Document>, ParseError> {
    let v: Value = serde_json::from_str(text).map_err(|e| ParseError {
        document: 1,
        line: Some(e.line()),
        column: Some(e.column()),
        message: e.to_string(),
    })?;
    let items = match v {
        Value::Array(a) => a,
        other => vec![other],
    };
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, value)| Document {
            index: i,
            item: None,
            line: 1,
            value,
        })
        .collect())
}
