"""Task libraries: core tasks, control flow, and the flow-of-flows tasks.

Contract:
    Subpackages are imported on use; importing this package loads nothing else.
"""
