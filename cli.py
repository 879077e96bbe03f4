"""The command line: every action of the app without a window (`python main.py <subcommand>`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

# Only what every command needs: `--version`, `--help`, `verify` and the city's commands must not wait
# for SQLAlchemy, openpyxl or the domain modules they do not use (tests/test_cli_imports.py).
from actions import __version__
from actions.basics import PROFILE_LABELS, data_dir
from core.errors import DomainError

if TYPE_CHECKING:
    from core.validation import Finding


EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_REFUSED = 2
EXIT_BUSY = 4  # another window or command is writing to the database; try again later
PLAN_OPTION_HELP = "市局下发的规划文件（.plan），可重复；随软件提供的 2021–2025 规划始终受信任"
STRICT_CRL_HELP = "拒绝使用已过期的吊销列表（过了其下次更新时间）；不加时照常使用并提示"


class UsageError(DomainError):
    pass


# argparse's own English, as the clerk reads it (its messages come from gettext, which has no Chinese here).
ARGPARSE_ERRORS = (
    (r"unrecognized arguments: (.*)", "无法识别的参数：{0}"),
    (r"the following arguments are required: (.*)", "缺少必须给出的参数：{0}"),
    (r"one of the arguments (.*) is required", "须给出其中一个参数：{0}"),
    (r"argument (\S+): invalid choice: (.*?) \(choose from (.*)\)", "参数 {0} 的值 {1} 不是可选的值（可选：{2}）"),
    (r"argument (\S+): invalid (\w+) value: (.*)", "参数 {0} 的值 {2} 无效（应为{1}）"),
    (r"argument (\S+): expected one argument", "参数 {0} 后面须跟一个值"),
    (r"argument (\S+): expected at least one argument", "参数 {0} 后面须至少跟一个值"),
    (r"argument (\S+): not allowed with argument (\S+)", "参数 {0} 不能与 {1} 同时使用"),
    (r"argument (\S+): ignored explicit argument (.*)", "参数 {0} 不接受值 {1}"),
    (r"ambiguous option: (\S+) could match (.*)", "参数 {0} 不明确，可能是 {1}"),
)
ARGPARSE_TYPES = {"int": "整数", "Path": "路径", "float": "数"}
ARGPARSE_HEADINGS = (
    ("usage: ", "用法："),
    ("positional arguments:", "位置参数："),
    ("options:", "选项："),
    ("show this help message and exit", "显示本帮助并退出"),
    ("show program's version number and exit", "显示版本号并退出"),
)


def argparse_message(message: str) -> str:
    import re

    for pattern, chinese in ARGPARSE_ERRORS:
        match = re.fullmatch(pattern, message, re.DOTALL)
        if match:
            return chinese.format(*(ARGPARSE_TYPES.get(g, g) for g in match.groups()))
    return message


class ChineseArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_REFUSED, f"命令用法有误：{argparse_message(message)}\n请用 --help 查看用法。\n")

    def format_usage(self) -> str:
        return self._chinese(super().format_usage())

    def format_help(self) -> str:
        return self._chinese(super().format_help())

    @staticmethod
    def _chinese(text: str) -> str:
        for english, chinese in ARGPARSE_HEADINGS:
            text = text.replace(english, chinese)
        return text


_LOG_HANDLER: list[Any] = []  # the one handler main() installed, replaced only when the log file changes


def setup_logging() -> None:
    """One log file handler however often main() runs in a process (tests, scripts calling main)."""
    import logging
    import logging.handlers

    folder = data_dir() / "logs"
    path = folder / "town-returns.log"
    root = logging.getLogger()
    if _LOG_HANDLER and getattr(_LOG_HANDLER[0], "baseFilename", None) == str(path):
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=1_000_000, backupCount=5, encoding="utf-8", errors="backslashreplace"
        )
    except OSError:
        handler = logging.NullHandler()  # a read-only profile must not stop the app
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for old in _LOG_HANDLER:
        root.removeHandler(old)
        old.close()
    _LOG_HANDLER[:] = [handler]
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--db", type=Path, default=default, help="数据库文件（默认在用户数据目录，或环境变量 TOWN_RETURNS_DB）"
    )
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS if suppress else False, help="输出 JSON"
    )


CLOCK_CONFIRM_HINT = "如果现在的时间是对的、是以前保存时电脑时间超前了：python main.py clock --confirm"


def build_parser() -> argparse.ArgumentParser:
    parser = ChineseArgumentParser(prog="main.py", description="镇街人社指标填报系统")
    _common(parser, suppress=False)
    parser.add_argument("--version", action="version", version=f"town-returns {__version__}")
    parser.add_argument("--demo", action="store_true", help="用演示数据库打开软件")
    sub = parser.add_subparsers(dest="command", metavar="子命令", parser_class=ChineseArgumentParser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _common(p, suppress=True)
        return p

    p = command("init", "把数据库绑定到一个镇街，或设为市局汇总用")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--town", help="镇街名称，如 莞城")
    target.add_argument("--city", action="store_true", help="市局汇总用（须同时给 --trust）")
    p.add_argument("--trust", type=Path, help="市局汇总用：受信任的根证书 city_root.pem")

    p = command("profile", "查看或修改单位信息（填报单位、负责人、填表人、电话）")
    for name, label in PROFILE_LABELS.items():
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, help=label)

    p = command("enter", "录入一个季度的数值和说明")
    p.add_argument("--quarter", required=True, help="季度，如 2024Q3 或 2024年第3季度")
    p.add_argument("figures", nargs="*", metavar="代码=数值", help="如 card_holders=170000；数值留空表示清除")
    p.add_argument("--explain", action="append", default=[], metavar="代码=说明", help="对某项警告的说明，可重复")

    p = command("base", "录入季末数指标（社会保障卡持卡人数）的基期数：规划期初的数，每个规划录入一次")
    p.add_argument("figures", nargs="*", metavar="代码=数值", help="如 card_holders=150000；不给则列出已有基期数")

    p = command("check", "检查一个季度的数值")
    p.add_argument("--quarter", required=True)

    p = command("progress", "查看目标完成进度")
    p.add_argument("--quarter", help="季度（默认：最近一个已结束的季度）")

    p = command("annual", "查看一年的比率（年度目标）和各项流量的本年累计")
    p.add_argument("--year", required=True, type=int, help="年份，如 2024")

    p = command("history", "查看修改记录（审计记录）")
    p.add_argument("--quarter")
    p.add_argument("--indicator", help="指标代码")

    p = command("targets", "规划目标：列出已导入的规划（导入规划请用 plan import）")
    tsub = p.add_subparsers(dest="targets_command", metavar="操作", required=True, parser_class=ChineseArgumentParser)
    # kept so that old scripts get a clear answer (exit 2) instead of a usage error
    imp = tsub.add_parser("import", help="已停用：规划只能以市局签名的规划文件导入（plan import FILE.plan）")
    _common(imp, suppress=True)
    imp.add_argument("file", type=Path)
    imp.add_argument("--name", help=argparse.SUPPRESS)
    imp.add_argument("--first", help=argparse.SUPPRESS)
    imp.add_argument("--last", help=argparse.SUPPRESS)
    lst = tsub.add_parser("list", help="列出已导入的规划（与 plan list 相同的规划，每行一个）")
    _common(lst, suppress=True)

    p = command("plan", "规划（指标清单和分解目标）：市局编制并签名下发，镇街导入")
    psub = p.add_subparsers(dest="plan_command", metavar="操作", required=True, parser_class=ChineseArgumentParser)
    tpl = psub.add_parser("template", help="市局：写出空白的规划工作簿（33 个镇街、填写说明）")
    _common(tpl, suppress=True)
    tpl.add_argument("--out", type=Path, required=True, help="输出的工作簿，如 模板.xlsx")
    tpl.add_argument("--overwrite", action="store_true", help="覆盖同名文件")
    build = psub.add_parser("build", help="市局：检查填好的规划工作簿，用根证书签名，生成 .plan 文件")
    _common(build, suppress=True)
    build.add_argument("file", type=Path, metavar="工作簿")
    build.add_argument("--root", type=Path, required=True, help="city_root.p12")
    build.add_argument("--root-passphrase-file", type=Path, required=True)
    build.add_argument("--out", type=Path, required=True, help="输出的规划文件，如 2026-2030.plan")
    build.add_argument("--overwrite", action="store_true", help="覆盖同名文件")
    pimp = psub.add_parser("import", help="导入市局签名下发的规划文件（.plan）")
    _common(pimp, suppress=True)
    pimp.add_argument("file", type=Path, metavar="规划文件")
    plst = psub.add_parser("list", help="列出本数据库的规划及其规划期")
    _common(plst, suppress=True)

    p = command("export", "导出季报：Excel、PDF 和一页摘要")
    p.add_argument("--quarter", required=True)
    p.add_argument("--out", required=True, type=Path, help="输出文件夹")
    p.add_argument("--passphrase-file", type=Path, help="签名证书口令文件（第一行为口令）")
    p.add_argument("--pin-file", type=Path, help="签名密钥在 U 盾里时：U 盾 PIN 码文件（第一行为 PIN 码）")
    p.add_argument("--unsigned", action="store_true", help="不签名，文件标注“未签名 草稿”")
    p.add_argument("--overwrite", action="store_true", help="覆盖同名文件")

    p = command("identity", "本镇街的签名证书")
    isub = p.add_subparsers(dest="identity_command", metavar="操作", required=True, parser_class=ChineseArgumentParser)
    imp = isub.add_parser("import", help="导入市局签发的签名证书：.p12 文件，或为 U 盾上的密钥签发的证书（--cert）")
    _common(imp, suppress=True)
    imp.add_argument("file", type=Path, nargs="?", help="市局签发的 .p12（密钥在 U 盾里时不给，改用 --cert）")
    imp.add_argument("--passphrase-file", type=Path, help=".p12 的口令文件")
    imp.add_argument("--cert", type=Path, help="市局为 U 盾上的密钥签发的证书，如 莞城.cert.pem")
    imp.add_argument("--pkcs11-module", type=Path, help="U 盾的驱动文件（PKCS#11 模块，.dll / .so）")
    imp.add_argument("--token-label", help="U 盾的标签")
    imp.add_argument("--root", type=Path, help="市局根证书 city_root.pem（第一次导入时须给）")
    show = isub.add_parser("show", help="查看已导入的签名证书（哪一种、到期日；到期前 30 天起提示续期）")
    _common(show, suppress=True)
    req = isub.add_parser("request", help="在 U 盾上生成签名密钥（不可导出）并写出证书申请（PKCS#10），交市局签发")
    _common(req, suppress=True)
    req.add_argument("--town", help="镇街名称（须是本数据库的镇街）")
    req.add_argument("--pkcs11-module", type=Path, help="U 盾的驱动文件（PKCS#11 模块）；续期时默认用已记录的")
    req.add_argument("--token-label", help="U 盾的标签；续期时默认用已记录的")
    req.add_argument("--pin-file", type=Path, help="U 盾 PIN 码文件（第一行为 PIN 码）")
    req.add_argument("--out", type=Path, required=True, help="写出的证书申请，如 莞城.csr")
    req.add_argument("--renew", action="store_true", help="续期：在现用的 U 盾上生成新密钥，为它写出申请")

    p = command("city", "市局：根证书和镇街签名证书")
    csub = p.add_subparsers(dest="city_command", metavar="操作", required=True, parser_class=ChineseArgumentParser)
    init = csub.add_parser("init", help="生成市局根证书（只做一次）")
    _common(init, suppress=True)
    init.add_argument("--out", type=Path, required=True)
    init.add_argument("--passphrase-file", type=Path, required=True)
    issue = csub.add_parser("issue", help="为镇街签发签名证书")
    _common(issue, suppress=True)
    issue.add_argument("--root", type=Path, required=True, help="city_root.p12")
    issue.add_argument("--root-passphrase-file", type=Path, required=True)
    issue.add_argument("--town", help="镇街名称（签发 .p12 时）")
    issue.add_argument("--csr", type=Path, help="镇街在 U 盾上生成的证书申请（.csr）：为其中的密钥签发证书，写出 .pem")
    issue.add_argument("--out", type=Path, required=True)
    issue.add_argument("--passphrase-file", type=Path, help="新 .p12 的口令文件（签发 .p12 时）")
    issue.add_argument("--days", type=int, default=3 * 365, help="有效天数（默认 3 年）")
    issue.add_argument(
        "--register",
        type=Path,
        help="签发记录文件夹（--csr 时；默认是根证书旁的 issued，city init 时建立；根证书被复制到别处时须指定原来的）",
    )
    revoke = csub.add_parser("revoke", help="吊销镇街签名证书：写出由根证书签名的吊销列表（CRL）")
    _common(revoke, suppress=True)
    revoke.add_argument("--root", type=Path, required=True, help="city_root.p12")
    revoke.add_argument("--root-passphrase-file", type=Path, required=True)
    revoke.add_argument("--cert", type=Path, required=True, help="要吊销的镇街证书，如 莞城.pem（签发时与 .p12 一同写出）")
    revoke.add_argument("--crl", type=Path, help="已有的吊销列表（其中的条目保留）")
    revoke.add_argument("--out", type=Path, required=True, help="写出的吊销列表，如 revoked.crl")

    demo = csub.add_parser("demo", help="生成演示数据：根证书、33 个镇街证书和整个规划期的签名季报")
    _common(demo, suppress=True)
    demo.add_argument("--out", type=Path, required=True)
    demo.add_argument("--with-pdf", action="store_true", help="同时生成签名 PDF（较慢）")

    add_round_trip_commands(csub, command)

    p = command("consolidate", "市局：核验一个文件夹中的季报并汇总一个季度")
    p.add_argument("--trust", type=Path, required=True, help="受信任的市局根证书 city_root.pem")
    p.add_argument("--crl", type=Path, action="append", default=[], help="市局吊销列表（city revoke 写出的 .crl），可重复")
    p.add_argument("--quarter", required=True)
    p.add_argument("folder", type=Path, metavar="文件夹")
    p.add_argument("--plan", type=Path, action="append", default=[], help=PLAN_OPTION_HELP)
    p.add_argument("--out", type=Path, help="汇总表输出文件夹")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--strict-crl", action="store_true", help=STRICT_CRL_HELP)

    p = command("verify", "核验季报文件的签名")
    p.add_argument("--trust", type=Path, required=True, help="受信任的市局根证书 city_root.pem")
    p.add_argument("--crl", type=Path, action="append", default=[], help="市局吊销列表（city revoke 写出的 .crl），可重复")
    p.add_argument("--plan", type=Path, action="append", default=[], help=PLAN_OPTION_HELP)
    p.add_argument("--strict-crl", action="store_true", help=STRICT_CRL_HELP)
    p.add_argument("files", nargs="+", type=Path, metavar="文件")

    p = command("reopen", "退回修改：解除已上报季度的锁定（须写明原因）")
    p.add_argument("--quarter", required=True)
    p.add_argument("--reason", required=True, help="退回修改的原因")

    p = command("backup", "备份数据库")
    p.add_argument("--out", type=Path, required=True, help="备份文件")

    p = command("restore", "从备份恢复数据库（当前数据库会先另存为备份）")
    p.add_argument("file", type=Path, metavar="备份文件")

    p = command("status", "各季度的上报状态：草稿 / 已上报（第 n 版）/ 已退回修改")

    p = command("clock", "查看本机时间与数据库最近记录的时间；--confirm 确认本机时间正确（以前保存时时间有误）")
    p.add_argument("--confirm", action="store_true", help="确认本机时间正确：此前时钟超前时记下的时间不再妨碍签名导出")

    p = command("audit", "审计记录")
    asub = p.add_subparsers(dest="audit_command", metavar="操作", required=True, parser_class=ChineseArgumentParser)
    ver = asub.add_parser("verify", help="校验审计记录的哈希链")
    _common(ver, suppress=True)
    return parser


class _InOrder(argparse.Action):
    """--reason and --indicator into one list in the order given (city send-back pairs them)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string: str | None = None) -> None:
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), (self.const, values)])


