//! Forward-proxy building blocks: reading `Proxy-Authorization` and deciding which connector,
//! if any, a request or a `CONNECT` tunnel is aimed at.
//!
//! Everything here is pure: parsing and matching only, no I/O. The forward-proxy service
//! calls these functions and turns their errors into `400` or `407` responses.

mod credentials;
mod target;

pub(crate) use credentials::parse_proxy_authorization;
pub(crate) use target::{
    ConnectTarget, best_match, host_matches, origin_of_absolute, parse_authority_form,
};
