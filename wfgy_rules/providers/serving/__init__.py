"""The serving family: the engine launch, what is installed for it, and whether the model fits the GPUs."""
