"""Tools that use the local cloud (or, later, a deployed stack): the demo, the benchmarks and the CLI."""
