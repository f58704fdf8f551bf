//! A usage series: the summary of its range, grouped by period and split,
//! laid over every period of the range (`domain::series`).
use chrono::{DateTime, Utc};

use super::Scope;
use crate::domain::analytics::UsageFilter;
use crate::domain::series::{Series, SeriesRequest};
use crate::error::Result;
use crate::store::Store;

impl Store {
    pub async fn usage_series(
        &self,
        scope: Scope<'_>,
        filter: &UsageFilter,
        request: &SeriesRequest,
        now: DateTime<Utc>,
    ) -> Result<Series> {
        filter.validate()?;
        let (filter, periods) = request.range(filter, now)?;
        let buckets = self.usage_summary(scope, &filter, request.group(), request.time_zone, now).await?;
        Ok(Series::new(request, periods, buckets))
    }
}
