//! Languages of the registry's texts: Latvian (the original), English and Russian. Readers pick
//! one with `lang=` or `Accept-Language`; records fall back to the original where untranslated.

use actix_web::http::header;
use actix_web::HttpRequest;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A language code (ISO 639-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Lv,
    En,
    Ru,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Lv => "lv",
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.trim().to_ascii_lowercase();
        match primary.as_str() {
            "lv" => Some(Lang::Lv),
            "en" => Some(Lang::En),
            "ru" => Some(Lang::Ru),
            _ => None,
        }
    }

    /// The language a request asks for: `lang=` wins, then the best `Accept-Language` entry
    /// Kopa has; `None` when neither names one (the original is given then).
    pub fn negotiate(param: Option<Lang>, req: &HttpRequest) -> Option<Lang> {
        param.or_else(|| {
            let accept = req.headers().get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
            let mut best: Option<(f32, Lang)> = None;
            for entry in accept.split(',') {
                let mut parts = entry.split(';');
                let Some(lang) = parts.next().and_then(Lang::parse) else {
                    continue;
                };
                let quality = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
                    best = Some((quality, lang));
                }
            }
            best.map(|(_, lang)| lang)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn accept_language_picks_the_best_known_language() {
        let req = TestRequest::default()
            .insert_header((header::ACCEPT_LANGUAGE, "de-DE, ru;q=0.8, en;q=0.9"))
            .to_http_request();
        assert_eq!(Lang::negotiate(None, &req), Some(Lang::En));
        assert_eq!(Lang::negotiate(Some(Lang::Lv), &req), Some(Lang::Lv));
        let req = TestRequest::default()
            .insert_header((header::ACCEPT_LANGUAGE, "de"))
            .to_http_request();
        assert_eq!(Lang::negotiate(None, &req), None);
    }
}
