"""The opening record (开标记录) and the award and result letters as PDFs, with their Chinese text in an embedded
TrueType font.

reportlab's built-in CID font (STSong-Light) is never embedded: on a machine without that font the Chinese
renders blank. So the record embeds a subset of a TrueType CJK font, settings.PDF_CJK_FONT (Debian package
fonts-wqy-zenhei by default). A missing font, a font reportlab cannot embed (OpenType/CFF such as Noto CJK) or
a character the font has no glyph for is refused with a DomainError: never a record with blank text.
"""

import functools
import hashlib
import io
import os
from dataclasses import dataclass, field

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from rest_framework import status

from trading.api import DomainError

COLUMNS = ["序号", "投标人", "状态", "投标报价（元）", "工期（日历天）", "质量标准", "备注"]


@dataclass(frozen=True)
class RecordHeading:
    title: str  # e.g. "某县乡村道路硬化工程施工 开标记录"
    lines: list[tuple[str, str]]  # (label, value): project, lot, code, times


def _font_error(code: str, zh: str, en: str) -> DomainError:
    return DomainError(code, zh, en, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)


@functools.cache
def cjk_font(path: str) -> TTFont:
    """The TrueType font at `path`, registered with reportlab once per path (subfont 0 of a .ttc)."""
    if not os.path.isfile(path):
        raise _font_error(
            "pdf_font_missing",
            f"生成开标记录 PDF 所需的中文字体不存在：{path}（请安装 fonts-wqy-zenhei，或设置 PDF_CJK_FONT）",
            f"The CJK font needed for the opening record PDF is missing: {path} (install fonts-wqy-zenhei or set PDF_CJK_FONT)",
        )
    name = "CJK-" + hashlib.sha256(path.encode()).hexdigest()[:12]
    try:
        font = TTFont(name, path, subfontIndex=0)
    except (TTFError, OSError, ValueError) as error:
        raise _font_error(
            "pdf_font_invalid",
            f"中文字体无法嵌入 PDF（须为 TrueType 字体）：{path}",
            f"The CJK font cannot be embedded in a PDF (it must be TrueType): {path}: {error}",
        ) from None
    pdfmetrics.registerFont(font)
    return font


def missing_glyphs(font: TTFont, texts) -> list[str]:
    """Characters of `texts` the font has no glyph for (they would print as empty boxes or nothing)."""
    chars = {c for text in texts for c in text if not c.isspace()}
    return sorted(c for c in chars if font.face.charToGlyph.get(ord(c), 0) == 0)


def _font_for(font_path: str, texts) -> TTFont:
    """The font, refused if it lacks a glyph for any character of `texts`."""
    font = cjk_font(font_path)
    missing = missing_glyphs(font, texts)
    if missing:
        shown = "".join(missing[:20])
        raise _font_error(
            "pdf_glyph_missing",
            f"中文字体缺少以下字符的字形，文书无法完整显示：{shown}",
            f"The CJK font has no glyph for: {shown}; the document would not show them",
        )
    return font


def _build(heading: RecordHeading, font: TTFont, body, *, size: int, margin: float, subject: str, rest) -> bytes:
    """The shared frame of every document: A4, the centre as author, the title and the labelled lines in `body`
    style, then `rest` (flowables). Returns the PDF bytes."""
    title = ParagraphStyle("title", fontName=font.fontName, fontSize=size, leading=size * 1.4, alignment=1, wordWrap="CJK")
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=min(margin, 20 * mm),
        title=heading.title,
        author="公共资源交易中心",
        subject=subject,
    )
    story = [Paragraph(_escape(heading.title), title), Spacer(1, size * mm / 4)]
    story += [Paragraph(f"{_escape(label)}：{_escape(value)}", body) for label, value in heading.lines]
    document.build(story + rest)
    return buffer.getvalue()


def _style(name: str, font: TTFont, size: int, leading: int) -> ParagraphStyle:
    return ParagraphStyle(name, fontName=font.fontName, fontSize=size, leading=leading, wordWrap="CJK")


def letter_pdf(heading: RecordHeading, paragraphs: list[str], footer: list[str], *, font_path: str, subject: str) -> bytes:
    """A letter: a title, labelled lines, paragraphs and footer lines (the verification code). Returns the PDF."""
    font = _font_for(font_path, [heading.title, *(t for line in heading.lines for t in line), *paragraphs, *footer])
    body, small = _style("body", font, 11, 18), _style("small", font, 9, 13)
    rest = [Spacer(1, 6 * mm), *(Paragraph(_escape(text), body) for text in paragraphs), Spacer(1, 12 * mm)]
    rest += [Paragraph(_escape(line), small) for line in footer]
    return _build(heading, font, body, size=18, margin=25 * mm, subject=subject, rest=rest)


@dataclass(frozen=True)
class ReportSection:
    """One part of a long document (the evaluation report): a heading, paragraphs, and a table whose first row is
    the header; `new_page` starts it on a new page (the signature page)."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)
    new_page: bool = False


def report_pdf(
    heading: RecordHeading, sections: list[ReportSection], footer: list[str], *, font_path: str, subject: str
) -> bytes:
    """A report: a title, labelled lines, then each section (heading, paragraphs, table), then footer lines."""
    texts = [heading.title, *(t for line in heading.lines for t in line), *footer]
    for section in sections:
        texts += [section.title, *section.paragraphs, *(c for row in section.table for c in row)]
    font = _font_for(font_path, texts)
    body, cell, small = _style("body", font, 10, 15), _style("cell", font, 8, 11), _style("small", font, 8, 11)
    head = _style("head", font, 12, 18)
    rest = []
    for section in sections:
        rest += [PageBreak()] if section.new_page else [Spacer(1, 4 * mm)]
        rest += [Paragraph(_escape(section.title), head), *(Paragraph(_escape(text), body) for text in section.paragraphs)]
        if section.table:
            width = 180 * mm / max(len(row) for row in section.table)  # A4 less the margins, shared equally
            data = [[Paragraph(_escape(c), cell) for c in row] for row in section.table]
            table = Table(data, colWidths=[width] * len(data[0]), repeatRows=1)
            table.setStyle(
                TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)),
                        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ]
                )
            )
            rest += [Spacer(1, 2 * mm), table]
    rest += [Spacer(1, 8 * mm), *(Paragraph(_escape(line), small) for line in footer)]
    return _build(heading, font, body, size=16, margin=15 * mm, subject=subject, rest=rest)


def opening_record_pdf(heading: RecordHeading, rows: list[list[str]], footer: list[str], *, font_path: str) -> bytes:
    """The record: a heading, one table row per bid (COLUMNS), and footer lines. Returns the PDF bytes."""
    texts = [heading.title, *(t for line in heading.lines for t in line), *COLUMNS, *(c for row in rows for c in row), *footer]
    font = _font_for(font_path, texts)
    body, cell = _style("body", font, 10, 14), _style("cell", font, 9, 12)
    data = [[Paragraph(_escape(c), cell) for c in COLUMNS]]
    data += [[Paragraph(_escape(c), cell) for c in row] for row in rows]
    widths = [12 * mm, 48 * mm, 18 * mm, 30 * mm, 22 * mm, 20 * mm, 30 * mm]  # 180 mm: A4 less the margins
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    rest = [Spacer(1, 4 * mm), table, Spacer(1, 6 * mm), *(Paragraph(_escape(line), body) for line in footer)]
    return _build(heading, font, body, size=16, margin=15 * mm, subject="开标记录", rest=rest)


def _escape(text: str) -> str:
    """Paragraph text is a small markup language: a bidder's name must not be able to inject tags."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
