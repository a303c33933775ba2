//! Points on the map: a place with its own WGS 84 longitude and latitude, stored as JSON.

use diesel::pg::{Pg, PgValue};
use diesel::sql_types::Jsonb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

/// A place with a point of its own (WGS 84): where a project or activity worked, more precisely
/// than its territory's representative point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlacePoint {
    /// The place, as named in the source.
    #[validate(
        length(min = 1, max = 300),
        custom(function = "crate::validation::trimmed")
    )]
    #[schema(min_length = 1, max_length = 300, example = "Daugavpils")]
    pub place: String,
    /// Longitude in degrees (WGS 84), -180 to 180.
    #[validate(range(min = -180.0, max = 180.0))]
    #[schema(minimum = -180, maximum = 180, example = 26.53333)]
    pub lon: f64,
    /// Latitude in degrees (WGS 84), -90 to 90.
    #[validate(range(min = -90.0, max = 90.0))]
    #[schema(minimum = -90, maximum = 90, example = 55.88333)]
    pub lat: f64,
}

/// The points of a record, stored as a JSON array.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Serialize,
    Deserialize,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[serde(transparent)]
#[diesel(sql_type = Jsonb)]
pub struct PlacePoints(pub Vec<PlacePoint>);

/// At most 100 points (each point's own rules run as `nested`, naming `points[i].lon`).
pub fn points(points: &PlacePoints) -> Result<(), ValidationError> {
    if points.0.len() > 100 {
        return Err(ValidationError::new("length").with_message("at most 100 points".into()));
    }
    Ok(())
}

impl Validate for PlacePoints {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        self.0.validate()
    }
}

impl diesel::serialize::ToSql<Jsonb, Pg> for PlacePoints {
    fn to_sql<'b>(
        &'b self,
        out: &mut diesel::serialize::Output<'b, '_, Pg>,
    ) -> diesel::serialize::Result {
        let value = serde_json::to_value(self)?;
        <serde_json::Value as diesel::serialize::ToSql<Jsonb, Pg>>::to_sql(
            &value,
            &mut out.reborrow(),
        )
    }
}

impl diesel::deserialize::FromSql<Jsonb, Pg> for PlacePoints {
    fn from_sql(bytes: PgValue<'_>) -> diesel::deserialize::Result<Self> {
        let value =
            <serde_json::Value as diesel::deserialize::FromSql<Jsonb, Pg>>::from_sql(bytes)?;
        Ok(serde_json::from_value(value)?)
    }
}
