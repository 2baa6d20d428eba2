"""Market bundles: one zip file that carries a shared model between installations."""
