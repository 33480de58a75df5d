"""The outbound worker: its stages (`stages/`: gate, arbiter, delivery, hold, relay), each a
faust agent beside its logic, and what they share."""
