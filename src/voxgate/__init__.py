"""voxgate: a self-hosted gateway for realtime voice AI."""

__version__ = "0.1.0"
