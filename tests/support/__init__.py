"""Support shared by every test tier (unit, api, e2e, integration).

``tests/`` is on ``sys.path`` (its ``conftest.py`` sits there), so tests import these
modules as ``support.<module>``:

- :mod:`support.waiting`: wait for a condition with a deadline, never a bare sleep.
- :mod:`support.flow_of_flows`: a real server and agent with the flow-of-flows test flows
  registered (the ``fof`` fixture of the end-to-end tests).
"""
