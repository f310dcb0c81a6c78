"""The probes that turn a task's embeddings and labels into K split scores. Pure.

- `linear`: the NeuCo-Bench linear probe, K probes as one parameter matrix (the default).
- `batched`: K small autograd networks at once: the MLP probe and the softmax linear probe of
  multi-class tasks.
- `svm` / `svm_params`: the reference's Bayesian search over polynomial SVMs, fast.
- `run`: picks the probe for a task and config (`task_probe_run`).

Importing this package imports nothing heavy; `svm` (scikit-learn, scikit-optimize) is imported
only when an SVM probe runs.
"""
