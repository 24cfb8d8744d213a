"""paper_checks: one module per claim of the paper; ``reproduce`` runs them all."""
