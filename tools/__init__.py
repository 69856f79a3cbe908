"""Developer tools, run from a checkout and never installed: `python -m tools.catalogs` (`make
catalog`) and `tools/in-netns`."""
