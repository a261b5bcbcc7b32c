"""The ad-traffic simulator behind ``ctr produce``."""
