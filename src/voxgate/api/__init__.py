"""REST routes beside the gateway core: stored sessions and analytics, monitoring, administration."""
