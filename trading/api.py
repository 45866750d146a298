"""API plumbing shared by every app: pagination, the error format, and the domain error."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils import translation
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100


class DomainError(Exception):
    """A refused action: HTTP status, machine-readable code, and the message in Chinese and English."""

    def __init__(self, code: str, zh: str, en: str, *, status_code: int = status.HTTP_409_CONFLICT, extra: dict | None = None):
        super().__init__(f"{code}: {en}")
        self.code = code
        self.zh = zh
        self.en = en
        self.status_code = status_code
        self.extra = extra or {}

    def as_dict(self) -> dict:
        detail = self.en if translation.get_language() == "en" else self.zh
        return {"code": self.code, "detail": detail, "message": {"zh-hans": self.zh, "en": self.en}, **self.extra}


_DRF_MESSAGES = {
    "not_authenticated": ("未登录或登录已失效", "Authentication credentials were not provided or are invalid."),
    "authentication_failed": ("身份认证失败", "Authentication failed."),
    "permission_denied": ("无权执行此操作", "You do not have permission to perform this action."),
    "csrf_failed": ("CSRF 校验失败，请刷新页面后重试", "CSRF check failed; reload the page and try again."),
    "not_found": ("对象不存在或无权查看", "Not found."),
    "method_not_allowed": ("不支持该请求方法", "Method not allowed."),
    "throttled": ("请求过于频繁，请稍后再试", "Too many requests; try again later."),
    "invalid": ("提交的数据无效", "The submitted data is invalid."),
    "parse_error": ("请求格式错误", "Malformed request."),
    "unsupported_media_type": ("不支持的媒体类型", "Unsupported media type."),
}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        code = "validation_error"
        zh, en = _DRF_MESSAGES["invalid"]
        body = {
            "code": code,
            "detail": en if translation.get_language() == "en" else zh,
            "message": {"zh-hans": zh, "en": en},
            "errors": response.data,
        }
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        if isinstance(exc, exceptions.NotAuthenticated):
            code = "not_authenticated"
        elif isinstance(exc, exceptions.PermissionDenied) and str(exc.detail).startswith("CSRF Failed"):
            code = "csrf_failed"
        zh, en = _DRF_MESSAGES.get(code, (str(exc.detail), str(exc.detail)))
        body = {"code": code, "detail": en if translation.get_language() == "en" else zh, "message": {"zh-hans": zh, "en": en}}
    response.data = body
    return response


def store_unavailable() -> DomainError:
    """The object store did not answer: the caller may simply try again (nothing was recorded)."""
    return DomainError(
        "store_unavailable", "文件存储暂时不可用，请稍后重试", "The object store is unavailable; try again", status_code=503
    )


def validated(serializer_class, request) -> dict:
    """The request body checked by `serializer_class`; a 400 with field errors otherwise."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
