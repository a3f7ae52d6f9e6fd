"""Stage 1, text → checked documents: safe YAML and JSON with positions for every value,
the JSON Schemas and their fast check, fact bundle files, atomic writes."""
