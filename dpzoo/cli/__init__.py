"""dpzoo.cli: the absl command-line tools (console scripts dpzoo-train, -privacy, -export, -bench,
-audit, -zoo), each a thin ``main`` over one library call; ``app`` runs them, turning usage errors
into exit code 2 with a one-line message."""
