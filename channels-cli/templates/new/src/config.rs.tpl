//! The app's settings: read once at startup and given to the endpoint with `.state(..)`, so handlers take
//! `config: State<Config>` instead of reading globals (Phoenix reads the same from `config/*.exs`).

/// The salt of the tokens that name a user to [`crate::web::UserSocket`] (Phoenix's `"user socket"`).
pub const USER_TOKEN_SALT: &str = "user socket";

/// How long a user token stays valid: two weeks, as Phoenix's generated socket suggests.
pub const USER_TOKEN_MAX_AGE_SECS: u64 = 14 * 24 * 60 * 60;

/// What the app is configured with.
pub struct Config {
    /// Signs tokens (`channels::token::Token`) and the LongPoll sessions: keep it secret, and the same on
    /// every node. `SECRET_KEY_BASE` in the environment; a fixed development value otherwise.
    pub secret_key_base: String,
}

impl Config {
    /// Reads the configuration from the environment.
    pub fn from_env() -> Config {
        let secret_key_base = std::env::var("SECRET_KEY_BASE").unwrap_or_else(|_| {
            // Development only: set SECRET_KEY_BASE (64 random characters or more) in production.
            "{{package_name}}-development-secret-key-base-change-me-0123456789-0123456789".to_owned()
        });
        Config { secret_key_base }
    }
}
