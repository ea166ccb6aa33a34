"""Published JSON Schemas (request, alert, enforcement, feedback)."""
