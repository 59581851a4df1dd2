"""REST API v1: routes under /api/v1, Bearer API keys, JSON in and out."""
