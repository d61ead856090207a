"""Real local stand-ins for the services the bridge talks to: Azurite, a managed-identity endpoint
and a pipeline service. Used by the tests, the benchmarks and the local run."""
