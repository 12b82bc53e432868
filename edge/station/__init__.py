"""Station logic without I/O: the pack session, shipment planning and the dock's pickups.

The agents in ``edge.agents`` feed these with scans and rows read from the local store
and carry out what they return (ops to record, display feedback, documents to print).
"""
