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

/// At most 100 points, each valid (the first broken rule is reported for the whole list).
pub fn points(points: &PlacePoints) -> Result<(), ValidationError> {
    if points.0.len() > 100 {
        return Err(ValidationError::new("length").with_message("at most 100 points".into()));
    }
    for (i, point) in points.0.iter().enumerate() {
        if point.validate().is_err() {
            return Err(ValidationError::new("invalid").with_message(
                format!(
                    "point {i} needs a place, a longitude (-180 to 180) and a latitude (-90 to 90)"
                )
                .into(),
            ));
        }
    }
    Ok(())
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
