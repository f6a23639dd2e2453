"""dpzoo.train: one config per published result, under configs/<paper or dataset>/ (each defines
``get_config()`` returning a ``dpzoo.training.TrainConfig``; ``dpzoo-train --config=PATH``)."""
