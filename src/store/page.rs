//! `?limit=&after=` keyset pagination: the list queries take it, the admin API and the CLI
//! fill it in.

/// `?limit=&after=` keyset pagination shared by the list endpoints.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Items per page: 1 to 200 (values outside are clamped), 50 when absent.
    pub limit: Option<i64>,
    /// The `next` of the previous page; absent for the first page.
    pub after: Option<String>,
}

impl Page {
    pub const MAX: i64 = 200;

    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(50).clamp(1, Self::MAX)
    }
}
