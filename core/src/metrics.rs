//! What `GET /metrics` and `GET /ui/state` answer, from every group's
//! [`GroupMetrics`](crate::coordinator::GroupMetrics) and the config that names
//! their deployments: the Prometheus exposition ([`prometheus`]) and the live
//! page's JSON ([`page`]).

pub mod page;
pub mod prometheus;
