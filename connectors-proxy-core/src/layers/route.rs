//! Pointing the request at the tool: the upstream URI and `Host`.

use http::header::HOST;

use crate::body::Request;
use crate::error::Refusal;
use crate::layers::Destination;
use crate::layers::step::{Step, StepService};

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

/// Layer that sets the upstream URI from the request's [`Destination`] (see [`route`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct RouteLayer;

impl<S> tower::Layer<S> for RouteLayer {
    type Service = Route<S>;

    fn layer(&self, inner: S) -> Route<S> {
        StepService::new(*self, inner)
    }
}

/// Service that sets the upstream URI; see [`RouteLayer`].
pub type Route<S> = StepService<RouteLayer, S>;

impl Step for RouteLayer {
    fn apply(&self, mut req: Request) -> Result<Request, Refusal> {
        route(&mut req)?;
        Ok(req)
    }
}
