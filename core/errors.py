"""Typed errors with messages meant for the user (in Chinese)."""


class DomainError(Exception):
    """Base of every error whose message can be shown to the user as it is."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class NumberError(DomainError):
    """A typed figure that is not a valid count."""


class QuarterError(DomainError):
    """A quarter that cannot be parsed."""


class PlanError(DomainError):
    """A plan or target file that is malformed or inconsistent."""


class TownError(DomainError):
    """An unknown town, or a database bound to another town."""


class InputError(DomainError):
    """A value handed to an action that cannot be used as given (an unknown code, a missing folder)."""


def os_reason(exc: OSError) -> str:
    """Why a file could not be read or written, in the clerk's words rather than the system's English."""
    import errno

    reasons = {
        errno.ENOENT: "文件不存在",
        errno.EISDIR: "这是一个文件夹，不是文件",
        errno.ENOTDIR: "路径中的某一级不是文件夹",
        errno.EACCES: "没有读取或写入的权限",
        errno.EPERM: "没有读取或写入的权限",
        errno.ENOSPC: "磁盘空间不足",
        errno.EROFS: "所在的磁盘是只读的",
        errno.ENAMETOOLONG: "文件名或路径太长",
    }
    return reasons.get(exc.errno or 0) or "系统无法完成该文件操作"
