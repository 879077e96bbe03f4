"""The window: shows and asks; every rule and every write goes through `core` and `storage`."""
