//! The one error type of the store. `sqlx::Error` is converted here and nowhere else, keeping
//! SQL text, bound values and driver details out of everything above the store.

/// What a store call answers.
pub type StoreResult<T> = Result<T, StoreError>;

/// What went wrong, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; `what` names the field a client would change.
    #[error("{what} is already taken")]
    Conflict { what: &'static str },
    /// A rule of the data forbids the change, such as leaving an organisation without an admin.
    #[error("{0}")]
    Refused(&'static str),
    /// A worker wrote for an attempt that is no longer the current one: its lease was lost and the
    /// job was claimed again (or ended). Its write is refused.
    #[error("this attempt is no longer current")]
    Fenced,
    /// The database cannot be reached or has no free connection right now.
    #[error("database unavailable")]
    Unavailable,
    /// Anything else. The text names the kind of failure, never the query or its values.
    #[error("database error: {0}")]
    Internal(String),
}

impl StoreError {
    /// Converts a driver error, reporting unique violations as a conflict on `what`.
    pub(crate) fn conflict_on(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
        move |error| match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict { what },
            _ => StoreError::from(error),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match error {
            E::RowNotFound => StoreError::NotFound,
            E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => StoreError::Unavailable,
            // A database message can quote the values of a row, so only its code is kept.
            E::Database(db) => match db.code() {
                Some(code) if is_connection_failure(&code) => StoreError::Unavailable,
                Some(code) => StoreError::Internal(format!("database error code {code}")),
                None => StoreError::Internal("database error".into()),
            },
            E::ColumnDecode { index, .. } => StoreError::Internal(format!("cannot decode column {index}")),
            E::Migrate(_) => StoreError::Internal("migration failed".into()),
            other => StoreError::Internal(kind_of(&other).into()),
        }
    }
}

/// PostgreSQL classes 08 (connection exception) and 57P (operator intervention: shutdown, restart).
fn is_connection_failure(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57P")
}

fn kind_of(error: &sqlx::Error) -> &'static str {
    use sqlx::Error as E;
    match error {
        E::Configuration(_) => "invalid database configuration",
        E::Protocol(_) => "database protocol error",
        E::TypeNotFound { .. } | E::ColumnNotFound(_) | E::ColumnIndexOutOfBounds { .. } => "schema mismatch",
        E::Decode(_) => "cannot decode a value",
        _ => "unexpected database error",
    }
}
