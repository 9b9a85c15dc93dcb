"""Training: dataset windows, curriculum weights, the resumable trainer, value calibration,
temperature schedules and the data-quality gate.

Import the modules themselves (``ringrift_tasks.training.trainer`` ...): this package file
stays empty so that self-play can use ``training.temperature`` without loading torch.
"""
