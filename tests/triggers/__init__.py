"""HTTP_ENDPOINT triggers and HTTP_RESPONSE, end to end through a real server."""
