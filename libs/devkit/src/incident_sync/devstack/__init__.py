"""Starts the real parts as child processes: the Kafka-protocol broker, redis-server, the
sandbox tools and the services. Used by `im dev up`, the tests and the benchmarks."""
