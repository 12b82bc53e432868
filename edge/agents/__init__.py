"""Floor agents: one process per station (sorter, pack, dock, dispatch)."""
