"""Redis as karafkad connects to it: `connection` makes clients (plain, TLS, Sentinel) and says what their
failures mean."""
