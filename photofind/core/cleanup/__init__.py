"""Clean-up stage: keeper rules, marks, plans, the journaled actions and their undo."""
