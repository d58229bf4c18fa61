"""gpufleet components: reusable Pulumi ComponentResources for a GPU inference platform.

Importing this package registers nothing and imports no cloud SDK; each component imports its
per-cloud module only when a stack uses that cloud.
"""
