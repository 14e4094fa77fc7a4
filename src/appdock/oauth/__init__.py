"""Installation access tokens: the JWT bearer grant and refresh tokens (connect-spec §7.2)."""
