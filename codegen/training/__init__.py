"""Training: data sets (synthetic benchmark, user recordings), the model, the training loop."""
