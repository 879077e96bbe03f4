"""Where things sit in the return workbook; shared by the writer and the verifier."""

FORM_SHEET = "季报"
DATA_SHEET = "数据"
DEFINITIONS_SHEET = "指标解释"  # renderer 3: the plan's definitions, the last sheet
HEADER_ROW = 6
FIRST_FIGURE_ROW = 7  # the figures of the return's plan follow in its order (ReturnData.figures)
QUARTER_COLUMN = "C"
