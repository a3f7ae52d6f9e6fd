"""The serving family: the engine launch, what is installed for it, and whether the model fits
the GPUs. `provider` is its face (the ``serving`` provider); the rest, in the order the facts
are built:

==========================  ====================================================================
launch, launch_command,     the launch read as facts (`parse_launch`), over the engine tables in
launch_values,              ``engines.yaml`` (`engine_tables`); servers that are not parsed
launch_defaults, servers    engines (Ollama, Triton, NIM …) in ``servers.yaml``
model_location              where the model the launch names really is
installed, python_source    what is installed, read from the packages' files (never imported);
torch_builds                torch arch lists per published wheel (``torch_arches.yaml``)
installed_facts             ``serving.installed``: those answers for this launch and model
gpus                        ``serving.gpus``: NVML narrowed by ``CUDA_VISIBLE_DEVICES``
capabilities                ``serving.requirements``: the compute capability the launch needs
                            (``gpu_requirements.yaml``)
fit                         ``serving.fit``: weights, KV cache and the GPU budget
==========================  ====================================================================

The Kubernetes provider reuses the launch parser for container commands; nothing here imports
the Kubernetes family.
"""
