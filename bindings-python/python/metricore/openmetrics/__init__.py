"""OpenMetrics 1.0.0 exposition and parsing."""
