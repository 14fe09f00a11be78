"""Pretrained weights: checkpoints (read, restore with a report, adapt, write), fetching published archives,
and the preprocessing each checkpoint expects."""
