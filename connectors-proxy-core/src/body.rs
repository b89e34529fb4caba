//! The one body type that flows through every layer, in both directions.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::{BodyExt, Empty, Full, combinators::UnsyncBoxBody};

/// A boxed error, as carried by bodies and upstream failures.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A streaming HTTP body: whatever the client or the tool sends is relayed frame by frame.
pub struct Body(UnsyncBoxBody<Bytes, BoxError>);

impl Body {
    /// A body with no bytes.
    pub fn empty() -> Self {
        Self::new(Empty::new())
    }

    /// A body holding exactly these bytes.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Self::new(Full::new(bytes.into()))
    }

    /// Wraps any body whose error converts into [`BoxError`].
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Self(body.map_err(Into::into).boxed_unsync())
    }
}

impl Default for Body {
    fn default() -> Self {
        Self::empty()
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Body")
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.0).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}

/// A request as it moves through the proxy stack.
pub type Request = http::Request<Body>;
/// A response as it moves through the proxy stack.
pub type Response = http::Response<Body>;
