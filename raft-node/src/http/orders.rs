//! `POST /orders`, `GET /orders/{n}` and `GET /orders?after=&limit=`: input checks, then
//! the calls of [`crate::orders`].

use axum::extract::State;
use serde::Deserialize;
use service_core::extract::{PathParams, QueryParams};
use service_core::{validate, ApiError, Data, JsonBody};
use toystore_api::node::{
    Order, OrderCreated, OrderRequest, OrdersPage, OrdersQuery, ReadConsistency, MAX_PAGE,
};

use crate::app::SharedApp;
use crate::orders;

/// `POST /orders`.
pub(crate) async fn create(
    State(app): State<SharedApp>,
    JsonBody(request): JsonBody<OrderRequest>,
) -> Result<Data<OrderCreated>, ApiError> {
    validate::request_key(&request.request_id)?;
    validate::product_name(&request.name)?;
    validate::quantity(request.quantity)?;
    let order_number = orders::buy(&app, &request).await?;
    Ok(Data::new(OrderCreated { order_number }))
}

/// Query of `GET /orders/{n}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ReadQuery {
    #[serde(default)]
    consistency: Option<String>,
}

/// `GET /orders/{n}`: linearizable on the leader, or local with `?consistency=local`.
pub(crate) async fn read(
    State(app): State<SharedApp>,
    PathParams(number): PathParams<String>,
    QueryParams(query): QueryParams<ReadQuery>,
) -> Result<Data<Order>, ApiError> {
    let number: u64 = number
        .parse()
        .map_err(|_| ApiError::bad_request("order number must be a non-negative integer"))?;
    let consistency = match query.consistency.as_deref() {
        Some("local") => ReadConsistency::Local,
        None | Some("linearizable") => ReadConsistency::Linearizable,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "consistency must be `local` or `linearizable`, not `{other}`"
            )))
        }
    };
    Ok(Data::new(orders::read(&app, number, consistency).await?))
}

/// `GET /orders?after=<n>&limit=<k>`: a page of the local state machine.
pub(crate) async fn list(
    State(app): State<SharedApp>,
    QueryParams(query): QueryParams<OrdersQuery>,
) -> Result<Data<OrdersPage>, ApiError> {
    let limit = query.limit.unwrap_or(MAX_PAGE);
    if limit > MAX_PAGE {
        return Err(ApiError::bad_request(format!(
            "limit must be at most {MAX_PAGE}"
        )));
    }
    Ok(Data::new(orders::page(&app, query.after, limit as usize)?))
}
