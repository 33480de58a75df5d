"""`python -m outbound worker`: runs the gate, arbiter and delivery agents, and the retry
relay."""

from outbound.agents import arbiter, delivery, gate, retry  # noqa: F401 - registers them
from outbound.app import app

if __name__ == "__main__":
    app.main()
