"""Provisioning, access, keys and teardown: the lab's first three steps and its last one."""
