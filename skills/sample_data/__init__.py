"""An original sample dataset on the lab's theme: an AI teacher that helps people learn AI."""
