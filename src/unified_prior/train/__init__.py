"""The trainer: loop, checkpoints, metrics, the schedule guard, and distributed set-up."""
