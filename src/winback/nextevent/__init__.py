"""Next-event prediction within a session (seed 001): samples, candidates, metrics."""
