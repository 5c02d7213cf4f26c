"""`python -m karafkad` is the same as the `karafkad` command."""

from karafkad.cli import main

raise SystemExit(main())
