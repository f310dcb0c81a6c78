"""The imperative shell of the evaluation service: it polls EvalAI's remote-evaluation queue,
downloads each submission, scores it with the pure `scoring` core and reports the result back.
Its rooms (`evalai`, `store`, `leaderboard`) and the rules between them: docs/architecture.md.
"""
