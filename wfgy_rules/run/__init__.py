"""Stage 3, config + rules + facts → results → outcome: the config, the session commands
share, fact gathering, the engine (pure), waivers, remedies, the outcome, policy tests."""
