"""What every service shares at run time: settings from the environment, Kafka clients and
topics, logging. I/O lives here, not in syncmodel."""
