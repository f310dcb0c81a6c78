"""Post-reveal analyses (placeholder)."""
