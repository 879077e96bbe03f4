"""Build resources/fonts/stamp.ttf: the small font the PDF signature stamp embeds.

pyHanko embeds the whole font it is given; a subset of the characters a stamp can show keeps
signing fast (STACK.md: 0.5 s with a small font, 2 s with the full face).
Run: python -m tools.make_stamp_font
"""

from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "resources" / "fonts" / "wqy-microhei.ttf"
TARGET = ROOT / "resources" / "fonts" / "stamp.ttf"


def stamp_characters() -> str:
    from core.plans import TOWNS
    from reports.signing import STAMP_LABELS

    ascii_printable = "".join(chr(c) for c in range(32, 127))
    return "".join(TOWNS) + STAMP_LABELS + ascii_printable + "年月日时分秒：（）　"


def main() -> None:
    font = TTFont(SOURCE)
    options = subset.Options()
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=stamp_characters())
    subsetter.subset(font)
    font.save(TARGET)
    print(TARGET, TARGET.stat().st_size)


if __name__ == "__main__":
    main()
