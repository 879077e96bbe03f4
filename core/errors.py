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
    """Why a file could not be read or written, in the clerk's words rather than the system's English.

    The one table of errno values the app explains; every message about a failed file operation
    says it this way (never exc.strerror, which is English on most systems)."""
    import errno

    reasons = {
        errno.ENOENT: "文件不存在",
        errno.EISDIR: "这是一个文件夹，不是文件",
        errno.ENOTDIR: "路径中的某一级不是文件夹",
        errno.EACCES: "没有读取或写入的权限（或文件正被其他程序占用）",
        errno.EPERM: "没有读取或写入的权限",
        errno.ENOSPC: "磁盘空间不足",
        errno.EDQUOT: "磁盘空间不足（超出了分配给本用户的空间）",
        errno.EFBIG: "文件超出了这个磁盘允许的大小",
        errno.EROFS: "所在的磁盘是只读的",
        errno.ENAMETOOLONG: "文件名或路径太长",
        errno.EIO: "磁盘读写出错（U 盘是否已拔出，或磁盘故障）",
        errno.EXDEV: "不能在两个不同的磁盘之间直接移动文件",
        errno.EMFILE: "同时打开的文件太多",
        errno.ENFILE: "系统同时打开的文件太多",
        errno.EEXIST: "同名文件已存在",
        errno.ENOTEMPTY: "文件夹不是空的",
        errno.EBUSY: "文件正被其他程序占用",
        errno.ETXTBSY: "文件正被其他程序占用",
        errno.EAGAIN: "文件暂时被占用，请稍后再试",
        errno.ELOOP: "路径中的快捷方式（链接）指向了自己",
        errno.EINVAL: "文件名或操作不被这个磁盘支持",
        errno.ENODEV: "磁盘不存在（U 盘是否已拔出）",
        errno.ENXIO: "磁盘不存在（U 盘是否已拔出）",
        errno.ENOMEM: "内存不足",
        errno.ETIMEDOUT: "网络磁盘没有响应",
        errno.EINTR: "操作被中断，请再试一次",
    }
    reason = reasons.get(exc.errno or 0)
    if reason is None:
        code = getattr(exc, "winerror", None) or exc.errno
        reason = f"系统无法完成该文件操作（错误代码 {code}）" if code else "系统无法完成该文件操作"
    return reason
