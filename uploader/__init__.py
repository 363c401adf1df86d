"""The timeshelf sidecar: uploads, tokens, bundles and fallback routes (Flask)."""
