//! Pointing the request at the tool: the upstream URI and `Host`.

use std::task::{Context, Poll};

use http::header::HOST;

use crate::body::Request;
use crate::error::Refusal;
use crate::layers::{Destination, ProxyService, StepFuture, pass, refuse};

/// Rewrites `req`'s URI to its [`Destination`]; `Host` is then set from the URI by the client.
pub fn route(req: &mut Request) -> Result<(), Refusal> {
    let Some(destination) = req.extensions().get::<Destination>() else {
        return Err(Refusal::NotFound("The request has no destination.".into()));
    };
    let uri = format!("{}{}", destination.origin, destination.path_and_query);
    let uri: http::Uri = uri
        .parse()
        .map_err(|_| Refusal::BadRequest("The request path cannot be sent to the tool.".into()))?;
    *req.uri_mut() = uri;
    req.headers_mut().remove(HOST);
    Ok(())
}

/// Layer that sets the upstream URI from the request's [`Destination`].
#[derive(Debug, Clone, Default)]
pub struct RouteLayer;

impl<S> tower::Layer<S> for RouteLayer {
    type Service = Route<S>;

    fn layer(&self, inner: S) -> Route<S> {
        Route { inner }
    }
}

/// Service that sets the upstream URI; see [`RouteLayer`].
#[derive(Debug, Clone)]
pub struct Route<S> {
    inner: S,
}

impl<S: ProxyService> tower::Service<Request> for Route<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = StepFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        match route(&mut req) {
            Ok(()) => pass(self.inner.call(req)),
            Err(refusal) => refuse(refusal),
        }
    }
}
