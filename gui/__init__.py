"""The window: shows and asks; every rule and every write goes through `core` and `storage`."""

APP_TITLE = "镇街人社指标填报系统"
