"""NeuCo-Bench scoring core: pure functions from an embedding table and hidden-task labels to
quality scores and a task-weighted rank leaderboard.

Pure: no network, database, environment variables or logging set-up. File reading is limited to
the inputs a caller names (a submission file, an annotation folder, a config file).
"""
