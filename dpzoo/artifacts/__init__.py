"""dpzoo.artifacts: what a run leaves behind, where both the trainer and the zoo reach it.

``model_card`` writes and reads a run's card (JSON and Markdown); ``export`` writes a SavedModel
with the serving signature; ``run_folder`` rebuilds a trained model from a run folder (card plus
checkpoint) and exports it.
"""
