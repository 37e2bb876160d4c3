"""Settings modules: ``base`` (shared), ``dev`` (``make run``), ``production`` (env-driven)."""