def add_round_trip_commands(csub: Any, command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """The city round trip (issue 27): city receipts / send-back / register / missing, and receipt import."""

    def city_command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = csub.add_parser(name, help=help_text, description=help_text)
        _common(p, suppress=True)
        return p

    def verifying(p: argparse.ArgumentParser) -> None:
        p.add_argument("--root", type=Path, required=True, help="city_root.p12（签发用）")
        p.add_argument("--root-passphrase-file", type=Path, required=True)
        p.add_argument("--trust", type=Path, help="受信任的市局根证书 city_root.pem（默认：市局数据库中的根证书）")
        p.add_argument("--crl", type=Path, action="append", default=[], help="市局吊销列表，可重复")
        p.add_argument("--plan", type=Path, action="append", default=[], help=PLAN_OPTION_HELP)
        p.add_argument("--strict-crl", action="store_true", help=STRICT_CRL_HELP)

    p = city_command("receipts", "市局：按 consolidate 的核验结果，为每个镇街被计入的季报签发回执（.receipt）")
    p.add_argument("--quarter", required=True)
    p.add_argument("--folder", type=Path, required=True, help="季报文件夹")
    p.add_argument("--out", type=Path, required=True, help="回执输出文件夹")
    verifying(p)
    p = city_command("send-back", "市局：签发退回通知（.notice），写明整份季报和各项指标的退回原因")
    p.add_argument("--return", dest="return_file", type=Path, required=True, help="被退回的季报文件（.xlsx 或 .pdf）")
    p.add_argument("--reason", dest="reasons", action=_InOrder, const="reason", default=[], metavar="原因", help="退回原因；写在 --indicator 之后时为该指标的原因")
    p.add_argument("--indicator", dest="reasons", action=_InOrder, const="indicator", metavar="代码", help="指标代码，后面跟 --reason 原因，可重复")
    p.add_argument("--out", type=Path, required=True, help="退回通知文件，如 退回通知.notice")
    p.add_argument("--withdraw-receipt", action="store_true", help="这一版已签发过回执时，撤回该回执并退回（须明确给出）")
    verifying(p)
    p = city_command("register", "市局：登记簿——某季度收到、接收、拒收、退回的季报及签发的回执和退回通知")
    p.add_argument("--quarter", required=True)
    p = city_command("missing", "市局：催报——没有被接收季报的镇街，以及已退回尚未重报的镇街")
    p.add_argument("--quarter", required=True)
    p.add_argument("--folder", type=Path, required=True, help="季报文件夹")
    p.add_argument("--out", type=Path, help="写出催报清单，如 催报清单.xlsx")
    p.add_argument("--overwrite", action="store_true")

    p = command("receipt", "镇街：导入市局的回执（.receipt）和退回通知（.notice）")
    rsub = p.add_subparsers(dest="receipt_command", metavar="操作", required=True, parser_class=ChineseArgumentParser)
    imp = rsub.add_parser("import", help="导入市局的回执或退回通知（可一次多个）")
    _common(imp, suppress=True)
    imp.add_argument("files", nargs="+", type=Path, metavar="文件")


def main(argv: Sequence[str] | None = None) -> int:
    any_console()
    quiet_warnings()
    parser = build_parser()
    args = parser.parse_args(argv)  # --help and --version answer here, before logging is set up
    setup_logging()
    if args.command is None:
        from gui.app import run_app  # Qt is only loaded when a window is wanted

        return run_app(args.db, demo=args.demo)
    handler = COMMANDS[args.command]
    try:
        return handler(args)
    except DomainError as exc:
        from actions.database import damaged_hint, is_busy, is_damaged

        _fail(exc.message + (damaged_hint(args.db) if is_damaged(exc) else ""))
        if "早于上次保存的时间" in exc.message:
            print(CLOCK_CONFIRM_HINT, file=sys.stderr)
        if is_busy(exc):
            return EXIT_BUSY
    except KeyboardInterrupt:
        _fail("已中断（Ctrl+C），操作未完成；此前已保存的数据不受影响")
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: the reader stopped, nothing to say
        _quiet_stdout()
        return EXIT_OK
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        what = "是文件夹，不是文件" if isinstance(exc, IsADirectoryError) else "不存在"
        _fail(f"{exc.filename or ''} {what}".strip())
    except OSError as exc:
        from actions.database import file_error_message

        _fail(file_error_message(exc, args.db))
    except Exception:  # a bug: say so plainly, keep the details in the log
        import logging

        logging.getLogger(__name__).exception("unexpected error in %s", args.command)
        _fail("程序内部错误，操作未完成；详情已写入日志文件（用户数据目录下的 logs）")
        return 3
    return EXIT_REFUSED


def _quiet_stdout() -> None:
    """Point stdout at the null device so the interpreter's final flush does not fail again."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor: nothing to flush
        pass


def _fail(message: str) -> None:
    print(f"错误：{message}", file=sys.stderr)


def _warn(message: str) -> None:
    print(f"警告：{message}", file=sys.stderr)


def any_console() -> None:
    """Print on any console: a character its encoding lacks (Chinese on a cp1252 console, a lone
    surrogate from a file name) is written as an escape such as \\u9519 instead of failing the
    command after its work is done (a committed save must not end in exit 3)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a detached or closed stream: nothing will be printed on it
                pass


def quiet_warnings() -> None:
    """A library's warning (cryptography's CryptographyDeprecationWarning on every signature) is for
    developers: it goes to the log file, never to the clerk's console or window."""
    import logging

    logging.captureWarnings(True)
    # Verification workers are new interpreters (forkserver, spawn) that import pyHanko before any code
    # of ours runs; multiprocessing hands them sys.warnoptions as -W options.
    if "ignore" not in sys.warnoptions:
        sys.warnoptions.append("ignore")


@contextmanager
def _store(args: argparse.Namespace, writes: str | None = None, audit: bool = True) -> Iterator[Any]:
    """The database; a command that writes holds the database's lock (the window's too) while it runs.
    What opening it found (the window's start-up duties: an audit chain that does not check out, a log
    set aside, a clock behind what was recorded) is told first, on stderr."""
    from actions.database import open_store, start_up

    with open_store(args.db, writes) as store:
        for notice in start_up(store, writing=writes is not None, audit=audit).notices():
            print(f"注意：{notice}", file=sys.stderr)
            if "早于上次保存的时间" in notice:
                print(CLOCK_CONFIRM_HINT, file=sys.stderr)
        yield store


def _print_json(value: Any) -> None:
    import json

    print(json.dumps(value, ensure_ascii=False, indent=2))


def _number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _passphrase(path: Path | None, prompt: str) -> bytes:
    from actions.identity import passphrase_from

    def ask() -> str:
        import getpass

        return getpass.getpass(prompt)

    interactive = path is None and sys.stdin is not None and sys.stdin.isatty()
    return passphrase_from(path, ask if interactive else None)


def _pin(path: Path | None) -> bytes:
    from actions.identity import passphrase_from

    if path is not None:
        return passphrase_from(path, what="PIN 码文件")
    if not (sys.stdin is not None and sys.stdin.isatty()):
        raise UsageError("需要 U 盾的 PIN 码：请用 --pin-file 指定 PIN 码文件（第一行为 PIN 码）")
    return _passphrase(None, "U 盾 PIN 码：")


def _signing_secret(store: Any, args: argparse.Namespace) -> bytes:
    """The PIN of the town's USB key, or the passphrase of its .p12: whichever the kept identity needs."""
    from actions.identity import identity_kind

    if args.pin_file is not None and args.passphrase_file is not None:
        raise UsageError(
            "--pin-file 与 --passphrase-file 不能同时给出：签名密钥在 U 盾里时只给 --pin-file，是 .p12 文件时只给 --passphrase-file"
        )
    if identity_kind(store) == "pkcs11":
        if args.pin_file is None and args.passphrase_file is not None:
            raise UsageError("本镇街的签名密钥在 U 盾里：请用 --pin-file 给出 U 盾的 PIN 码文件（不是 --passphrase-file）")
        return _pin(args.pin_file)
    if args.pin_file is not None and args.passphrase_file is None:
        raise UsageError("本镇街的签名证书是 .p12 文件：请用 --passphrase-file 给出它的口令文件（--pin-file 用于 U 盾）")
    return _passphrase(args.passphrase_file, "签名证书口令：")


def _split_pairs(items: Sequence[str], what: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        code, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"“{item}”应写成 代码=值（{what}）")
        pairs.append((code.strip(), value))
    return pairs


def cmd_init(args: argparse.Namespace) -> int:
    from actions.database import bind_town, use_for_city

    if args.city:
        if args.trust is None:
            raise UsageError("市局汇总用的数据库须用 --trust 指定受信任的根证书 city_root.pem")
        binding = use_for_city(args.db, args.trust)
        if args.json:
            _print_json(binding.as_dict())
        else:
            print(f"数据库 {binding.db} 已设为市局汇总用，受信任的根证书：{args.trust}")
        return EXIT_OK
    binding = bind_town(args.db, args.town)
    if args.json:
        _print_json(binding.as_dict())
    else:
        print(f"数据库 {binding.db} 已绑定：{binding.town}")
    return EXIT_OK


def cmd_profile(args: argparse.Namespace) -> int:
    from actions.database import update_profile

    changes = {name: getattr(args, name) for name in PROFILE_LABELS if getattr(args, name) is not None}
    with _store(args, writes="修改单位信息" if changes else None) as store:
        shown = update_profile(store, changes)
    if args.json:
        _print_json(shown.as_dict())
    else:
        print(f"镇街：{shown.town or '（未绑定）'}")
        for name, label in PROFILE_LABELS.items():
            print(f"{label}：{getattr(shown.profile, name) or '（未填）'}")
    return EXIT_OK


def cmd_base(args: argparse.Namespace) -> int:
    from actions.figures import stock_bases

    figures = _split_pairs(args.figures, "数值")
    with _store(args, writes="录入基期数" if args.figures else None) as store:
        result = stock_bases(store, figures)
    if args.json:
        _print_json(result.as_dict())
        return EXIT_OK
    catalogue = result.plan.catalogue
    for code in catalogue.stock_codes:
        base = result.bases.get(code)
        shown = f"{base:,} {catalogue.by_code[code].unit}" if base is not None else "未录入"
        saved = "（已保存）" if code in result.changed else ""
        print(f"{result.plan.name}　{catalogue.display_name(code)}基期数：{shown}" + saved)
    if not catalogue.stock_codes:
        print(f"{result.plan.name}没有季末数指标，不需录入基期数")
    return EXIT_OK


def cmd_enter(args: argparse.Namespace) -> int:
    from actions.figures import enter_figures

    figures = _split_pairs(args.figures, "数值")
    explanations = _split_pairs(args.explain, "说明")
    with _store(args, writes="录入数值") as store:
        result = enter_figures(store, args.quarter, figures, explanations)
    if not result.saved:
        print(f"{result.quarter.label}未保存，存在以下错误：", file=sys.stderr)
        for finding in result.blocking:
            print(f"  {finding.message}", file=sys.stderr)
        if args.json:
            _print_json(result.as_dict())
        return EXIT_REFUSED
    if args.json:
        _print_json(result.as_dict())
    else:
        print(f"{result.town} {result.quarter.label}：已保存 {len(result.changes)} 项修改")
        _print_findings(result.findings, skip_notices=True)
    return EXIT_OK


def _print_findings(findings: list[Finding], skip_notices: bool = False) -> None:
    from core.validation import LEVEL_NAMES

    for finding in findings:
        if skip_notices and finding.level == "notice":
            continue
        print(f"[{LEVEL_NAMES[finding.level]}] {finding.message}")


def cmd_check(args: argparse.Namespace) -> int:
    from actions.figures import check

    with _store(args) as store:
        result = check(store, args.quarter)
    if args.json:
        _print_json(result.as_list())
    else:
        print(f"{result.town} {result.quarter.label} 检查结果：")
        if not result.findings:
            print("未发现问题")
        _print_findings(result.findings)
    return EXIT_FINDINGS if result.has_errors else EXIT_OK


def cmd_progress(args: argparse.Namespace) -> int:
    from actions.figures import progress as compute
    from core.indicators import Kind
    from core.plans import plan_period_label
    from core.progress import base_notice, percent, rate_text, target_words

    with _store(args) as store:
        progress = compute(store, args.quarter)
    if args.json:
        _print_json(progress.as_dict())
        return EXIT_OK
    print(f"{progress.town} {progress.quarter.label} 目标完成进度")
    if progress.plan is None:
        print("本季度不在任何已导入的规划期内，没有目标。")
    else:
        print(
            f"规划：{progress.plan.name}（{plan_period_label(progress.plan)}）；时间进度 {percent(progress.time_progress)}"
        )
    notices = []
    display_name = progress.catalogue.display_name
    for indicator in progress.catalogue.indicators:
        item = progress.indicators[indicator.code]
        if indicator.kind is Kind.STOCK:
            line = f"  {display_name(indicator.code)}：{_number(item.quarter_value)}"
            if item.target is not None:
                base = "未录入" if item.base is None else _number(item.base)
                pace = "较基期增长完成率" if not item.needs_base else "季末数 ÷ 目标"
                line += (
                    f"，基期数 {base}，目标 {_number(item.target)} {indicator.unit}，"
                    f"{pace} {percent(item.completion)}，{item.status or ('不判断进度' if item.needs_base else '未填报')}"
                )
            if item.needs_base:
                notices.append(base_notice(indicator.code, progress.plan) + f"（命令：python main.py base {indicator.code}=数量）")
            print(line)
            continue
        line = f"  {display_name(indicator.code)}：本季度 {_number(item.quarter_value)}，本年累计 {_number(item.ytd)}"
        if item.target is not None:
            line += (
                f"，规划累计 {_number(item.cumulative)} / 目标 {_number(item.target)} {indicator.unit}，"
                f"完成率 {percent(item.completion)}，{item.status or '未填报'}"
            )
        print(line)
    for rate in progress.catalogue.rates:
        ytd, qtr = progress.rates_ytd[rate.code], progress.rates_quarter[rate.code]
        verdict = "" if ytd.met is None else ("，达标" if ytd.met else "，未达标")
        print(
            f"  {rate.name}：本季度 {rate_text(qtr)}，本年累计 {rate_text(ytd)}（目标 {target_words(ytd.target)}{verdict}）"
        )
    for notice in notices:
        print(f"提示：{notice}")
    return EXIT_OK


def cmd_annual(args: argparse.Namespace) -> int:
    from actions.figures import annual
    from core.progress import rate_text, target_words

    with _store(args) as store:
        result = annual(store, args.year)
    if args.json:
        _print_json(result.as_dict())
        return EXIT_OK
    print(f"{result.town} {args.year}年 年度情况：{result.scope}")
    catalogue = result.catalogue
    for rate in catalogue.rates:
        r = result.rates[rate.code]
        counts = "" if r.denominator is None else f"（{r.numerator:,}/{r.denominator:,}）"
        verdict = "" if r.met is None else ("，达标" if r.met else "，未达标")
        print(f"  {rate.name}：{rate_text(r)}{counts}，年度目标 {target_words(r.target)}{verdict}")
    for code, total in result.totals.items():
        flow = catalogue.case_flow(code)
        unit = catalogue.by_code[flow.due if flow else code].unit
        print(f"  {catalogue.display_name(code)}本年累计：{_number(total)} {unit}")
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from actions.figures import history

    with _store(args) as store:
        rows = history(store, args.quarter, args.indicator)
    if args.json:
        _print_json([r.as_dict() for r in rows])
        return EXIT_OK
    if not rows:
        print("没有修改记录")
    for row in rows:
        who = row.os_user + (f"（{row.clerk}）" if row.clerk else "")
        where = " ".join(x for x in (row.quarter or "", row.subject) if x)
        print(
            f"{row.id:>5}  {row.at}  {who}  {row.action_name}  {where}  {row.old_value or '（空）'} → {row.new_value or '（空）'}"
        )
    return EXIT_OK


def cmd_targets(args: argparse.Namespace) -> int:
    from actions.plans import TARGETS_IMPORT_REMOVED, list_plans

    if args.targets_command == "import":  # the unsigned CSV door is closed: nothing is read, nothing imported
        _fail(TARGETS_IMPORT_REMOVED)
        if args.json:
            _print_json({"imported": False, "reason": TARGETS_IMPORT_REMOVED})
        return EXIT_REFUSED
    with _store(args) as store:
        plans = list_plans(store)
    if args.json:
        _print_json([p.as_dict() for p in plans])
    else:
        for entry in plans:
            print(entry.description)
    return EXIT_OK


MAX_PRINTED_PROBLEMS = 60


def cmd_plan(args: argparse.Namespace) -> int:
    from actions import plan_packages as plans

    if args.plan_command == "template":
        out = plans.plan_template(args.out, overwrite=args.overwrite)
        if args.json:
            _print_json({"file": str(out)})
        else:
            print(f"已写出规划工作簿模板：{out}")
            print("填写说明见工作簿中的“说明”工作表；填好后用 plan build 检查并签名")
        return EXIT_OK
    if args.plan_command == "build":
        from actions.plan_packages import PlanWorkbookError

        try:
            built = plans.plan_build(
                args.file,
                args.root,
                _passphrase(args.root_passphrase_file, "根证书口令："),
                args.out,
                overwrite=args.overwrite,
            )
        except PlanWorkbookError as exc:
            print(f"{args.file.name} 有 {len(exc.problems)} 处错误，未生成规划文件：", file=sys.stderr)
            for problem in exc.problems[:MAX_PRINTED_PROBLEMS]:
                print(f"  {problem}", file=sys.stderr)
            if len(exc.problems) > MAX_PRINTED_PROBLEMS:
                print(f"  ……另有 {len(exc.problems) - MAX_PRINTED_PROBLEMS} 处", file=sys.stderr)
            if args.json:
                _print_json({"built": False, "problems": exc.problems})
            return EXIT_REFUSED
        if args.json:
            _print_json({"built": True, "file": str(built.out), "plan": built.summary.as_dict()})
        else:
            print(f"已签名生成规划文件：{built.out}")
            print("\n".join(built.summary.lines()))
        return EXIT_OK
    if args.plan_command == "import":
        from actions.database import database_path

        db = database_path(args.db)
        if not db.is_file():  # a refused import leaves nothing behind: no database, .identity or .lock
            reason = f"找不到数据库 {db}：请先用 init --town 镇街名 建立数据库并导入签名证书（identity import）"
            _fail(f"{args.file.name} 未导入：{reason}")
            if args.json:
                _print_json({"imported": False, "reason": reason})
            return EXIT_REFUSED
        with _store(args, writes="导入规划") as store:
            try:
                result = plans.plan_import(store, args.file)
            except DomainError as exc:  # untrusted, altered, malformed or overlapping: nothing imported
                _fail(f"{args.file.name} 未导入：{exc.message.removesuffix('，未导入')}")
                if args.json:
                    _print_json({"imported": False, "reason": exc.message})
                return EXIT_REFUSED
        if args.json:
            _print_json({"imported": result.imported, "plan": result.summary.as_dict()})
        else:
            print(("已导入规划：" if result.imported else "此规划已导入过，未作改动：") + args.file.name)
            print("\n".join(result.lines()))
        return EXIT_OK
    with _store(args) as store:
        summaries = plans.plan_list(store)
    if args.json:
        _print_json([s.as_dict() for s in summaries])
    else:
        for summary in summaries:
            print("\n".join(summary.lines()))
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from actions.database import verify_audit

    with _store(args, audit=False) as store:  # its own finding is the answer, not a notice before it
        result = verify_audit(store)
    if args.json:
        _print_json(result.as_dict())
    else:
        print(result.check.message)
    return EXIT_OK if result.ok else EXIT_FINDINGS


def cmd_export(args: argparse.Namespace) -> int:
    from actions.returns import ExportRefused, NeedsReopening, NoPlanForQuarter, SignOffMissing, export_quarter
    from core.profile import SIGN_OFF_FIELDS

    def passphrase() -> bytes:
        return _signing_secret(store, args)

    with _store(args, writes="导出上报") as store:
        if not args.unsigned:
            from actions.returns import signing_notice
            from core.quarters import Quarter

            print(signing_notice(Quarter.parse(args.quarter)), file=sys.stderr)
        try:
            result = export_quarter(
                store, args.quarter, args.out, None if args.unsigned else passphrase, overwrite=args.overwrite
            )
        except ExportRefused as exc:
            print(f"{exc.quarter.label}未导出，原因：", file=sys.stderr)
            for reason in exc.reasons:
                print(f"  {reason}", file=sys.stderr)
            if isinstance(exc, SignOffMissing):
                flags = " ".join(f"--{name.replace('_', '-')} 姓名" for name in SIGN_OFF_FIELDS)
                print(f"  请先用 profile {flags} 填写", file=sys.stderr)
            if isinstance(exc, NoPlanForQuarter):
                print("  导入规划：plan import 规划文件.plan；只要草稿请加 --unsigned", file=sys.stderr)
            if isinstance(exc, NeedsReopening):
                hint = f"  退回修改：reopen --quarter {exc.quarter.code} --reason 原因；只要草稿请加 --unsigned"
                print(hint, file=sys.stderr)
            if args.json:
                _print_json(exc.as_dict())
            return EXIT_REFUSED
    if args.json:
        _print_json(result.as_dict())
    else:
        for path in result.paths:
            print(path)
    return EXIT_OK


def cmd_identity(args: argparse.Namespace) -> int:
    from actions.identity import import_identity, import_token_identity, request_certificate, show_identity

    if args.identity_command == "show":
        with _store(args) as store:
            shown = show_identity(store)
        if args.json:
            _print_json(shown.as_dict())
        else:
            print(shown.description or "尚未导入签名证书")
            if shown.kind_text:
                print(f"类型：{shown.kind_text}")
            if shown.root_sha256:
                print(f"市局根证书 SHA-256 指纹：{shown.root_sha256}")
            if shown.warning:
                _warn(shown.warning)
        return EXIT_OK
    if args.identity_command == "request":
        with _store(args) as store:
            requested = request_certificate(
                store, args.town, args.pkcs11_module, args.token_label, lambda: _pin(args.pin_file), args.out, args.renew
            )
        if args.json:
            _print_json(requested.as_dict())
        else:
            made = "新生成的" if requested.new_key else "U 盾上已有的"
            print(f"已写出{requested.town}的证书申请：{requested.file}（密钥是{made}，编号 {requested.key_id}，不可导出）")
            print("请把申请交市局签发（city issue --csr），再用 identity import --cert 导入签发的证书")
        return EXIT_OK
    if args.cert is not None:
        if args.file is not None or args.passphrase_file is not None:
            raise UsageError("--cert（U 盾上的密钥）与 .p12 文件、--passphrase-file 不能同时给出")
        if args.pkcs11_module is None or args.token_label is None:
            raise UsageError("导入 U 盾的证书须同时给出 --pkcs11-module（U 盾的驱动文件）和 --token-label（U 盾的标签）")
        with _store(args, writes="导入签名证书") as store:
            imported = import_token_identity(store, args.cert, args.pkcs11_module, args.token_label, args.root)
        if args.json:
            _print_json(imported.as_dict())
        else:
            print(f"已导入签名证书：{imported.description}")
            print(f"市局根证书 SHA-256 指纹：{imported.root_fingerprint}（请与市局公布的指纹核对）")
            print("导出时用 --pin-file 给出 U 盾的 PIN 码；PIN 码不会被记录")
        return EXIT_OK
    if args.file is None or args.passphrase_file is None:
        raise UsageError("请给出市局签发的 .p12 文件和 --passphrase-file；密钥在 U 盾里时用 --cert、--pkcs11-module、--token-label")
    with _store(args, writes="导入签名证书") as store:
        imported = import_identity(store, args.file, lambda: _passphrase(args.passphrase_file, "证书口令："))
    if args.json:
        _print_json(imported.as_dict())
    else:
        print(f"已导入签名证书：{imported.description}")
        print(f"市局根证书 SHA-256 指纹：{imported.root_fingerprint}（请与市局公布的指纹核对）")
    return EXIT_OK


def cmd_city(args: argparse.Namespace) -> int:
    from actions import city

    if args.city_command in ("receipts", "send-back", "register", "missing"):
        return cmd_round_trip(args)
    if args.city_command == "demo":
        demo = city.demo_set(args.out, with_pdf=args.with_pdf)
        if args.json:
            _print_json(demo.as_dict())
        else:
            print(f"已生成 {demo.files} 个签名季报文件：{demo.returns}")
            print(f"受信任的根证书：{demo.root}")
            if demo.sample_plan is None:
                print(f'试试：python main.py consolidate --trust "{demo.root}" --quarter 2025Q4 "{demo.returns}" --out 汇总')
            else:
                print(f"示例规划（非正式目标，2026 年的季报按它填报）：{demo.sample_plan}")
                print(
                    f'试试：python main.py consolidate --trust "{demo.root}" --plan "{demo.sample_plan}" '
                    f'--quarter 2025Q4 "{demo.returns}" --out 汇总'
                )
        return EXIT_OK
    if args.city_command == "revoke":
        revoked = city.revoke_identity(
            args.root, _passphrase(args.root_passphrase_file, "根证书口令："), args.cert, args.out, args.crl
        )
        if args.json:
            _print_json(revoked.as_dict())
        else:
            print(f"已吊销{revoked.town}的签名证书（序列号 {revoked.serial:x}）：{revoked.crl}")
            print("核验和汇总时用 --crl 指定此文件；吊销时间之后的签名一律无效")
        return EXIT_OK
    if args.city_command == "init":
        root = city.create_root(args.out, _passphrase(args.passphrase_file, "根证书口令："))
        if args.json:
            _print_json(root.as_dict())
        else:
            print(f"已生成市局根证书：{root.certificate}（分发给镇街和核验人员）")
            print(f"根证书私钥：{root.key}（请离线妥善保管）")
        return EXIT_OK
    if args.csr is not None:
        if args.town is not None or args.passphrase_file is not None:
            raise UsageError("--csr 签发的是申请中那把密钥的证书：镇街取自申请，不要再给 --town、--passphrase-file")
        certified = city.issue_for_request(
            args.root,
            _passphrase(args.root_passphrase_file, "根证书口令："),
            args.csr,
            args.out,
            days=args.days,
            register=args.register,
        )
        if args.json:
            _print_json(certified.as_dict())
        else:
            print(f"已为{certified.town}签发证书：{certified.file}（有效期至 {certified.not_after}）")
            print(f"证书 SHA-256 指纹：{certified.sha256}")
            print(f"签发记录（一把密钥只为一个镇街签发、吊销的密钥不再签发，据此核对）：{certified.register}")
        return EXIT_OK
    if args.register is not None:
        raise UsageError("--register 只用于为 U 盾签发（--csr）；签发 .p12 时记入根证书旁的 issued")
    if args.town is None or args.passphrase_file is None:
        raise UsageError("签发 .p12 须给出 --town 和 --passphrase-file；为 U 盾上的密钥签发请用 --csr")
    issued = city.issue_identity(
        args.root,
        _passphrase(args.root_passphrase_file, "根证书口令："),
        args.town,
        args.out,
        _passphrase(args.passphrase_file, "镇街证书口令："),
        days=args.days,
    )
    if args.json:
        _print_json(issued.as_dict())
    else:
        print(f"已为{issued.town}签发签名证书：{issued.file}")
        print(f"证书（供市局存档、吊销时使用）：{issued.certificate}")
    return EXIT_OK


def cmd_round_trip(args: argparse.Namespace) -> int:
    from actions import receipts
    from actions.city import printable

    if args.city_command == "receipts":
        result = receipts.city_receipts(
            args.quarter, args.folder, args.root, _passphrase(args.root_passphrase_file, "根证书口令："), args.out,
            args.trust, args.crl, args.plan, args.db, args.strict_crl, _warn,
        )  # fmt: skip
        if args.json:
            _print_json(result.as_dict())
            return EXIT_OK
        print(f"{result.quarter.label}：签发回执 {len(result.receipts)} 份，拒收 {len(result.refused)} 个文件")
        for receipt in result.receipts:
            kept = "" if receipt.new else "（此前已签发，未重写）"
            print(f"  {receipt.town} 第 {receipt.revision} 版：{printable(str(receipt.file))}{kept}")
        for refused in result.refused:
            print(f"  拒收 {printable(refused.file)}：{refused.reason}")
        return EXIT_OK
    if args.city_command == "send-back":
        whole, pairs = receipts.pair_reasons(args.reasons)
        sent = receipts.send_back(
            args.return_file, whole, pairs, args.root, _passphrase(args.root_passphrase_file, "根证书口令："), args.out,
            args.trust, args.crl, args.plan, args.db, args.strict_crl, _warn, args.withdraw_receipt,
        )  # fmt: skip
        if args.json:
            _print_json(sent.as_dict())
        else:
            print(f"已签发退回通知：{printable(str(sent.file))}（{sent.answer.describe()}）")
        return EXIT_OK
    if args.city_command == "register":
        view = receipts.city_register(args.quarter, args.db)
        if args.json:
            _print_json(view.as_dict())
        else:
            print(f"{view.quarter.label} 登记簿：{len(view.entries)} 条")
            for line in view.lines():
                print(f"  {line}")
        return EXIT_OK
    missing = receipts.city_missing(args.quarter, args.folder, args.db, args.out, args.overwrite)
    if args.json:
        _print_json(missing.as_dict())
        return EXIT_OK
    print(f"{missing.quarter.label} 催报：{len(missing.towns)} 个镇街")
    for town in missing.towns:
        extra = f"（第 {town.revision} 版：{town.reason}）" if town.revision else ""
        print(f"  {town.town}：{town.state}{extra}；{town.unit or '填报单位不详'}，电话 {town.phone or '不详'}")
    if missing.file:
        print(printable(str(missing.file)))
    return EXIT_OK


def cmd_receipt(args: argparse.Namespace) -> int:
    from actions.city import printable
    from actions.database import refuse_a_missing_database
    from actions.receipts import import_answers

    refuse_a_missing_database(args.db)  # a pipe given as the database is refused when it is opened
    with _store(args, writes="导入市局回执") as store:
        results = import_answers(store, args.files)
    if args.json:
        _print_json([r.as_dict() for r in results])
    else:
        for result in results:
            if result.imported:
                print(f"{printable(str(result.file))}：{result.message}")
            else:
                _fail(f"{printable(str(result.file))} 未导入：{result.message.removesuffix('，未导入')}")
    return EXIT_OK if all(r.imported for r in results) else EXIT_REFUSED


def cmd_consolidate(args: argparse.Namespace) -> int:
    from actions.city import consolidate, printable

    result = consolidate(
        args.folder,
        args.quarter,
        args.trust,
        args.crl,
        args.db,
        args.out,
        args.overwrite,
        plan_files=args.plan,
        strict_crl=args.strict_crl,
        warn=_warn,
    )
    if args.json:
        _print_json(result.as_dict())
        return EXIT_OK
    summary, collection = result.summary, result.collection
    print(f"{result.quarter.label} 季报收集情况（{args.folder}）：")
    print(
        f"  有效 {len(summary.reporting)} 个镇街" + (f"：{'、'.join(summary.reporting)}" if summary.reporting else "")
    )
    print(f"  无效 {len(collection.invalid)} 个文件")
    for verdict in collection.invalid:
        print(f"    {printable(verdict.file)}：{verdict.reason}")
    superseded = result.entries(collection.superseded)
    print(f"  被新版本取代 {len(superseded)} 个文件")
    for item in superseded:
        print(f"    {printable(str(item['file']))}（{item['town']} 第 {item['revision']} 版）")
    conflicts = result.entries(collection.conflicts)
    if conflicts:
        print(f"  冲突（同一版本内容不同，未计入）{len(conflicts)} 个文件：")
        for item in conflicts:
            print(f"    {printable(str(item['file']))}（{item['town']} 第 {item['revision']} 版）")
    print(f"  缺报 {len(summary.missing)} 个镇街" + (f"：{'、'.join(summary.missing)}" if summary.missing else ""))
    if collection.skipped:
        print(f"  跳过 {len(collection.skipped)} 个不是签名季报的文件")
        for verdict in collection.skipped:
            print(f"    {printable(verdict.file)}：{verdict.reason}")
    for path in result.files:
        print(path)
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from actions.city import printable, verify_files
    from core.quarters import Quarter

    verdicts = verify_files(args.trust, args.crl, args.files, args.plan, args.db, args.strict_crl, _warn)
    if args.json:
        _print_json([v.as_dict() for v in verdicts])
    else:
        for verdict in verdicts:
            if verdict.valid:
                when = f"，签名于 {verdict.signed_at.astimezone():%Y-%m-%d %H:%M}" if verdict.signed_at else ""
                print(
                    f"{printable(verdict.file)}：有效（{verdict.town} {Quarter.parse(verdict.quarter or '').label} "
                    f"第 {verdict.revision} 版{when}）"
                )
            else:
                print(f"{printable(verdict.file)}：无效——{verdict.reason}")
    return EXIT_OK if all(v.valid for v in verdicts) else EXIT_FINDINGS


def cmd_reopen(args: argparse.Namespace) -> int:
    from actions.figures import reopen

    with _store(args, writes="退回修改") as store:
        result = reopen(store, args.quarter, args.reason)
    if args.json:
        _print_json(result.as_dict())
    else:
        print(result.message)
    return EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    from actions.database import backup

    with _store(args, writes="备份") as store:
        path = backup(store, args.out)
    if args.json:
        _print_json({"backup": str(path)})
    else:
        print(f"已备份到 {path}")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from actions.database import restore

    restored = restore(args.db, args.file)
    if args.json:
        _print_json(restored.as_dict())
    else:
        print(restored.message)
    return EXIT_OK


def cmd_clock(args: argparse.Namespace) -> int:
    from actions.database import clock_state, confirm_clock

    with _store(args, writes="确认电脑时间" if args.confirm else None) as store:
        if args.confirm:
            confirm_clock(store)
        shown = clock_state(store, confirmed=args.confirm)
    if args.json:
        _print_json(shown.as_dict())
    else:
        print(shown.message)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from actions.database import refuse_a_missing_database
    from actions.quarters import statuses
    from actions.receipts import NO_ANSWER, city_states

    if args.db is not None:
        refuse_a_missing_database(args.db)
    with _store(args) as store:
        states = statuses(store)
        city = city_states(store)
    if args.json:
        # a list in quarter order; state is one of 未填报、草稿、已上报、已退回修改、需重新上报;
        # city: the city's answer in effect ({"state": 已接收 / 已退回 / null, "revision", "at", "reasons"})
        _print_json([{**s.as_dict(), "city": city.get(s.quarter, NO_ANSWER).as_dict()} for s in states])
        return EXIT_OK
    for state in states:
        status = state.status
        answer = city.get(state.quarter, NO_ANSWER).label(status.revision)
        print(
            f"{state.quarter.label}：{state.label}"
            + (f"（{status.stale_because}）" if status.stale_because else "")
            + (f"；{answer}" if answer else "")
        )
    return EXIT_OK


COMMANDS = {
    "reopen": cmd_reopen,
    "backup": cmd_backup,
    "restore": cmd_restore,
    "status": cmd_status,
    "clock": cmd_clock,
    "export": cmd_export,
    "identity": cmd_identity,
    "city": cmd_city,
    "verify": cmd_verify,
    "consolidate": cmd_consolidate,
    "init": cmd_init,
    "profile": cmd_profile,
    "enter": cmd_enter,
    "check": cmd_check,
    "progress": cmd_progress,
    "base": cmd_base,
    "annual": cmd_annual,
    "history": cmd_history,
    "targets": cmd_targets,
    "plan": cmd_plan,
    "audit": cmd_audit,
    "receipt": cmd_receipt,
}
