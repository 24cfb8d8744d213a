"""Ensemble models: E independent members of one shape, trained as one batched computation.

Contract shared by every model here:
  * constructor takes the shape hyper-parameters, ``ensemble_size`` E and a list of E
    ``torch.Generator`` (or seeds) for per-member init (PyTorch default init per member);
  * ``forward(x)`` with x float of shape (B, n) (shared by all members) or (E, B, n) returns logits (E, B, 2);
  * members never interact, so loss = sum over members of each member's mean loss gives each member
    exactly its own gradient, and element-wise optimizers (SGD, Adam, AdamW) on the stacked parameters
    equal E separate optimizers.
"""
