"""`python -m outbound worker`: runs the gate, arbiter and delivery agents."""

from outbound.agents import arbiter, delivery, gate  # noqa: F401 - registers the agents
from outbound.app import app

if __name__ == "__main__":
    app.main()
