"""The stream processors: gate, arbiter and delivery, as faust-streaming agents."""
