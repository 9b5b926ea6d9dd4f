"""Error measures and figures."""
