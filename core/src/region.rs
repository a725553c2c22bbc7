//! Regions, for LiteLLM's region pre-call check: a request's `allowed_model_region`
//! (`eu` or `us`) keeps it on deployments whose `region_name` lies there (for data
//! residency). A deployment whose region is unknown is never in an area.

use serde::{Deserialize, Serialize};

/// An area a request may restrict itself to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    /// Europe: AWS's `eu-*`, Google Cloud's `europe-*`, Azure's European regions.
    Eu,
    /// The United States: AWS's and Google Cloud's `us-*`, Azure's US regions.
    Us,
}

/// Azure's European regions that do not say `europe`: they begin with their country.
const AZURE_EUROPEAN_COUNTRIES: &[&str] = &[
    "france",
    "germany",
    "sweden",
    "switzerland",
    "norway",
    "italy",
    "poland",
    "spain",
    "uk",
    "austria",
    "belgium",
    "denmark",
    "finland",
    "greece",
];

impl Area {
    /// `eu` or `us`, as LiteLLM takes `allowed_model_region`.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "eu" => Some(Self::Eu),
            "us" => Some(Self::Us),
            _ => None,
        }
    }

    /// Whether a deployment in `region_name` (AWS's, Google Cloud's or Azure's
    /// naming) runs in this area.
    pub fn contains(self, region_name: &str) -> bool {
        let name = region_name.trim().to_ascii_lowercase();
        match self {
            // AWS's `eu-*`, Google's `europe-*`, Azure's `westeurope`, `swedencentral`, ...
            Self::Eu => {
                name.starts_with("eu-")
                    || name.contains("europe")
                    || AZURE_EUROPEAN_COUNTRIES.iter().any(|country| name.starts_with(country))
            }
            // AWS's and Google's `us-*`; Azure's `eastus`, `westus3`, `southcentralus`, ...
            Self::Us => ["us", "us2", "us3"].iter().any(|end| name.ends_with(end)) || name.starts_with("us"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eu => "eu",
            Self::Us => "us",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn european_regions_of_each_cloud_are_in_the_eu_area() {
        for region in [
            "eu-west-1",
            "eu-central-1",
            "europe-west4",
            "europe-north1",
            "westeurope",
            "swedencentral",
            "francecentral",
            "germanywestcentral",
            "uksouth",
        ] {
            assert!(Area::Eu.contains(region), "{region}");
            assert!(!Area::Us.contains(region), "{region}");
        }
    }

    #[test]
    fn american_regions_of_each_cloud_are_in_the_us_area() {
        for region in
            ["us-east-1", "us-west-2", "us-central1", "eastus", "eastus2", "westus3", "southcentralus", "US-EAST-1"]
        {
            assert!(Area::Us.contains(region), "{region}");
            assert!(!Area::Eu.contains(region), "{region}");
        }
        for elsewhere in ["ap-northeast-1", "asia-east1", "japaneast", "australiaeast", ""] {
            assert!(!Area::Us.contains(elsewhere) && !Area::Eu.contains(elsewhere), "{elsewhere}");
        }
    }

    #[test]
    fn only_eu_and_us_are_areas() {
        assert_eq!(Area::parse(" EU "), Some(Area::Eu));
        assert_eq!(Area::parse("us"), Some(Area::Us));
        assert_eq!(Area::parse("apac"), None);
    }
}
