"""Reading and checking an expert spreadsheet (CSV or XLSX). No writes here: experts.services.experts_import applies.

The format (columns, error codes) is described in docs/experts.md, "Pool".
Row numbers are the spreadsheet's: the header is row 1, the first expert row 2.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from email.utils import parseaddr

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from trading.codes import is_valid_credit_code

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20000

# header → field. 身份证号 is accepted and dropped: ID-card numbers are never stored, logged or echoed.
COLUMNS = {
    "专家编号": "number",
    "姓名": "name",
    "身份证号": None,
    "专业代码": "specialties",
    "职称": "title",
    "从业年限": "practice_years",
    "行政区划": "region_code",
    "工作单位": "employer_name",
    "单位统一社会信用代码": "employer_credit_code",
    "手机": "phone",
    "邮箱": "email",
}
REQUIRED_COLUMNS = ["专家编号", "姓名", "专业代码", "手机"]
TEMPLATE_HEADER = [h for h in COLUMNS if h != "身份证号"]
TEMPLATE_EXAMPLE = [
    "GX-0001",
    "张三",
    "A0101；B01",
    "高级工程师",
    "12",
    "450102",
    "某建筑设计研究院有限公司",
    "91450102000000001X",  # replaced by a valid code when the template is built
    "13800000000",
    "zhangsan@example.com",
]

SPECIALTY_SEPARATORS = re.compile(r"[；;,，、\s]+")
PHONE = re.compile(r"^1[3-9]\d{9}$")
REGION = re.compile(r"^\d{6}$")
NUMBER = re.compile(r"^[0-9A-Za-z_\-]{1,32}$")

# code → (zh, en)
MESSAGES = {
    "file_too_large": ("文件超过5 MB", "The file is larger than 5 MB"),
    "too_many_rows": (f"超过{MAX_ROWS}行，请分批导入", f"More than {MAX_ROWS} rows; split the file"),
    "unreadable_file": (
        "无法读取文件，请上传 CSV（UTF-8 或 GB18030）或 XLSX",
        "Unreadable file; upload CSV (UTF-8 or GB18030) or XLSX",
    ),
    "empty_file": ("文件中没有专家数据", "The file holds no experts"),
    "missing_column": ("缺少必需的列", "A required column is missing"),
    "duplicate_column": ("列名重复", "The column appears twice"),
    "required": ("必填项为空", "This value is required"),
    "too_long": ("内容过长", "The value is too long"),
    "invalid_number": (
        "专家编号只能包含字母、数字、- 和 _，最长32位",
        "The expert number may hold letters, digits, - and _, up to 32",
    ),
    "duplicate_number": ("专家编号在文件中重复", "The expert number appears twice in the file"),
    "unknown_specialty": ("专业代码不存在", "Unknown specialty code"),
    "invalid_practice_years": ("从业年限应为0至70之间的整数", "Years of practice must be a whole number from 0 to 70"),
    "invalid_region": ("行政区划代码应为6位数字", "The region code must be 6 digits"),
    "invalid_credit_code": (
        "统一社会信用代码无效（应为18位，校验位按 GB 32100-2015 计算）",
        "Invalid unified social credit code (18 characters, GB 32100-2015 check character)",
    ),
    "credit_code_required": ("填写了工作单位时须填写单位统一社会信用代码", "An employer needs its unified social credit code"),
    "invalid_phone": ("手机号码应为11位中国大陆手机号", "The mobile number must be an 11-digit mainland number"),
    "invalid_email": ("邮箱格式不正确", "Invalid e-mail address"),
    "account_username_taken": (
        "用户名 expert-<专家编号> 已被占用，无法为该专家建立账号",
        "The username expert-<number> is taken",
    ),
}

MAX_LENGTHS = {"name": 50, "title": 50, "employer_name": 200, "email": 254}


@dataclass
class RowError:
    row: int
    column: str
    code: str
    value: str | None = None

    def as_dict(self) -> dict:
        zh, en = MESSAGES[self.code]
        body = {"row": self.row, "column": self.column, "code": self.code, "zh": zh, "en": en}
        if self.value is not None:
            body["value"] = self.value
        return body


@dataclass
class ExpertRow:
    row: int
    number: str
    name: str
    specialties: list[str]
    title: str
    practice_years: int
    region_code: str
    employer_name: str
    employer_credit_code: str
    phone: str
    email: str


@dataclass
class Parsed:
    rows: list[ExpertRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    total: int = 0
    bad_rows: set[int] = field(default_factory=set)


class FileRejected(Exception):
    """The file as a whole could not be read: no row was checked."""

    def __init__(self, error: RowError):
        super().__init__(error.code)
        self.error = error


# --- Reading ----------------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK/GB2312, what Excel saves as "CSV" in China)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as error:
        raise FileRejected(RowError(0, "", "unreadable_file")) from error


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def read_table(filename: str, data: bytes) -> list[list[str]]:
    """All rows of the first sheet (XLSX) or of the CSV, as stripped strings."""
    if len(data) > MAX_BYTES:
        raise FileRejected(RowError(0, "", "file_too_large"))
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        return _read_xlsx(data)
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    return [[_cell(c) for c in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # zipfile.BadZipFile, KeyError, InvalidFileException…: all mean "not a workbook"
        raise FileRejected(RowError(0, "", "unreadable_file")) from error
    try:
        sheet = workbook.worksheets[0]
        rows = []
        for values in sheet.iter_rows(values_only=True):
            rows.append([_cell(v) for v in values])
            if len(rows) > MAX_ROWS + 1:
                break
        return rows
    finally:
        workbook.close()


# --- Checking ----------------------------------------------------------------------------------------


def _phone(raw: str) -> str:
    phone = re.sub(r"[\s\-()（）]", "", raw)
    if phone.startswith("+86"):
        phone = phone[3:]
    elif phone.startswith("0086"):
        phone = phone[4:]
    return phone


def parse(filename: str, data: bytes, *, known_specialties: set[str]) -> Parsed:
    """Every row checked; each problem reported once per cell. Raises FileRejected for a file-level problem."""
    table = read_table(filename, data)
    while table and not any(table[0]):
        table.pop(0)
    if not table:
        raise FileRejected(RowError(1, "", "empty_file"))
    header = [h.replace("*", "").strip() for h in table[0]]
    seen: dict[str, int] = {}
    for index, name in enumerate(header):
        if name in COLUMNS:
            if name in seen:
                raise FileRejected(RowError(1, name, "duplicate_column"))
            seen[name] = index
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            raise FileRejected(RowError(1, name, "missing_column"))
    body = [(n, row) for n, row in enumerate(table[1:], start=2) if any(row)]
    if not body:
        raise FileRejected(RowError(2, "", "empty_file"))
    if len(body) > MAX_ROWS:
        raise FileRejected(RowError(0, "", "too_many_rows"))

    parsed = Parsed(total=len(body))
    numbers: dict[str, int] = {}
    for n, row in body:
        values = {
            COLUMNS[name]: (row[index] if index < len(row) else "") for name, index in seen.items() if COLUMNS[name] is not None
        }
        errors = _check_row(n, values, known_specialties)
        number = values.get("number", "")
        if number and not any(e.column == "专家编号" for e in errors):
            if number in numbers:
                errors.append(RowError(n, "专家编号", "duplicate_number", number))
            else:
                numbers[number] = n
        if errors:
            parsed.errors.extend(errors)
            parsed.bad_rows.add(n)
            continue
        parsed.rows.append(
            ExpertRow(
                row=n,
                number=number,
                name=values["name"],
                specialties=sorted(set(SPECIALTY_SEPARATORS.split(values["specialties"])) - {""}),
                title=values.get("title", ""),
                practice_years=int(values.get("practice_years") or 0),
                region_code=values.get("region_code", ""),
                employer_name=values.get("employer_name", ""),
                employer_credit_code=values.get("employer_credit_code", "").upper(),
                phone=_phone(values["phone"]),
                email=values.get("email", ""),
            )
        )
    return parsed


def _check_row(n: int, values: dict[str, str], known_specialties: set[str]) -> list[RowError]:
    errors = []

    def bad(column: str, code: str, value: str | None = None) -> None:
        errors.append(RowError(n, column, code, value))

    header_of = {v: k for k, v in COLUMNS.items() if v}
    for name in REQUIRED_COLUMNS:
        if not values.get(COLUMNS[name], ""):
            bad(name, "required")
    for key, limit in MAX_LENGTHS.items():
        if len(values.get(key, "")) > limit:
            bad(header_of[key], "too_long")

    number = values.get("number", "")
    if number and not NUMBER.match(number):
        bad("专家编号", "invalid_number", number)

    if raw := values.get("specialties", ""):
        codes = [c.upper() for c in SPECIALTY_SEPARATORS.split(raw) if c]
        values["specialties"] = "；".join(codes)
        unknown = [c for c in codes if c not in known_specialties]
        if unknown:
            bad("专业代码", "unknown_specialty", "；".join(unknown))

    years = values.get("practice_years", "")
    if years and (not re.fullmatch(r"\d{1,2}", years) or int(years) > 70):
        bad("从业年限", "invalid_practice_years", years)

    if (region := values.get("region_code", "")) and not REGION.match(region):
        bad("行政区划", "invalid_region", region)

    credit = values.get("employer_credit_code", "").upper()
    if credit and not is_valid_credit_code(credit):
        bad("单位统一社会信用代码", "invalid_credit_code", credit)
    elif not credit and values.get("employer_name", ""):
        bad("单位统一社会信用代码", "credit_code_required")

    if (phone := values.get("phone", "")) and not PHONE.match(_phone(phone)):
        bad("手机", "invalid_phone", phone)

    if email := values.get("email", ""):
        try:
            validate_email(email)
            if parseaddr(email)[1] != email:
                raise ValidationError("display name")
        except ValidationError:
            bad("邮箱", "invalid_email", email)
    return errors


def template_csv(example_credit_code: str) -> bytes:
    """The import template: UTF-8 with BOM (so that Excel opens it as Unicode), the header and one example row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(TEMPLATE_HEADER)
    example = list(TEMPLATE_EXAMPLE)
    example[7] = example_credit_code
    writer.writerow(example)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
