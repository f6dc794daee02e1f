"""The evaluation sandbox: JavaScript and jq in child processes, killable, bounded, isolated."""
