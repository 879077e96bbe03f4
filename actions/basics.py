"""What the command line needs before it knows the command (the profile's labels for its options, the
data folder for its log), without the rest of `actions.database`: `--help` and `--version` stay quick."""

from storage.basics import PROFILE_LABELS, data_dir

__all__ = ["PROFILE_LABELS", "data_dir"]
